"""The HTTP routes of authentication: the token endpoint and our public keys."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sales_graph.runtime import Runtime
from sales_graph.web.envelope import JSONResponse
from sales_graph.web.oauth import token_endpoint


async def jwks(request: Request) -> Response:
    """Public keys only. A short max-age: after ``keys rotate`` verifiers see the new key soon
    (and the old key stays in the set, so nothing breaks meanwhile)."""
    runtime: Runtime = request.app.state.runtime
    keys = runtime.tokens.keys
    keys.reload_if_changed()
    max_age = runtime.settings.auth.jwks_max_age_s
    return JSONResponse(keys.public_jwks(), headers={"Cache-Control": f"public, max-age={max_age}"})


def auth_routes() -> list[Route]:
    return [
        Route("/oauth/token", token_endpoint, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
