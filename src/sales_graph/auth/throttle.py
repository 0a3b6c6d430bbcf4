"""Failed authentications, counted per client address in a bucket of their own.

A failure is counted once the credential has been checked. When a key's bucket is full the
refusal is also kept in process until its window ends, so later attempts get their 429 before
any check: no signature verification, no database read, no scrypt. A flood of bad credentials
then costs a dictionary lookup per request, and the quota of everything else (the API, the
token endpoint, the JWKS) is untouched. See docs/limits.md.
"""

from __future__ import annotations

import hashlib

from starlette.types import Scope

from sales_graph.errors import RateLimitExceeded
from sales_graph.web.limiter import Bucket
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
