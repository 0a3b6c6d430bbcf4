"""What browsers need: CORS for the listed origins only, and security headers on everything.

The API answers JSON to programs, so the headers forbid what only harms here: sniffing a
response into another type, framing it, and leaking the URL in ``Referer``.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from sales_graph.errors import ValidationError
from sales_graph.settings import HTTPSettings
from sales_graph.web.asgi import HttpMiddleware
from sales_graph.web.envelope import error_response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-API-Key",
    "X-Request-ID",
    "X-Correlation-ID",
    "Idempotency-Key",
    "If-Match",
)
_EXPOSE_HEADERS = (
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "ETag",
    "Link",
)


class SecurityHeadersMiddleware(HttpMiddleware):
    """Outermost, so that even the 500 envelope carries the headers."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if "server" in headers:
                    del headers["server"]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _CORSMiddleware(CORSMiddleware):
    """Starlette's, with a refused preflight answered in the error envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode(errors="replace")
        error = ValidationError(
            "Cross-origin request not allowed",
            details={"cors": reason.removeprefix("Disallowed CORS ").split(", ")},
            headers={"Vary": response.headers.get("vary", "Origin")},
        )
        return error_response(error)


def cors_middleware(settings: HTTPSettings) -> Middleware:
    """Credentials (cookies, HTTP auth) only ever for origins listed by name, never for ``*``."""
    origins = list(settings.cors_origins)
    return Middleware(
        _CORSMiddleware,
        allow_origins=origins,
        allow_methods=("GET", "POST", "PUT", "PATCH", "DELETE"),
        allow_headers=_ALLOW_HEADERS,
        allow_credentials="*" not in origins,
        expose_headers=_EXPOSE_HEADERS,
        max_age=settings.cors_max_age_s,
    )
