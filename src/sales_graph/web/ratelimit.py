"""Rate limits on every request (the probes aside), with the ``X-RateLimit-*`` headers.

It runs after authentication: the key is the authenticated principal, and the client address
of the connection only for anonymous calls. Never a header: ``X-Forwarded-For`` and friends are
the client's to forge (uvicorn runs with ``proxy_headers=False`` so ``client`` is the peer).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_graph.errors import RateLimitExceeded
from sales_graph.limiter import Bucket, Decision, RateLimiter
from sales_graph.web.envelope import error_response

# Load balancers probe often and must always get an answer.
_EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
# Anonymous by design: the JWKS has its own bucket per address, so that neither other anonymous
# traffic nor failed authentications can use up its quota. The token endpoint counts itself,
# per address and client, once it has read which client is asking (web/throttle.py).
_OWN_BUCKETS = {"/.well-known/jwks.json": Bucket.JWKS}
_SELF_COUNTED = frozenset({"/oauth/token"})


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limit_key(scope: Scope) -> str:
    bucket = _OWN_BUCKETS.get(scope["path"])
    if bucket is not None:
        return f"{bucket}:{client_address(scope)}"
    principal = scope.get("state", {}).get("principal")
    if principal is not None:
        return f"principal:{principal.subject}"
    return f"address:{client_address(scope)}"


def rate_limiter(scope: Scope) -> RateLimiter | None:
    limiter: RateLimiter | None = scope["app"].state.runtime.rate_limiter
    return limiter


def verdict(decision: Decision) -> tuple[dict[str, str], RateLimitExceeded | None]:
    """The ``X-RateLimit-*`` headers of a decision, and the 429 error when it refuses."""
    headers = decision.headers()
    if decision.allowed:
        return headers, None
    return headers, RateLimitExceeded(
        details={"retry_after_s": decision.retry_after_s},
        headers={**headers, "Retry-After": str(decision.retry_after_s)},
    )


async def count(scope: Scope) -> tuple[dict[str, str], RateLimitExceeded | None]:
    """Counts this request against its key: the ``X-RateLimit-*`` headers, and the 429 error
    when it is over a limit. No headers when rate limiting is off or the path is exempt."""
    limiter: RateLimiter | None = None
    if scope["type"] == "http" and scope["path"] not in _EXEMPT_PATHS | _SELF_COUNTED:
        limiter = rate_limiter(scope)
    if limiter is None:
        return {}, None
    bucket = _OWN_BUCKETS.get(scope["path"], Bucket.API)
    return verdict(await limiter.hit(rate_limit_key(scope), bucket))


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers, refused = await count(scope)
        if refused is not None:
            await error_response(refused)(scope, receive, send)
            return
        if not headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
