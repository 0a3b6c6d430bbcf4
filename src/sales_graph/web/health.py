"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve: its database answers;
Redis or Kafka away makes it ``degraded``, not unready)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from sales_graph.errors import ServiceUnavailable
from sales_graph.logs import get_logger
from sales_graph.runtime import Runtime, kafka_reachable
from sales_graph.telemetry import metrics
from sales_graph.web.envelope import JSONResponse, error_response

_log = get_logger("sales_graph.health")
_TIMEOUT_S = 3.0


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# Without the database the gateway answers nothing: not ready. Without Redis it still serves
# (rate limits counted per process, caches bypassed: docs/limits.md), and without Kafka too (events
# wait in the outbox): degraded, still ready, so that a load balancer does not take every instance
# out of service at once while each still serves.
REQUIRED = frozenset({"database"})


def _checks(runtime: Runtime) -> dict[str, Callable[[], Awaitable[object]]]:
    checks: dict[str, Callable[[], Awaitable[object]]] = {"database": runtime.db.ping}
    if runtime.redis is not None:
        checks["redis"] = runtime.redis.ping
    if runtime.settings.kafka_bootstrap_servers:
        servers = runtime.settings.kafka_bootstrap_servers
        checks["kafka"] = lambda: kafka_reachable(servers, _TIMEOUT_S)
    return checks


async def _probe(name: str, check: Callable[[], Awaitable[object]]) -> dict[str, object]:
    begun = time.perf_counter()
    try:
        async with asyncio.timeout(_TIMEOUT_S):
            await check()
    except Exception as exc:
        _log.warning("health.check_failed", check=name, error=repr(exc))
        return {"status": "fail", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - begun) * 1000, 1)}


async def _finance_sync(runtime: Runtime) -> dict[str, str | None]:
    """When each kind of Finance sync last succeeded (docs/finance.md); informational: a run
    that fails is retried by the next slot, the gateway serves meanwhile."""
    from sales_graph.db.repositories import finance
    from sales_graph.services.finance_sync import KINDS

    try:
        async with asyncio.timeout(_TIMEOUT_S), runtime.db.session() as session:
            last = await finance.last_successes(session)
    except Exception as exc:
        _log.warning("health.finance_sync_unknown", error=repr(exc))
        return {}
    return {kind: last[kind].isoformat() if kind in last else None for kind in KINDS}


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    checks = _checks(runtime)
    results = await asyncio.gather(*(_probe(name, check) for name, check in checks.items()))
    report = dict(zip(checks, results, strict=True))
    for name, result in report.items():
        metrics.dependency_up(name, result["status"] == "ok")
    failing = sorted(name for name, result in report.items() if result["status"] != "ok")
    # An open breaker degrades the upstream fields, not the gateway: reported, not failing.
    upstreams = runtime.connectors.breaker_states() if runtime.connectors else {}
    required = [name for name in failing if name in REQUIRED]
    if required:
        error = ServiceUnavailable(
            f"Not ready: {', '.join(failing)}", details={"checks": report, "upstreams": upstreams}
        )
        return error_response(error)
    finance_sync = await _finance_sync(runtime)
    body: dict[str, object] = {
        "status": "degraded" if failing else "ok",
        "checks": report,
        "upstreams": upstreams,
        "finance_sync": finance_sync,
    }
    if failing:
        body["degraded"] = failing
    return JSONResponse(body)
