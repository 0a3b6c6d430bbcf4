"""The Starlette application factory. Its lifespan is the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from sales_graph.errors import SalesGraphError
from sales_graph.gctune import freeze_startup_heap
from sales_graph.logs import configure_logging, get_logger
from sales_graph.resolvers import build_schema
from sales_graph.rest import rest_routes
from sales_graph.runtime import Runtime, build_runtime, load_deal_model
from sales_graph.settings import Settings
from sales_graph.telemetry import multiproc, tracing
from sales_graph.telemetry.metrics import record as record_metrics
from sales_graph.web.auth_routes import auth_routes
from sales_graph.web.authentication import AuthenticationMiddleware
from sales_graph.web.body import RequestBodyLimits
from sales_graph.web.browser import SecurityHeadersMiddleware, cors_middleware
from sales_graph.web.envelope import handle_http_exception, handle_sales_graph_error
from sales_graph.web.graphiql import graphiql_routes
from sales_graph.web.graphql import GraphQLApp
from sales_graph.web.health import healthz, readyz
from sales_graph.web.metrics import MetricsEndpoint
from sales_graph.web.middleware import RequestContextMiddleware
from sales_graph.web.ratelimit import RateLimitMiddleware
from sales_graph.web.webhooks import webhook_routes
from sales_graph.worker.launch import start_in_process, start_live_feed

_log = get_logger("sales_graph.app")


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Starlette:
    """The gateway. Pass ``runtime`` to share clients the caller already built (the demo, tests)."""
    settings = settings or (runtime.settings if runtime else Settings())
    configure_logging(settings.log_level, json=settings.log_json)
    # On when OTEL_* asks for an exporter; this app then flushes and ends it at shutdown.
    owns_tracing = tracing.configure("sales-graph")
    record_metrics(settings.metrics.enabled)
    schema = build_schema(
        settings.graphql,
        introspection=not settings.is_production,
        resolver_spans=settings.tracing.resolvers,
    )
    graphql = GraphQLApp(
        schema,
        graphiql=not settings.is_production,
        connection_init_timeout_s=settings.subscriptions.connection_init_timeout_s,
        # A WebSocket message is bounded like a request body (docs/limits.md).
        max_message_bytes=settings.http.max_body_bytes,
        # A browser page on another origin opens the WebSocket only when CORS allows it.
        allowed_origins=settings.http.cors_origins,
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = runtime is None
        multiproc.forget_dead_processes()
        app.state.runtime = runtime or build_runtime(settings)
        await load_deal_model(app.state.runtime)
        events = None
        if owned and not settings.kafka_bootstrap_servers and settings.events.in_process:
            # The embedded footprint: the outbox feeds events.jsonl and the in-process bus.
            events = start_in_process(app.state.runtime)
            events.start()
        # With Kafka, this process reads the events its subscriptions answer (docs/real-time.md).
        feed = start_live_feed(app.state.runtime) if owned else None
        if owned and settings.gc_freeze:
            freeze_startup_heap()
        _log.info("app.started", env=settings.env.value, database=app.state.runtime.db.dialect)
        try:
            yield
        finally:
            if events is not None:
                await events.stop()
            if feed is not None:
                await feed.stop()
            if owned:
                await app.state.runtime.close()
            multiproc.process_exiting()
            _log.info("app.stopped")
            if owns_tracing:
                tracing.shutdown()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        # Subscriptions over graphql-transport-ws (docs/real-time.md).
        WebSocketRoute("/graphql", graphql),
        *auth_routes(),
        *webhook_routes(),
        *rest_routes(schema),
        *([] if settings.is_production else graphiql_routes()),
    ]
    app = Starlette(
        routes=routes,
        # Outermost first. Security headers wrap even the 500 envelope; CORS headers reach
        # 401/413/429 too; rate limits need the principal; body limits count as requests.
        middleware=[
            *tracing.server_middleware(),
            Middleware(SecurityHeadersMiddleware),
            Middleware(RequestContextMiddleware),
            # /metrics answers before authentication and rate limits (web/metrics.py).
            Middleware(MetricsEndpoint, settings=settings),
            cors_middleware(settings.http),
            Middleware(AuthenticationMiddleware),
            Middleware(RateLimitMiddleware),
            Middleware(RequestBodyLimits, max_body_bytes=settings.http.max_body_bytes),
        ],
        exception_handlers={
            HTTPException: handle_http_exception,
            SalesGraphError: handle_sales_graph_error,
        },
        lifespan=lifespan,
    )
    # Starlette would answer /graphql/ with a redirect to an absolute URL built from the Host
    # header (an open redirect, and a poisoned cache entry behind a shared cache): a 404 instead.
    app.router.redirect_slashes = False
    # What it was built with, for whoever serves it (tests/gateways.py: web/server.py's options).
    app.state.settings = settings
    return app
