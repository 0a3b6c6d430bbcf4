"""The real Prometheus and Jaeger of ``scripts/services``, for the tests that need them.

``prometheus`` and ``jaeger`` (session-scoped fixtures, registered for the whole suite by
``tests/conftest.py``) start their service on first use with ``scripts/services up <name>``:
idempotent, about a second when it already runs; the first run on a machine installs
Prometheus (apt) and builds Jaeger (Go), which takes minutes. A service that cannot be started
fails the test with the script's one-line reason.

- ``prometheus.add_target(job, address)`` has Prometheus scrape ``http://<address>/metrics``
  every second, its series labelled ``job=<job>`` (a file_sd file it watches); the targets a
  session added are removed at its end. ``await prometheus.wait_for_series(promql)`` polls an
  instant query until it returns series (and ``predicate`` accepts them).
- ``jaeger.otlp_traces_endpoint`` is where an OTLP/HTTP exporter sends spans;
  ``await jaeger.wait_for_trace(service, predicate)`` polls the query API until a trace of
  ``service`` that ``predicate`` accepts is stored.

The waits are async: a gateway served in the test's own event loop keeps answering scrapes
while a test waits.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.services import ServiceUrls

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "services"
# The first run installs Prometheus and builds Jaeger (20 minutes on two busy cores).
START_TIMEOUT = 2400.0

T = TypeVar("T")
Series = dict[str, Any]  # one element of an instant query's "result": {"metric": ..., "value": ...}
Trace = dict[str, Any]  # one element of /api/traces' "data": {"traceID", "spans", "processes"}


def _port(url: str) -> str:
    netloc = url if "://" not in url else urlsplit(url).netloc
    return netloc.rsplit(":", 1)[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_service(name: str, services: ServiceUrls, ports: dict[str, str], probe: str) -> None:
    """Run ``scripts/services up <name>`` unless ``probe`` already answers 200; fail the test
    with the script's reason when it cannot."""
    if _answers(probe):
        return
    env = {**os.environ, **dict(services.script_env), **ports}
    started = time.monotonic()
    try:
        run = subprocess.run(  # noqa: S603 (the repository's own script)
            [str(SCRIPT), "up", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{name}: `scripts/services up {name}` did not finish in {START_TIMEOUT:.0f}s",
            pytrace=False,
        )
    if run.returncode != 0:
        print(run.stderr)  # the whole output, shown with the failure
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("services: ")]
        reason = (errors or lines or [f"exit {run.returncode}"])[-1].removeprefix(
            "services: error: "
        )
        pytest.fail(f"{name} could not be started by scripts/services: {reason}", pytrace=False)
    print(f"{name}: started by scripts/services in {time.monotonic() - started:.1f}s")


async def _poll(
    what: str, attempt: Callable[[], Awaitable[T | None]], deadline: float, interval: float = 0.2
) -> T:
    """Await ``attempt()`` until it returns something other than None, for ``deadline`` seconds."""
    end = time.monotonic() + deadline
    last: Exception | None = None
    while True:
        try:
            result = await attempt()
        except httpx.HTTPError as exc:
            result, last = None, exc
        if result is not None:
            return result
        if time.monotonic() >= end:
            raise AssertionError(f"{what}: not there after {deadline:.0f}s (last error: {last!r})")
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------- Prometheus


@dataclass
class Prometheus:
    url: str
    targets_dir: Path
    added: set[str] = field(default_factory=set)

    def add_target(self, job: str, address: str) -> None:
        """Scrape ``http://<address>/metrics`` every second, as ``job`` (unique per test)."""
        if not job or "/" in job or job.startswith("."):
            raise ValueError(f"job {job!r} cannot name a file")
        entry = [{"targets": [address], "labels": {"job": job}}]
        path = self.targets_dir / f"{job}.json"
        temporary = path.with_name(f".{job}.json.tmp")  # not matched by *.json until renamed
        temporary.write_text(json.dumps(entry))
        temporary.replace(path)
        self.added.add(job)

    def remove_target(self, job: str) -> None:
        (self.targets_dir / f"{job}.json").unlink(missing_ok=True)
        self.added.discard(job)

    async def query(self, promql: str) -> list[Series]:
        """An instant query's result (a vector: one dict per series)."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.url}/api/v1/query", params={"query": promql})
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus rejected {promql!r}: {body}")
        result: list[Series] = body["data"]["result"]
        return result

    async def active_jobs(self) -> set[str]:
        """The ``job`` labels of the targets Prometheus scrapes now."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.url}/api/v1/targets", params={"state": "active"})
        targets = response.json()["data"]["activeTargets"]
        return {target["labels"]["job"] for target in targets}

    async def wait_for_series(
        self,
        promql: str,
        deadline: float = 30.0,
        predicate: Callable[[list[Series]], bool] = bool,
    ) -> list[Series]:
        """Poll ``promql`` for up to ``deadline`` seconds until its result is non-empty (and
        ``predicate`` accepts it); return that result."""

        async def attempt() -> list[Series] | None:
            series = await self.query(promql)
            return series if series and predicate(series) else None

        return await _poll(f"Prometheus series {promql!r}", attempt, deadline)

    def _cleanup(self) -> None:
        for job in list(self.added):
            self.remove_target(job)


def _file_sd_dir(url: str) -> Path:
    """The folder of the file_sd files the running Prometheus reads (its own config says)."""
    body = httpx.get(f"{url}/api/v1/status/config", timeout=5.0).json()
    config = yaml.safe_load(body["data"]["yaml"])
    for scrape in config.get("scrape_configs") or []:
        for sd in scrape.get("file_sd_configs") or []:
            for pattern in sd.get("files") or []:
                if pattern.endswith("/*.json"):
                    return Path(pattern).parent
    pytest.fail(
        f"the Prometheus at {url} reads no file_sd *.json folder: not the one of "
        "scripts/services (stop it, or set SALES_GRAPH_PROMETHEUS_PORT/_URL)",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def prometheus(services: ServiceUrls) -> Iterator[Prometheus]:
    url = services.prometheus.rstrip("/")
    start_service(
        "prometheus",
        services,
        {"SALES_GRAPH_PROMETHEUS_PORT": _port(url)},
        probe=f"{url}/-/ready",
    )
    backend = Prometheus(url=url, targets_dir=_file_sd_dir(url))
    yield backend
    backend._cleanup()


# ---------------------------------------------------------------------------- Jaeger


@dataclass(frozen=True)
class Jaeger:
    query_url: str
    otlp_url: str  # OTLP over HTTP
    otlp_grpc: str  # host:port of OTLP over gRPC

    @property
    def otlp_traces_endpoint(self) -> str:
        return f"{self.otlp_url}/v1/traces"

    async def services(self) -> list[str]:
        """The service names Jaeger has stored spans of."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.query_url}/api/services")
        response.raise_for_status()
        names: list[str] = response.json().get("data") or []
        return names

    async def traces(self, service: str, limit: int = 100) -> list[Trace]:
        """The stored traces with a span of ``service`` (none: an empty list)."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(
                f"{self.query_url}/api/traces", params={"service": service, "limit": limit}
            )
        if response.status_code == 404:  # a service Jaeger has not seen yet
            return []
        response.raise_for_status()
        data: list[Trace] = response.json().get("data") or []
        return data

    async def wait_for_trace(
        self,
        service: str,
        predicate: Callable[[Trace], bool] = lambda trace: True,
        deadline: float = 30.0,
    ) -> Trace:
        """Poll for up to ``deadline`` seconds until a trace of ``service`` that ``predicate``
        accepts is stored; return it."""

        async def attempt() -> Trace | None:
            return next((t for t in await self.traces(service) if predicate(t)), None)

        return await _poll(f"Jaeger trace of service {service!r}", attempt, deadline)


def span_tags(span: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes (Jaeger's ``tags``) as a dict."""
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


@pytest.fixture(scope="session")
def jaeger(services: ServiceUrls) -> Jaeger:
    query = services.jaeger_query.rstrip("/")
    start_service(
        "jaeger",
        services,
        {
            "SALES_GRAPH_JAEGER_QUERY_PORT": _port(query),
            "SALES_GRAPH_JAEGER_OTLP_HTTP_PORT": _port(services.jaeger_otlp),
            "SALES_GRAPH_JAEGER_OTLP_GRPC_PORT": _port(services.jaeger_otlp_grpc),
        },
        probe=f"{query}/api/services",
    )
    return Jaeger(
        query_url=query,
        otlp_url=services.jaeger_otlp.rstrip("/"),
        otlp_grpc=services.jaeger_otlp_grpc,
    )
