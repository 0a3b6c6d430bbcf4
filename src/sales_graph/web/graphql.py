"""``/graphql``: Strawberry's ASGI view with our context, unit of work and error envelope."""

from __future__ import annotations

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from sales_graph.errors import error_for_status
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.web.envelope import error_response


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
        await response(scope, receive, send)

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
