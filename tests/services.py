"""Where the real services of ``scripts/services`` are, and a clear failure when one is down."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class ServiceUrls:
    postgres: str
    redis: str
    kafka: str
    toxiproxy: str
    # Kafka's FAULTS listener, and the address it advertises (a toxiproxy proxy's listen).
    kafka_faults: str
    kafka_proxied: str
    # Started only by the tests that need them (tests/observability/backends.py).
    prometheus: str
    jaeger_query: str
    jaeger_otlp: str  # OTLP over HTTP (the traces endpoint is <this>/v1/traces)
    jaeger_otlp_grpc: str
    # The variables that configure scripts/services itself (its folder, ports, versions),
    # passed to it when a fixture starts a service.
    script_env: tuple[tuple[str, str], ...] = ()


_SCRIPT_VARIABLES = {"SALES_GRAPH_SERVICES_DIR", "SALES_GRAPH_SERVICES_TIMEOUT"}


def _pop(name: str, default: str) -> str:
    return os.environ.pop(name, None) or default


def read_service_urls() -> ServiceUrls:
    """Read (and remove, so that Settings() in tests sees a clean environment) the service URLs."""
    urls = ServiceUrls(
        postgres=_pop(
            "SALES_GRAPH_DATABASE_URL",
            "postgresql+asyncpg://sales_graph:sales_graph@127.0.0.1:5432/sales_graph",
        ),
        redis=_pop("SALES_GRAPH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        kafka=_pop("SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        toxiproxy=_pop("SALES_GRAPH_TOXIPROXY_URL", "http://127.0.0.1:8474"),
        kafka_faults=_pop("SALES_GRAPH_KAFKA_FAULTS", "127.0.0.1:9094"),
        kafka_proxied=_pop("SALES_GRAPH_KAFKA_PROXIED", "127.0.0.1:19094"),
        prometheus=_pop("SALES_GRAPH_PROMETHEUS_URL", "http://127.0.0.1:9090"),
        jaeger_query=_pop("SALES_GRAPH_JAEGER_QUERY_URL", "http://127.0.0.1:16686"),
        jaeger_otlp=_pop("SALES_GRAPH_JAEGER_OTLP_URL", "http://127.0.0.1:4318"),
        jaeger_otlp_grpc=_pop("SALES_GRAPH_JAEGER_OTLP_GRPC", "127.0.0.1:4317"),
        script_env=tuple(
            sorted(
                (name, value)
                for name, value in os.environ.items()
                if name in _SCRIPT_VARIABLES or name.endswith(("_PORT", "_VERSION"))
                if name.startswith("SALES_GRAPH_")
            )
        ),
    )
    for name in [n for n in os.environ if n.startswith("SALES_GRAPH_")]:
        del os.environ[name]
    return urls


def require_reachable(service: str, url: str) -> None:
    """Fail (not skip) the test with what to do when the service does not accept connections."""
    host_port = url if "://" not in url else urlsplit(url).netloc.rsplit("@", 1)[-1]
    host, _, port = host_port.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    pytest.fail(
        f"{service} is not reachable at {host}:{port} ({reason}). "
        "This test needs the real service: start it with `scripts/services up` "
        "(or run `make test`).",
        pytrace=False,
    )
