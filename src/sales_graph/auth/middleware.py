"""Authentication of every HTTP request: the principal lands in ``request.state.principal``."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from sales_graph.auth.principal import Principal
from sales_graph.auth.tokens import TokenIssuer
from sales_graph.errors import SalesGraphError, Unauthorized
from sales_graph.web.envelope import error_response


def principal_from_headers(headers: Headers, tokens: TokenIssuer) -> Principal | None:
    authorization = headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized(
            "Authorization must be 'Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    try:
        return tokens.verify(credentials.strip())
    except Unauthorized as exc:
        exc.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        raise


# Probes must answer whatever a load balancer sends along.
_UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/readyz"})


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNAUTHENTICATED_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            tokens: TokenIssuer = scope["app"].state.runtime.tokens
            principal = principal_from_headers(Headers(scope=scope), tokens)
        except SalesGraphError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
