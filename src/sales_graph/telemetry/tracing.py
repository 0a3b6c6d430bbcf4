"""Traces (OpenTelemetry), configured by the standard ``OTEL_*`` environment variables.

Off unless an exporter is asked for (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER``; ``OTEL_SDK_DISABLED=true``
wins): then no SDK provider exists, nothing is instrumented and every function here returns at
its first line. On, the process has one ``TracerProvider`` (a ``BatchSpanProcessor`` per
exporter, the sampler of ``OTEL_TRACES_SAMPLER``), kept here rather than as OpenTelemetry's
global (which can be set once per process): whoever installed it shuts it down, which flushes.

What is traced (docs/operations.md, "Traces"): HTTP server spans named by route template,
GraphQL operations (``schema/tracing.py``), SQL statements run under a span, outgoing httpx
calls (which send ``traceparent`` upstream), and Kafka produce and process spans whose context
travels in the outbox row and the message headers (W3C ``traceparent``, ``tracestate``).

This module imports nothing of sales_graph: the layers above call into it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine, event
from starlette.middleware import Middleware
from starlette.routing import Match, Mount
from starlette.types import Scope

# The headers that carry a trace's context (W3C Trace Context), in Kafka and upstream calls.
TRACE_HEADERS = ("traceparent", "tracestate")
# Probes are polled every few seconds: their spans would drown the rest.
UNTRACED_PATHS = "/healthz,/readyz"
# Longer statements are cut in db.query.text (a batch insert's VALUES list).
MAX_STATEMENT = 2000

_W3C = TraceContextTextMapPropagator()


@dataclass(frozen=True, slots=True)
class _Tracing:
    provider: TracerProvider
    tracer: Tracer


_state: _Tracing | None = None


def enabled() -> bool:
    return _state is not None


def tracer() -> Tracer | None:
    return _state.tracer if _state is not None else None


def exporters_from_env(environ: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """The exporters the environment asks for; none means tracing stays off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = ["otlp"] if endpoint else []
    return [exporter for name in names if (exporter := _exporter(name, env)) is not None]


def _exporter(name: str, env: Mapping[str, str]) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER: {name!r} is not one of otlp, console, none")
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads the endpoint (default http://localhost:4318/v1/traces), headers,
        # timeout and compression from the OTEL_EXPORTER_OTLP_* variables itself.
        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError as exc:
            raise ValueError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc"
            ) from exc
        exporter: SpanExporter = GrpcSpanExporter()
        return exporter
    raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not http/protobuf or grpc")


def configure(
    default_service_name: str, *, processors: Sequence[SpanProcessor] | None = None
) -> bool:
    """Installs tracing when the environment asks for it, or with ``processors`` (tests).

    True when this call installed it: the caller then calls :func:`shutdown` when it stops.
    False when it stays off, or was installed before (by a test, or the gateway of a process
    that also runs the worker): its owner shuts it down.
    """
    global _state
    if _state is not None:
        return False
    if processors is None:
        processors = [BatchSpanProcessor(e) for e in exporters_from_env()]
        if not processors:
            return False
    # The sampler of OTEL_TRACES_SAMPLER(_ARG): parent-based, always on by default.
    provider = TracerProvider(resource=service_resource(default_service_name))
    for processor in processors:
        provider.add_span_processor(processor)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    # Every httpx transport (the connectors' clients): a client span, traceparent sent upstream.
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _state = _Tracing(provider, provider.get_tracer("sales_graph"))
    return True


def service_resource(default_service_name: str) -> Resource:
    """The process's resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the
    default name (``sales-graph``, ``sales-graph-worker``)."""
    return Resource.create({SERVICE_NAME: default_service_name}).merge(
        OTELResourceDetector().detect()
    )


def shutdown() -> None:
    """Flushes the spans still buffered and turns tracing off."""
    global _state
    state, _state = _state, None
    if state is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    state.provider.shutdown()


def force_flush() -> None:
    if _state is not None:
        _state.provider.force_flush()


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int | bool] | None = None,
) -> Iterator[Span | None]:
    """A span around the block, current inside it; None (and no cost) when tracing is off."""
    if _state is None:
        yield None
        return
    with _state.tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current


def mark_failed(description: str) -> None:
    """Marks the current span as failed (an error that was handled, not raised through it)."""
    if _state is not None:
        trace.get_current_span().set_status(Status(StatusCode.ERROR, description[:500]))


def current_traceparent() -> str | None:
    """The current span's W3C ``traceparent``, stored with an outbox row; None when off."""
    if _state is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


# HTTP ------------------------------------------------------------------------------------------


def server_middleware() -> list[Middleware]:
    """The outermost middleware of the gateway: a server span per request (none when off)."""
    if _state is None:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return [
        Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=_state.provider,
            default_span_details=route_span_details,
            excluded_urls=os.environ.get("OTEL_PYTHON_ASGI_EXCLUDED_URLS", UNTRACED_PATHS),
            # No span per ASGI message (each body chunk would be one).
            exclude_spans=["receive", "send"],
            server_request_hook=scrub_request_attributes,
        )
    ]


# The attributes in which the ASGI instrumentation writes the path or the query string, in the
# old and the new HTTP semantic conventions.
_PATH_ATTRIBUTES = ("http.target", "url.path")
_URL_ATTRIBUTES = ("http.url", "url.full")
_QUERY_ATTRIBUTES = ("url.query",)


def scrub_request_attributes(span: Span, scope: Scope) -> None:
    """No raw path and no query string in a server span: a path holds ids, and a query string
    emails, search terms, or a whole GraphQL document with its literals and variables (a GET
    /graphql). The route template takes their place (``unmatched`` for an unknown path)."""
    if not span.is_recording():
        return
    route = _route_template(scope, getattr(scope.get("app"), "routes", ()), "") or "unmatched"
    found = getattr(span, "attributes", None) or {}
    for key in _PATH_ATTRIBUTES:
        if key in found:
            span.set_attribute(key, route)
    for key in _URL_ATTRIBUTES:
        if isinstance(url := found.get(key), str):
            parts = urlsplit(url)
            span.set_attribute(key, urlunsplit((parts.scheme, parts.netloc, route, "", "")))
    for key in _QUERY_ATTRIBUTES:
        if key in found:
            span.set_attribute(key, "")


def route_span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """``GET /api/v1/leads/{lead_id}``: the route template, never the path with its ids."""
    method = str(scope.get("method", "HTTP"))
    route = _route_template(scope, getattr(scope.get("app"), "routes", ()), "")
    if route is None:
        return method, {}
    return f"{method} {route}", {"http.route": route}


def _route_template(scope: Scope, routes: Sequence[Any], prefix: str) -> str | None:
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            inner = _route_template({**scope, **child}, route.routes, prefix + route.path)
            return inner or prefix + route.path
        if match is Match.FULL:
            return prefix + str(route.path)
        partial = partial or prefix + str(route.path)  # the path matched, not the method
    return partial


# SQL -------------------------------------------------------------------------------------------

_SPAN_KEY = "_sales_graph_span"


def instrument_engine(engine: Engine) -> None:
    """A client span per statement that runs under a span (a request's, a consumer's). The
    relay's polls and other work outside a trace make none."""
    if _state is None:
        return
    url = engine.url
    system = engine.dialect.name
    static: dict[str, str | int] = {"db.system.name": system, "db.namespace": url.database or ""}
    if url.host:
        static["server.address"] = url.host
    if url.port:
        static["server.port"] = url.port

    def started(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        state = _state
        if state is None or context is None:
            return
        if not trace.get_current_span().get_span_context().is_valid:
            return
        words = statement.lstrip().split(None, 1)
        operation = words[0].upper() if words else "SQL"
        attributes = {
            **static,
            "db.operation.name": operation,
            "db.query.text": statement[:MAX_STATEMENT],
        }
        setattr(
            context,
            _SPAN_KEY,
            state.tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes),
        )

    def ended(_conn: Any, _cursor: Any, _stmt: str, _params: Any, context: Any, _m: bool) -> None:
        current: Span | None = getattr(context, _SPAN_KEY, None)
        if current is not None:
            setattr(context, _SPAN_KEY, None)
            current.end()

    def failed(exception_context: Any) -> None:
        current: Span | None = getattr(exception_context.execution_context, _SPAN_KEY, None)
        if current is not None:
            setattr(exception_context.execution_context, _SPAN_KEY, None)
            error = exception_context.original_exception
            current.set_attribute("error.type", type(error).__qualname__)
            current.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            current.end()

    event.listen(engine, "before_cursor_execute", started)
    event.listen(engine, "after_cursor_execute", ended)
    event.listen(engine, "handle_error", failed)


# Messaging -------------------------------------------------------------------------------------


def _messaging(
    system: str, operation: str, destination: str, **more: str | int | None
) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": system,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": destination,
    }
    attributes.update({k: v for k, v in more.items() if v is not None})
    return attributes


def _parent(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    carrier = {
        name: value.decode("latin-1")
        for name, value in headers or ()
        if name in TRACE_HEADERS and value is not None
    }
    return _W3C.extract(carrier) if carrier else None


class MessageSend:
    """One message's produce span, from before the send to the broker's acknowledgement."""

    __slots__ = ("_span", "_traceparent")

    def __init__(self, span: Span | None, traceparent: str | None) -> None:
        self._span = span
        self._traceparent = traceparent

    def headers(self) -> list[tuple[str, bytes]]:
        """``traceparent`` (and ``tracestate``) of the produce span; with tracing off, the
        stored ``traceparent`` as it is, so that the trace goes on past an untraced relay."""
        if self._span is None:
            return [("traceparent", self._traceparent.encode())] if self._traceparent else []
        carrier: dict[str, str] = {}
        _W3C.inject(carrier, context=trace.set_span_in_context(self._span))
        return [(name, value.encode()) for name, value in carrier.items()]

    def delivered(self, partition: int | None = None, offset: int | None = None) -> None:
        if self._span is not None:
            if partition is not None:
                self._span.set_attribute("messaging.destination.partition.id", str(partition))
            if offset is not None:
                self._span.set_attribute("messaging.kafka.offset", offset)
            self._span.end()

    def failed(self, error: BaseException | str) -> None:
        if self._span is not None:
            if isinstance(error, BaseException):
                self._span.set_attribute("error.type", type(error).__qualname__)
            self._span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            self._span.end()


def sending(
    destination: str,
    *,
    traceparent: str | None,
    key: str | None = None,
    message_id: str | None = None,
    system: str = "kafka",
) -> MessageSend:
    """A produce span ``send <destination>``, a child of the context stored with the message
    (the request that recorded the event) when there is one."""
    if _state is None:
        return MessageSend(None, traceparent)
    parent = _W3C.extract({"traceparent": traceparent}) if traceparent else None
    attributes = _messaging(
        system,
        "send",
        destination,
        **{"messaging.message.id": message_id, "messaging.kafka.message.key": key},
    )
    started = _state.tracer.start_span(
        f"send {destination}", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
    )
    return MessageSend(started, traceparent)


@contextmanager
def processing(
    destination: str,
    headers: Sequence[tuple[str, bytes]] | None,
    *,
    system: str = "kafka",
    consumer_group: str | None = None,
    message_id: str | None = None,
    message_id_header: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Iterator[Span | None]:
    """A consumer span ``process <destination>`` around a message's handling, continuing the
    trace of its headers' ``traceparent`` (a new trace without one). The message id is
    ``message_id`` or the value of the header ``message_id_header``."""
    if _state is None:
        yield None
        return
    if message_id is None and message_id_header is not None:
        found = [v for k, v in headers or () if k == message_id_header and v is not None]
        message_id = found[0].decode(errors="replace") if found else None
    attributes = _messaging(
        system,
        "process",
        destination,
        **{
            "messaging.consumer.group.name": consumer_group,
            "messaging.message.id": message_id,
            "messaging.destination.partition.id": None if partition is None else str(partition),
            "messaging.kafka.offset": offset,
        },
    )
    with _state.tracer.start_as_current_span(
        f"process {destination}",
        context=_parent(headers) or Context(),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as current:
        yield current


@contextmanager
def processing_batch(
    destination: str,
    headers: Sequence[Sequence[tuple[str, bytes]] | None],
    *,
    consumer_group: str | None = None,
    partition: int | None = None,
) -> Iterator[Span | None]:
    """One consumer span for a batch handled in one transaction, linked to each message's
    trace (a span has one parent)."""
    if _state is None:
        yield None
        return
    links = []
    for message_headers in headers:
        parent = _parent(message_headers)
        if parent is not None:
            context = trace.get_current_span(parent).get_span_context()
            if context.is_valid:
                links.append(Link(context))
    attributes = _messaging(
        "kafka",
        "process",
        destination,
        **{
            "messaging.consumer.group.name": consumer_group,
            "messaging.batch.message_count": len(headers),
            "messaging.destination.partition.id": None if partition is None else str(partition),
        },
    )
    with _state.tracer.start_as_current_span(
        f"process {destination}",
        context=Context(),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        links=links,
    ) as current:
        yield current
