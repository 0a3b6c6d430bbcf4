"""``/graphql``: Strawberry's ASGI view with our context, unit of work and error envelope.

Media types per GraphQL over HTTP: a client that prefers ``application/graphql-response+json``
gets it, and a request that fails before execution (parse, validation, variable coercion,
limits) is then a 400; with ``application/json`` (the default) such a failure stays a 200. In
both, a result that failed before execution has no ``data`` entry (GraphQL spec, "Response").
A GET without a query from a browser (``Accept`` names ``text/html``) gets the GraphiQL page of
``web/graphiql.py`` outside production; any other GET without a query is a 400.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from graphql import OperationType
from sales_graph.errors import error_for_status
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.schema.live import Connection
from sales_graph.web.envelope import error_response
from sales_graph.web.graphiql import page as graphiql_page
from sales_graph.web.live import operation_type
from sales_graph.web.media import media_type
from sales_graph.web.metrics import observe_operation
from sales_graph.web.params import malformed
from sales_graph.web.sse import serve_event_stream, wants_event_stream
from sales_graph.web.websocket import MESSAGE_TOO_BIG, LiveTransportWSHandler, too_big

GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"


def _qualities(accept: str | None) -> dict[str, float]:
    """The media ranges of an Accept header with their q values, lower case."""
    quality: dict[str, float] = {}
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    return quality


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether ``application/graphql-response+json`` is acceptable and not less preferred than
    ``application/json``; no Accept header or ``*/*`` means ``application/json``."""
    quality = _qualities(accept)
    wanted = quality.get("application/graphql-response+json", 0.0)
    return wanted > 0 and wanted >= quality.get("application/json", 0.0)


def asks_for_html(accept: str | None) -> bool:
    """A browser opening the page: ``text/html`` named and acceptable. ``*/*`` alone (curl, a
    program) is not enough: such a GET is an operation, a 400 without a query."""
    return _qualities(accept).get("text/html", 0.0) > 0


class _RequestAdapter(StarletteRequestAdapter):
    @property
    def content_type(self) -> str | None:
        # Strawberry compares media types as written; RFC 9110 says case-insensitively.
        return media_type(super().content_type) or None


async def _event_stream_body(request: Request) -> dict[str, Any] | None:
    """The body of a POST asking for an event stream that is answered with one: a well-formed
    request (``web/params.py``) whose operation is not a query or a mutation. That is a
    subscription, or a document whose operation cannot be told (a syntax error, an unknown
    ``operationName``), whose errors then come in the stream as validation errors do (GraphQL
    over SSE). None for anything else, which is answered as any other POST: a query or a
    mutation in JSON, a malformed request with a 400 and the error envelope."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not body.get("query") or malformed(body):
        return None  # no query (a 400, as for any POST) or malformed parameters
    kind = operation_type(body["query"], body.get("operationName"))
    return body if kind in (None, OperationType.SUBSCRIPTION) else None


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


class _TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames (the protocol refuses binary ones from a
    client with 4400, and browser clients such as graphql-ws parse text only); the view's JSON
    encoder gives bytes, which Strawberry would send as binary frames.

    A message larger than the view's ``max_message_bytes`` (a request body's limit) closes the
    socket with 1009 before it is decoded, whatever the server: uvicorn as ``sales-graph serve``
    runs it refuses such a message itself (``web/server.py``), but a server run otherwise may
    hand it over."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        # Strawberry's, with the size checked before the text is decoded.
        assert isinstance(self.view, GraphQLApp)
        limit = self.view.max_message_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if too_big(text, limit):
                    reason = f"Message too big: more than {limit} bytes"
                    await self.ws.close(MESSAGE_TOO_BIG, reason)
                    return
                try:
                    yield self.view.decode_json(text)
                except orjson.JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:
            # Starlette's receive_text of a binary frame.
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Any) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApp(GraphQL[Context | Connection, None]):
    """Strawberry's view; with ``graphiql=True`` a browser's GET without a query gets our
    GraphiQL page (``web/graphiql.py``); without (production) it is a GET without a query
    like any other: a 400. Subscriptions run over graphql-transport-ws (``web/websocket.py``)
    and over SSE (``web/sse.py``)."""

    request_adapter_class = _RequestAdapter
    websocket_adapter_class = _TextFrames
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        graphiql: bool,
        connection_init_timeout_s: float = 10.0,
        max_message_bytes: int = 1024 * 1024,
        **options: Any,
    ) -> None:
        # The largest WebSocket message taken (SALES_GRAPH_HTTP__MAX_BODY_BYTES in create_app).
        self.max_message_bytes = max_message_bytes
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=connection_init_timeout_s),
            # Counted by the subscriptions themselves (SUBSCRIPTIONS__MAX_PER_CONNECTION).
            max_subscriptions_per_connection=None,
            **options,
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and request.query_params.get("query") is None
            and asks_for_html(request.headers.get("accept"))
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()

    def decode_json(self, data: str | bytes) -> object:
        # orjson: faster, and too deep a nesting is a JSONDecodeError (400), not a RecursionError.
        return orjson.loads(data)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        body_type, _ = parse_content_type(request.content_type or "")
        params: object = None
        if request.method == "GET":
            params = self.parse_query_params(request.query_params)
        elif request.method == "POST" and "application/json" in body_type:
            params = self.parse_json(await request.get_body())
            # Strawberry reads any JSON body as an object (or a batch): "x", 1, null would be
            # a 500.
            if not isinstance(params, dict | list):
                raise HTTPException(400, "The request body must be a JSON object")
        # The parameters' types, as SSE and WebSocket check them (web/params.py).
        if isinstance(params, dict) and (reason := malformed(params)):
            raise HTTPException(400, reason)
        return await super().parse_http_body(request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # RFC 9110 section 9.3.2: HEAD is GET without the content; Strawberry knows GET.
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        request = Request(scope=scope, receive=receive)
        if wants_event_stream(request) and (body := await _event_stream_body(request)):
            await serve_event_stream(self.schema, request, body, send)
            return
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.session() as session:
            request.state.session = session
            try:
                response = await self.run(request)
            except HTTPException as exc:
                # Failures of the HTTP request itself (not of the operation) get the envelope.
                error = error_for_status(exc.status_code, exc.reason)
                response = error_response(error)
            else:
                if getattr(request.state, "unavailable", False):
                    # Nothing ran because the database is away: a retryable 503, whatever the
                    # media type, as the authentication step answers it.
                    response.status_code = 503
                    response.headers["Retry-After"] = "1"
                if prefers_graphql_response(request.headers.get("accept")):
                    response.headers["content-type"] = GRAPHQL_RESPONSE
                    if response.status_code == 200 and getattr(
                        request.state, "failed_before_execution", False
                    ):
                        response.status_code = 400
        await response(scope, receive, send)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context | Connection,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        began = time.perf_counter()
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        elapsed = time.perf_counter() - began
        observe_operation(request_data.query, request_data.operation_name, result, elapsed)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        # Set on every request: a state shared by requests (asgi-lifespan's) keeps no stale flag.
        request.state.failed_before_execution = request.state.unavailable = False
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # No field ran: parse, validation or variable errors, a limit, no credentials, or
            # the database away before the operation's first statement.
            processed.pop("data", None)
            request.state.failed_before_execution = True
            request.state.unavailable = any(
                (e.extensions or {}).get("code") == "SERVICE_UNAVAILABLE" for e in result.errors
            )
        return processed

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context | Connection:
        if isinstance(request, WebSocket):
            # Authenticated at connection_init (web/websocket.py).
            return Connection(runtime=request.app.state.runtime, request=request)
        assert isinstance(request, Request)
        assert isinstance(response, Response)
        return Context(
            request=request,
            response=response,
            runtime=request.app.state.runtime,
            session=request.state.session,
            principal=request.state.principal,
        )
