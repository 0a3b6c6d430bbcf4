"""Authentication of every HTTP request: the principal lands in ``request.state.principal``.

The rules are in ``auth.authenticator``; this only applies them and renders a failure.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from sales_graph.auth.authenticator import Authenticator
from sales_graph.errors import SalesGraphError, Unauthorized
from sales_graph.web.asgi import HttpMiddleware
from sales_graph.web.envelope import error_response
from sales_graph.web.ratelimit import count
from sales_graph.web.throttle import api_failure_key, failed

# Probes must answer whatever a load balancer sends along; the token endpoint authenticates
# clients itself (HTTP Basic), and the public keys are public.
_UNAUTHENTICATED_PATHS = frozenset(
    {"/healthz", "/readyz", "/oauth/token", "/.well-known/jwks.json"}
)


class AuthenticationMiddleware(HttpMiddleware):
    def passes(self, scope: Scope) -> bool:
        return scope["path"] in _UNAUTHENTICATED_PATHS

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        failure_key = api_failure_key(scope)
        # Credentials are always checked: valid ones pass whatever others sent from the same
        # address (a NAT, a load balancer); only failures count, and past the limit a failure
        # is answered 429 instead of 401.
        try:
            authenticator: Authenticator = scope["app"].state.runtime.authenticator
            principal = await authenticator.authenticate(headers)
        except SalesGraphError as exc:
            # Failed authentications have their own bucket (auth.throttle); other failures
            # (an identity provider that does not answer) count as an anonymous call.
            counted = failed(scope, failure_key) if isinstance(exc, Unauthorized) else count(scope)
            rate_headers, over = await counted
            error = over or exc
            if over is None:
                error.headers = {**exc.headers, **rate_headers}
            await error_response(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
