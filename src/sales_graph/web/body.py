"""What a request body may be: at most ``max_body_bytes``, and JSON when posted to /graphql.

The size is enforced while the body streams in, so a missing or lying ``Content-Length``
does not get a larger body through; a declared length over the limit is refused before
anything is read. /graphql takes only ``application/json`` posts: form and multipart bodies
are what a cross-site HTML form can send without a CORS preflight.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_graph.errors import (
    PayloadTooLarge,
    SalesGraphError,
    UnsupportedMediaType,
    ValidationError,
)
from sales_graph.web.envelope import error_response
from sales_graph.web.media import JSON, encodings, media_type, single

_JSON_ONLY_PATHS = frozenset({"/graphql"})


class RequestBodyLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"Request body larger than {self.max_body_bytes} bytes",
            details={"max_bytes": self.max_body_bytes},
        )

    def _refusal(self, scope: Scope) -> SalesGraphError | None:
        headers = Headers(scope=scope)
        if scope["method"] == "POST" and scope["path"] in _JSON_ONLY_PATHS:
            try:
                found = media_type(single(headers, "Content-Type"))
            except ValidationError as exc:
                return exc
            if found != JSON:
                return UnsupportedMediaType(
                    "POST /graphql takes application/json",
                    details={"content_type": found[:100], "supported": [JSON]},
                    headers={"Accept": JSON, "Accept-Post": JSON},
                )
            if codings := encodings(headers):
                return UnsupportedMediaType(
                    "The request body must not be encoded",
                    details={"content_encoding": sorted(codings)[:5]},
                    headers={"Accept-Encoding": "identity"},
                )
        declared = headers.get("content-length", "")
        # isdigit alone takes "²", which int() refuses.
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if refusal := self._refusal(scope):
            await error_response(refusal)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except PayloadTooLarge as exc:
            # Usually rendered by the app's handler already; this covers code that reads the
            # body outside it (another middleware, a mounted app).
            if started:
                raise
            await error_response(exc)(scope, receive, send)
