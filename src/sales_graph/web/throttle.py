"""Failed authentications, counted in buckets of their own; and the token endpoint's requests.

Credentials are always checked, so valid ones pass whatever others sent from the same address;
a failure is counted once the credential has been checked, and past its bucket's limit the
failure is answered 429 instead of 401. Bearer tokens and API keys count per client address;
wrong secrets at the token endpoint per address and client, and a client whose bucket is full
is refused before its secret is hashed (the refusal is kept in process until its window ends).
Requests to the token endpoint have their own bucket per address and client, so one client's
flood (right or wrong) leaves the others alone. See docs/limits.md.
"""

from __future__ import annotations

import hashlib

from starlette.types import Scope

from sales_graph.errors import RateLimitExceeded
from sales_graph.limiter import Bucket
from sales_graph.web.ratelimit import client_address, rate_limiter, verdict


def api_failure_key(scope: Scope) -> str:
    """Bearer tokens and API keys sent from one address."""
    return f"{Bucket.AUTH_FAILURE}:{client_address(scope)}"


def client_failure_key(scope: Scope, client_id: str) -> str:
    """One OAuth client's secret tried from one address: guessing one client's secret does not
    stop the other clients behind that address from getting tokens."""
    # The id is the caller's text; a digest keeps the store's key short and plain.
    digest = hashlib.sha256(client_id.encode("utf-8", "replace")).hexdigest()[:32]
    return f"{api_failure_key(scope)}:client:{digest}"


def token_request_key(scope: Scope, client_id: str | None) -> str:
    """Requests to the token endpoint, per address and client: one client's requests (right or
    wrong) never use up the quota of another client behind the same address."""
    digest = hashlib.sha256((client_id or "").encode("utf-8", "replace")).hexdigest()[:32]
    return f"{Bucket.OAUTH}:{client_address(scope)}:{digest if client_id else '-'}"


async def token_request(scope: Scope, client_id: str | None) -> dict[str, str]:
    """Counts a token request: its ``X-RateLimit-*`` headers; the 429 when over the limit."""
    limiter = rate_limiter(scope)
    if limiter is None:
        return {}
    headers, over = verdict(await limiter.hit(token_request_key(scope, client_id), Bucket.OAUTH))
    if over is not None:
        raise over
    return headers


def refused(scope: Scope, key: str) -> RateLimitExceeded | None:
    """The 429 of a key that went over its limit, while it lasts; no I/O."""
    limiter = rate_limiter(scope)
    decision = limiter.refusal(key) if limiter is not None else None
    return verdict(decision)[1] if decision is not None else None


async def failed(scope: Scope, key: str) -> tuple[dict[str, str], RateLimitExceeded | None]:
    """Counts a failed authentication: the bucket's ``X-RateLimit-*`` headers, and the 429
    that replaces the 401 once the key is over its limit."""
    limiter = rate_limiter(scope)
    if limiter is None:
        return {}, None
    decision = await limiter.hit(key, Bucket.AUTH_FAILURE)
    if not decision.allowed or decision.remaining == 0:
        limiter.remember(key, decision)
    return verdict(decision)
