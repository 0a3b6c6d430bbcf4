"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from sales_graph.errors import ServiceUnavailable
from sales_graph.logs import get_logger
from sales_graph.runtime import Runtime, kafka_reachable
from sales_graph.web.envelope import JSONResponse, error_response

_log = get_logger("sales_graph.health")
_TIMEOUT_S = 3.0


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


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


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    checks = _checks(runtime)
    results = await asyncio.gather(*(_probe(name, check) for name, check in checks.items()))
    report = dict(zip(checks, results, strict=True))
    failing = sorted(name for name, result in report.items() if result["status"] != "ok")
    # An open breaker degrades the upstream fields, not the gateway: reported, not failing.
    upstreams = runtime.connectors.breaker_states() if runtime.connectors else {}
    if failing:
        error = ServiceUnavailable(
            f"Not ready: {', '.join(failing)}", details={"checks": report, "upstreams": upstreams}
        )
        return error_response(error)
    return JSONResponse({"status": "ok", "checks": report, "upstreams": upstreams})
