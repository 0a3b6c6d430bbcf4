"""Authentication of every HTTP request: the principal lands in ``request.state.principal``.

The rules are in ``auth.authenticator``; this only applies them and renders a failure.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from sales_graph.auth.authenticator import Authenticator
from sales_graph.errors import SalesGraphError
from sales_graph.web.envelope import error_response
from sales_graph.web.ratelimit import count

# Probes must answer whatever a load balancer sends along; the token endpoint authenticates
# clients itself (HTTP Basic), and the public keys are public.
_UNAUTHENTICATED_PATHS = frozenset(
    {"/healthz", "/readyz", "/oauth/token", "/.well-known/jwks.json"}
)


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNAUTHENTICATED_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            authenticator: Authenticator = scope["app"].state.runtime.authenticator
            principal = await authenticator.authenticate(Headers(scope=scope))
        except SalesGraphError as exc:
            # A failed attempt counts like an anonymous call (by client address), so guessing
            # keys is rate limited too; the 401 carries the X-RateLimit-* headers.
            headers, refused = await count(scope)
            error = refused or exc
            if refused is None:
                error.headers = {**exc.headers, **headers}
            await error_response(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
