"""``/graphql``: Strawberry's ASGI view with our context, unit of work and error envelope.

Media types per GraphQL over HTTP: a client that prefers ``application/graphql-response+json``
gets it, and a request that fails before execution (parse, validation, variable coercion,
limits) is then a 400; with ``application/json`` (the default) such a failure stays a 200. In
both, a result that failed before execution has no ``data`` entry (GraphQL spec, "Response").
"""

from __future__ import annotations

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from sales_graph.errors import error_for_status
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.web.envelope import error_response

GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether ``application/graphql-response+json`` is acceptable and not less preferred than
    ``application/json``; no Accept header or ``*/*`` means ``application/json``."""
    if not accept:
        return False
    quality: dict[str, float] = {}
    for item in accept.split(","):
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
    wanted = quality.get("application/graphql-response+json", 0.0)
    return wanted > 0 and wanted >= quality.get("application/json", 0.0)


class GraphQLApp(GraphQL[Context, None]):
    def decode_json(self, data: str | bytes) -> object:
        # orjson: faster, and too deep a nesting is a JSONDecodeError (400), not a RecursionError.
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
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
                if prefers_graphql_response(request.headers.get("accept")):
                    response.headers["content-type"] = GRAPHQL_RESPONSE
                    if response.status_code == 200 and getattr(
                        request.state, "failed_before_execution", False
                    ):
                        response.status_code = 400
        await response(scope, receive, send)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # No field ran: parse, validation or variable errors, a limit, no credentials.
            processed.pop("data", None)
            request.state.failed_before_execution = True
        return processed

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)
        assert isinstance(response, Response)
        return Context(
            request=request,
            response=response,
            runtime=request.app.state.runtime,
            session=request.state.session,
            principal=request.state.principal,
        )
