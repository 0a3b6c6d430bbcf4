"""The outbox: rows written with their change, claimed and marked by the relay.

Several relays share the rows: each claims a batch ``FOR UPDATE SKIP LOCKED`` and leaves out
the rows of an aggregate that has an earlier unpublished row it does not hold, so that one
aggregate's events are never published out of order (docs/events.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, bindparam, cast, delete, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import InboxEvent, OutboxEvent
from sales_graph.db.types import UTCDateTime
from sales_graph.timeutil import utcnow

NOTIFY_CHANNEL = "sales_graph_outbox"


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def add(session: AsyncSession, row: OutboxEvent) -> None:
    session.add(row)
    if _dialect(session) == "postgresql":
        # Delivered at commit (and dropped on rollback): wakes the relays at once.
        await session.exec(text(f"NOTIFY {NOTIFY_CHANNEL}"))  # type: ignore[call-overload]


async def add_all(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """A batch's rows (their columns), in their order, in one statement with one notification."""
    if not rows:
        return
    connection = await session.connection()
    await connection.execute(insert(OutboxEvent), list(rows))
    if _dialect(session) == "postgresql":
        await session.exec(text(f"NOTIFY {NOTIFY_CHANNEL}"))  # type: ignore[call-overload]


def _pending() -> list[ColumnElement[bool]]:
    return [col(OutboxEvent.published_at).is_(None), col(OutboxEvent.parked_at).is_(None)]


@dataclass(frozen=True, slots=True)
class Pending:
    """A claimed row, as the relay needs it: the envelope as stored JSON text, not decoded."""

    id: int
    event_id: str
    event_type: str
    topic: str
    key: str
    correlation_id: str | None
    attempts: int
    value: bytes
    traceparent: str | None = None

    def envelope(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.value)
        return decoded


async def claim(session: AsyncSession, limit: int, now: datetime) -> list[Pending]:
    """The oldest unpublished rows this relay may publish now, locked for its transaction."""
    envelope = col(OutboxEvent.envelope)
    query = (
        sa_select(  # more columns than sqlmodel's typed select takes
            col(OutboxEvent.id),
            col(OutboxEvent.event_id),
            col(OutboxEvent.event_type),
            col(OutboxEvent.topic),
            col(OutboxEvent.key),
            envelope["correlation_id"].as_string(),
            col(OutboxEvent.attempts),
            cast(envelope, Text),
            col(OutboxEvent.traceparent),
        )
        .where(*_pending())
        .where(
            (col(OutboxEvent.next_attempt_at).is_(None)) | (col(OutboxEvent.next_attempt_at) <= now)
        )
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxEvent)  # SQLite has one writer: no locks
    )
    result = await session.exec(query)  # type: ignore[call-overload]
    rows = [
        Pending(i, str(e), t, topic, k, c, a, v.encode(), tp)
        for i, e, t, topic, k, c, a, v, tp in result
    ]
    if not rows or _dialect(session) != "postgresql":
        return rows
    # An earlier row of the same aggregate held by another relay (or waiting for a retry)
    # must go first: leave that aggregate's rows for later.
    ours = [r.id for r in rows]
    blocked_query = (
        select(OutboxEvent.key)
        .where(*_pending())
        .where(col(OutboxEvent.key).in_({r.key for r in rows}))
        .where(col(OutboxEvent.id) < max(ours))
        .where(col(OutboxEvent.id).not_in(ours))
        .distinct()
    )
    blocked = set((await session.exec(blocked_query)).all())
    return [r for r in rows if r.key not in blocked]


async def mark_published(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    if ids:
        await session.exec(
            update(OutboxEvent).where(col(OutboxEvent.id).in_(ids)).values(published_at=now)
        )


# Transient failures count up to here: with the default backoff (0.5 s doubling) the wait has
# reached its 30 s ceiling by then.
TRANSIENT_ATTEMPTS = 7


async def mark_failed(
    session: AsyncSession,
    ids: Sequence[int],
    error: str,
    *,
    now: datetime,
    retry_at: datetime,
    max_attempts: int,
    transient: bool = False,
) -> None:
    """Counts a failed attempt; a row that reached ``max_attempts`` is parked with its error.
    A transient failure (the broker away) counts only up to ``TRANSIENT_ATTEMPTS`` (enough for
    the longest backoff) and never parks: an outage of any length leaves a row as many
    refusals from parking as an outage of a minute."""
    if not ids:
        return
    rows = (await session.exec(select(OutboxEvent).where(col(OutboxEvent.id).in_(ids)))).all()
    for row in rows:
        row.attempts = min(row.attempts + 1, TRANSIENT_ATTEMPTS) if transient else row.attempts + 1
        row.last_error = error[:4000]
        row.next_attempt_at = retry_at
        if not transient and row.attempts >= max_attempts:
            row.parked_at = now
        session.add(row)
    await session.flush()


async def unpublished_count(session: AsyncSession) -> int:
    query = select(func.count()).select_from(OutboxEvent).where(*_pending())
    return int((await session.exec(query)).one())


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the relays have yet to do: pending rows, the oldest one's creation, parked rows."""

    pending: int
    oldest_pending_at: datetime | None
    parked: int


async def backlog(session: AsyncSession) -> Backlog:
    pending = sa_select(func.count(), func.min(col(OutboxEvent.created_at))).where(*_pending())
    count, oldest = (await session.exec(pending)).one()  # type: ignore[call-overload]
    parked_rows = (
        select(func.count())
        .select_from(OutboxEvent)
        .where(col(OutboxEvent.parked_at).is_not(None))
        .where(col(OutboxEvent.published_at).is_(None))
    )
    return Backlog(int(count), oldest, int((await session.exec(parked_rows)).one()))


async def parked(session: AsyncSession, limit: int = 100) -> list[OutboxEvent]:
    query = (
        select(OutboxEvent)
        .where(col(OutboxEvent.parked_at).is_not(None))
        .where(col(OutboxEvent.published_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def unpark(session: AsyncSession, ids: Sequence[int]) -> int:
    """Puts parked rows back in line (after the cause was fixed)."""
    result = await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(ids))
        .where(col(OutboxEvent.published_at).is_(None))
        .values(parked_at=None, attempts=0, next_attempt_at=None)
    )
    return int(result.rowcount)


async def by_event_id(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent | None:
    query = select(OutboxEvent).where(col(OutboxEvent.event_id) == event_id)
    return (await session.exec(query)).first()


async def remember_processed(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Records that ``consumer`` processed ``event_id`` in the caller's transaction.

    False when it was processed before (the caller then skips the effect). The row is
    inserted first, so two deliveries racing each other meet on the primary key.
    """
    existing = await session.get(InboxEvent, (consumer, event_id))
    if existing is not None:
        return False
    session.add(InboxEvent(consumer=consumer, event_id=event_id))
    await session.flush()
    return True


async def remember_processed_all(
    session: AsyncSession, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """:func:`remember_processed` for a batch's distinct event ids in one statement: the ones
    not processed before (whose rows it inserted)."""
    if not event_ids:
        return set()
    now = utcnow()
    if _dialect(session) == "postgresql":
        params = {"consumer": consumer, "ids": list(event_ids), "now": now}
        inserted = await session.exec(_REMEMBER_ALL, params=params)  # type: ignore[call-overload]
        return {event_id for (event_id,) in inserted}
    statement = (
        sqlite_insert(InboxEvent)
        .values([{"consumer": consumer, "event_id": e, "processed_at": now} for e in event_ids])
        .on_conflict_do_nothing()
        .returning(col(InboxEvent.event_id))
    )
    return set((await session.exec(statement)).scalars())


# One statement whatever the batch's size: the ids as one array parameter.
_REMEMBER_ALL = text(
    "INSERT INTO inbox (consumer, event_id, processed_at)"
    " SELECT :consumer, e, :now FROM unnest(CAST(:ids AS text[])) AS e"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(bindparam("now", type_=UTCDateTime()))


async def forget_processed(session: AsyncSession, consumer: str, event_ids: Sequence[str]) -> None:
    """Takes back inbox rows of the caller's transaction (events of a batch left out)."""
    if event_ids:
        await session.exec(
            delete(InboxEvent)
            .where(col(InboxEvent.consumer) == consumer)
            .where(col(InboxEvent.event_id).in_(event_ids))
        )
