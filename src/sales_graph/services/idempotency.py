"""Idempotency keys: reserve a key in the request's unit of work, store its answer, replay it.

The key is per holder (who sent it, with the authority they had) and kept 24 hours. It is
reserved and its answer stored in the request's own unit of work, so the effect and the record
commit together or not at all; a second request with the key while the first is running waits
on the key's row and is a 409. Expired keys are deleted by the first keyed request of each
``purge_every`` (per process). The rows are read and written by ``db/repositories/idempotency.py``;
the HTTP side (the header, the fingerprint, the replayed response) is ``rest/idempotency.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import IdempotencyKey
from sales_graph.db.repositories import idempotency as key_repo
from sales_graph.errors import Conflict, IdempotencyKeyReused
from sales_graph.timeutil import utcnow

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's use of a key: whose it is, the key, and the request's fingerprint."""

    holder: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


class IdempotencyKeys:
    """The keys of one app; also purges the expired ones, at most once per ``purge_every``."""

    def __init__(self, purge_every: timedelta = timedelta(minutes=1)) -> None:
        self.purge_every = purge_every
        self._next_purge = datetime.min.replace(tzinfo=UTC)

    async def replay_or_reserve(
        self, session: AsyncSession, claim: Claim, *, method: str, path: str
    ) -> StoredAnswer | None:
        """The stored answer of ``claim``'s key, or None once the key is reserved for this."""
        now = utcnow()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every
            await key_repo.purge_expired(session, now)
        row = await key_repo.get(session, claim.holder, claim.key)
        if row is not None and row.expires_at <= now:
            await key_repo.discard(session, row)
            row = None
        if row is None:
            reserved = IdempotencyKey(
                principal=claim.holder,
                key=claim.key,
                method=method,
                path=path[:2000],
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
        return StoredAnswer(
            row.response_status, row.response_body or b"", row.response_headers or {}
        )

    async def store(self, session: AsyncSession, claim: Claim, answer: StoredAnswer) -> None:
        row = await key_repo.get(session, claim.holder, claim.key)
        assert row is not None
        await key_repo.finish(
            session, row, status=answer.status, body=answer.body, headers=answer.headers
        )


def _in_flight(claim: Claim) -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still in progress",
        details={"idempotency_key": claim.key},
    )
