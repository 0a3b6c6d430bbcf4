"""``Idempotency-Key`` on POST (IETF draft): the same key and request answer the stored response.

The key is per principal and kept 24 hours. It is reserved and its response stored in the
request's own unit of work, so the effect and the record commit together or not at all; a
second request with the key while the first is running waits on the key's row and is a 409.
Expired keys are deleted by the first keyed request of each minute (per process). The rows
are read and written by ``db/repositories/idempotency.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sales_graph.auth.principal import Principal
from sales_graph.db.models import IdempotencyKey
from sales_graph.db.repositories import idempotency as key_repo
from sales_graph.errors import Conflict, IdempotencyKeyReused
from sales_graph.rest.shapes import RestInput
from sales_graph.timeutil import utcnow

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
_REPLAYED_HEADERS = ("etag", "location")


@dataclass(frozen=True, slots=True)
class Claim:
    principal: str
    key: str
    request_hash: str


def claim_of(request: Request, inputs: RestInput) -> Claim | None:
    """The key of a POST, when it has one (its spelling is checked with the request)."""
    key = request.headers.get(HEADER)
    principal = getattr(request.state, "principal", None)
    if key is None or principal is None:
        return None
    fingerprint = b"\n".join(
        [
            request.method.encode(),
            request.url.path.encode(),
            orjson.dumps(dict(inputs.query), option=orjson.OPT_SORT_KEYS),
            orjson.dumps(dict(inputs.body), option=orjson.OPT_SORT_KEYS),
        ]
    )
    return Claim(_holder(principal), key, hashlib.sha256(fingerprint).hexdigest())


def _holder(principal: Principal) -> str:
    """Whose key it is: the principal with the authority it had (role, client, key, scopes).
    A stored answer replays only to the same authority: not to a client of the user holding
    other scopes, nor after the role changed (the request then runs, and is checked, anew)."""
    authority = "|".join(
        [
            principal.role.value if principal.role else "",
            principal.client_id or "",
            principal.api_key_prefix or "",
            " ".join(sorted(principal.scopes)) if principal.scoped else "*",
        ]
    )
    digest = hashlib.sha256(authority.encode()).hexdigest()[:16]
    return f"{principal.subject[:180]}#{digest}"


class IdempotencyKeys:
    """The keys of one app; also purges the expired ones, at most once per ``purge_every``."""

    def __init__(self, purge_every: timedelta = timedelta(minutes=1)) -> None:
        self.purge_every = purge_every
        self._next_purge = datetime.min.replace(tzinfo=UTC)

    async def replay_or_reserve(
        self, session: AsyncSession, claim: Claim, request: Request
    ) -> Response | None:
        """The stored response of ``claim``'s key, or None once the key is reserved for this."""
        now = utcnow()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every
            await key_repo.purge_expired(session, now)
        row = await key_repo.get(session, claim.principal, claim.key)
        if row is not None and row.expires_at <= now:
            await key_repo.discard(session, row)
            row = None
        if row is None:
            reserved = IdempotencyKey(
                principal=claim.principal,
                key=claim.key,
                method=request.method,
                path=request.url.path[:2000],
                request_hash=claim.request_hash,
                state="in_flight",
                expires_at=now + KEPT_FOR,
            )
            if not await key_repo.reserve(session, reserved):
                raise _in_flight(claim)
            return None
        if row.request_hash != claim.request_hash:
            raise IdempotencyKeyReused(details={"idempotency_key": claim.key})
        if row.state != "done" or row.response_status is None:
            raise _in_flight(claim)
        headers = {**(row.response_headers or {}), "Idempotent-Replayed": "true"}
        return Response(
            row.response_body, row.response_status, headers=headers, media_type="application/json"
        )

    async def store(self, session: AsyncSession, claim: Claim, response: Response) -> None:
        row = await key_repo.get(session, claim.principal, claim.key)
        assert row is not None
        await key_repo.finish(
            session,
            row,
            status=response.status_code,
            body=bytes(response.body),
            headers={
                name: response.headers[name]
                for name in _REPLAYED_HEADERS
                if name in response.headers
            },
        )


def _in_flight(claim: Claim) -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still in progress",
        details={"idempotency_key": claim.key},
    )
