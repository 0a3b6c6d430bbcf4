"""``/metrics`` and what the HTTP surfaces report (``telemetry/metrics.py`` keeps the values).

Who may scrape (docs/operations.md, "Metrics"): with ``SALES_GRAPH_METRICS__PORT`` set, only
that port serves /metrics and the main listener answers 404; with a token set, every listener
asks for it (401 otherwise); in production, the main listener serves /metrics only with a token.
The endpoint answers before authentication and rate limiting: a scrape is not an API call.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.types import ExecutionResult

from graphql import GraphQLError, OperationDefinitionNode, get_operation_ast, parse
from sales_graph.errors import MethodNotAllowed, NotFound, Unauthorized
from sales_graph.settings import MetricsSettings, Settings
from sales_graph.telemetry import metrics
from sales_graph.web.asgi import HttpMiddleware
from sales_graph.web.envelope import error_response

PATH = "/metrics"
_BEARER = 'Bearer realm="metrics"'


async def _exposition(_request: Request) -> Response:
    body, content_type = metrics.exposition()
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


# Also what the HTTP metrics name a scrape by (the middleware answers before the router).
METRICS_ROUTE = Route(PATH, _exposition, methods=["GET"])


def _authorized(headers: Headers, token: str) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def _answer(settings: MetricsSettings, scope: Scope, receive: Receive, send: Send) -> None:
    """A scrape on a listener that serves /metrics: the token, the method, the text."""
    scope["route"] = METRICS_ROUTE
    token = settings.token.get_secret_value() if settings.token is not None else None
    if token is not None and not _authorized(Headers(scope=scope), token):
        refusal = Unauthorized("A metrics token is required", headers={"WWW-Authenticate": _BEARER})
        await error_response(refusal)(scope, receive, send)
        return
    if scope["method"] not in ("GET", "HEAD"):
        not_allowed = MethodNotAllowed(headers={"Allow": "GET, HEAD"})
        await error_response(not_allowed)(scope, receive, send)
        return
    response = await _exposition(Request(scope))
    await response(scope, receive, send)


def served_on_main_listener(settings: Settings) -> bool:
    """Whether the gateway's own listener answers /metrics (else 404 there)."""
    metrics_settings = settings.metrics
    if not metrics_settings.enabled or metrics_settings.port is not None:
        return False
    return metrics_settings.token is not None or not settings.is_production


class MetricsEndpoint(HttpMiddleware):
    """/metrics on the main listener, before authentication and rate limits."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.settings = settings.metrics
        self.served = served_on_main_listener(settings)
        metrics.configure_operation_names(self.settings.graphql_operation_names)

    def passes(self, scope: Scope) -> bool:
        return bool(scope["path"] != PATH)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.served:
            scope["route"] = METRICS_ROUTE
            await error_response(NotFound("No such resource"))(scope, receive, send)
            return
        await _answer(self.settings, scope, receive, send)


def metrics_app(settings: MetricsSettings) -> ASGIApp:
    """The app of a metrics port: /metrics (with the token when one is set), else 404."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != PATH:
            await error_response(NotFound("No such resource"))(scope, receive, send)
            return
        await _answer(settings, scope, receive, send)

    return app


@contextmanager
def metrics_port(settings: MetricsSettings, port: int) -> Iterator[int]:
    """Serves :func:`metrics_app` on ``settings.host``:``port`` in a thread (0: any free port)
    while the block runs; yields the port bound. A thread, not a task: uvicorn's server in
    the main thread would take over the process's signal handlers."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            metrics_app(settings),
            host=settings.host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
        )
    )
    thread = threading.Thread(target=server.run, name="metrics-port", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the metrics port {settings.host}:{port} could not be served")
        if time.monotonic() > deadline:
            raise RuntimeError("the metrics port did not start in 30 s")
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (or would have: a request refused before the
    router, say with 401 or 429, is matched here); ``unmatched`` for an unknown path."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        router = getattr(app, "router", None)
        for candidate in getattr(router, "routes", ()):
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else metrics.UNMATCHED_ROUTE


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    if not metrics.recording():
        return
    metrics.http_request(route_template(scope), scope["method"], status, seconds)


_MAX_DESCRIBED_TEXT = 20_000
_MAX_NAME = 64
_DESCRIBED_KEPT = 1024
# By the text's hash and length, not the text: keeping the texts would hold megabytes.
_described: OrderedDict[tuple[int, int, str | None], tuple[str | None, str]] = OrderedDict()


def _parsed(text: str, name: str | None) -> tuple[str | None, str]:
    try:
        document = parse(text, no_location=True, max_tokens=10_000)
    except GraphQLError:
        return name, "unknown"
    operation = get_operation_ast(document, name)
    if not isinstance(operation, OperationDefinitionNode):
        return name, "unknown"
    named = operation.name.value if operation.name is not None else None
    return named, operation.operation.value


def describe_operation(text: str | None, name: str | None) -> tuple[str | None, str]:
    """The operation a document runs (its name, or the one asked for) and its type, or
    ``unknown``; documents repeat, so the answer is kept for the latest thousand texts."""
    if not text or len(text) > _MAX_DESCRIBED_TEXT or (name and len(name) > _MAX_NAME):
        return name, "unknown"
    key = (hash(text), len(text), name)
    found = _described.get(key)
    if found is None:
        found = _described[key] = _parsed(text, name)
        if len(_described) > _DESCRIBED_KEPT:
            _described.popitem(last=False)
    return found


def observe_operation(
    text: str | None, name: str | None, result: ExecutionResult, seconds: float
) -> None:
    """One operation run on /graphql (REST routes' operations are counted by their route)."""
    if not metrics.recording():
        return
    operation, kind = describe_operation(text, name)
    codes = [
        str(code) if (code := (error.extensions or {}).get("code")) is not None else None
        for error in result.errors or ()
    ]
    metrics.graphql_operation(operation, kind, seconds, codes, ran=result.data is not None)


__all__ = [
    "METRICS_ROUTE",
    "MetricsEndpoint",
    "metrics_app",
    "metrics_port",
    "observe_operation",
    "observe_request",
    "route_template",
]
