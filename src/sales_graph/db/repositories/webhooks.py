"""Partners' webhook endpoints and the deliveries of events to them (docs/real-time.md).

Every read a partner makes names its owner, the partner client's row id (``api_clients.id``):
an endpoint or a delivery of another client is not found. The dispatchers claim due deliveries
``FOR UPDATE SKIP LOCKED`` and leave out a delivery whose endpoint has an earlier pending one of
the same ordering key (the event's topic and aggregate) that they do not hold, as the outbox
relays do, so one aggregate's events reach an endpoint in order. A claimed delivery is leased
(not due again for a while) and the claim commits before anything is sent: no transaction is
held open while a partner answers.

A deleted endpoint (``deleted_at`` set) keeps its row and its deliveries, but no read here finds
it or them, the fan-out and the claim leave it out, and its pending deliveries are cancelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Text,
    Uuid,
    any_,
    bindparam,
    func,
    literal,
    text,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import ApiClient, WebhookDelivery, WebhookEndpoint
from sales_graph.db.types import UTCDateTime

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
# A delivery that was pending when its endpoint was deleted: never sent.
CANCELLED = "cancelled"


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# --- endpoints ---------------------------------------------------------------------------------


def _live() -> Any:
    """Endpoints not deleted."""
    return col(WebhookEndpoint.deleted_at).is_(None)


async def add_endpoint(session: AsyncSession, row: WebhookEndpoint) -> WebhookEndpoint:
    session.add(row)
    await session.flush()
    return row


async def endpoints_of(session: AsyncSession, owner: uuid.UUID) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.client_id) == owner)
        .where(_live())
        .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
    )
    return list((await session.exec(query)).all())


async def count_endpoints(session: AsyncSession, owner: uuid.UUID) -> int:
    query = (
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(col(WebhookEndpoint.client_id) == owner)
        .where(_live())
    )
    return int((await session.exec(query)).one())


async def endpoint_of(
    session: AsyncSession, owner: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint | None:
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint_id)
        .where(col(WebhookEndpoint.client_id) == owner)
        .where(_live())
    )
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def subscribed(
    session: AsyncSession, event_type: str
) -> list[tuple[WebhookEndpoint, ApiClient]]:
    """The enabled endpoints (not deleted) of clients not revoked that asked for ``event_type``,
    with their clients (whose scopes decide whether they may still receive it)."""
    query = (
        select(WebhookEndpoint, ApiClient)
        .join(ApiClient, col(ApiClient.id) == col(WebhookEndpoint.client_id))
        .where(col(WebhookEndpoint.enabled).is_(True))
        .where(_live())
        .where(col(ApiClient.revoked_at).is_(None))
        .order_by(col(WebhookEndpoint.id))
    )
    rows = (await session.exec(query)).all()
    return [(e, c) for e, c in rows if event_type in e.event_types]


async def disable(
    session: AsyncSession, endpoint_id: uuid.UUID, now: datetime, reason: str
) -> WebhookEndpoint | None:
    """Disables an enabled endpoint; None when it was not enabled (another dispatcher did) or
    was deleted meanwhile (its client deleted it while its last attempt was in flight)."""
    row = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if row is None or not row.enabled or row.deleted_at is not None:
        return None
    row.enabled = False
    row.disabled_at = now
    row.disabled_reason = reason[:500]
    row.updated_at = now
    row.version += 1
    session.add(row)
    await session.flush()
    return row


async def delete(session: AsyncSession, row: WebhookEndpoint, now: datetime) -> int:
    """Marks an endpoint (locked by the caller) deleted and cancels its pending deliveries, in
    flight ones too (their outcome is then not recorded: :func:`mark_delivered` and
    :func:`mark_failed` change pending rows only). The number cancelled."""
    row.deleted_at = now
    row.updated_at = now
    row.version += 1
    session.add(row)
    await session.flush()
    result = await session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == row.id)
        .where(col(WebhookDelivery.status) == PENDING)
        .values(status=CANCELLED)
    )
    return int(result.rowcount)


# --- deliveries --------------------------------------------------------------------------------


# Rows per INSERT: 9 columns each, well under PostgreSQL's 32,767 parameters.
INSERT_CHUNK = 1000


_ADD_DELIVERIES = text(
    "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, ordering_key, envelope,"
    " status, attempts, next_attempt_at, created_at)"
    " SELECT v.endpoint_id, v.event_id, v.event_type, v.ordering_key, CAST(v.envelope AS jsonb),"
    " :status, 0, :now, :now"
    " FROM unnest(CAST(:endpoint_ids AS uuid[]), CAST(:event_ids AS uuid[]),"
    " CAST(:event_types AS text[]), CAST(:keys AS text[]), CAST(:envelopes AS text[]))"
    " WITH ORDINALITY AS v(endpoint_id, event_id, event_type, ordering_key, envelope, n)"
    " ORDER BY v.n"
    " ON CONFLICT (endpoint_id, event_id) WHERE replay_of IS NULL DO NOTHING"
    " RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime()))


async def add_deliveries(session: AsyncSession, now: datetime, rows: Sequence[NewDelivery]) -> int:
    """Inserts pending deliveries due ``now``, numbered in the order given; one already there
    for its endpoint and event is skipped. The number inserted. On PostgreSQL one statement
    whose parameters are arrays (``INSERT ... SELECT FROM unnest``: no statement to build per
    row); elsewhere a multi-row INSERT per ``INSERT_CHUNK`` rows."""
    if not rows:
        return 0
    if _dialect(session) == "postgresql":
        params = {
            "status": PENDING,
            "now": now,
            "endpoint_ids": [r.endpoint_id for r in rows],
            "event_ids": [r.event_id for r in rows],
            "event_types": [r.event_type for r in rows],
            "keys": [r.ordering_key for r in rows],
            "envelopes": [_json_text(r.envelope) for r in rows],
        }
        inserted = len(list(await session.exec(_ADD_DELIVERIES, params=params)))  # type: ignore[call-overload]
        if inserted:
            await _notify(session)
        return inserted
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        values = [
            {
                "endpoint_id": r.endpoint_id,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "ordering_key": r.ordering_key,
                "envelope": r.envelope,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for r in rows[start : start + INSERT_CHUNK]
        ]
        statement = (
            sqlite_insert(WebhookDelivery)
            .values(values)
            .on_conflict_do_nothing(
                index_elements=["endpoint_id", "event_id"],
                index_where=col(WebhookDelivery.replay_of).is_(None),
            )
            .returning(col(WebhookDelivery.id))
        )
        inserted += len(list((await session.exec(statement)).scalars()))
    return inserted


def _json_text(document: dict[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS).decode()


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to record: an event for an endpoint."""

    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    ordering_key: str
    envelope: dict[str, Any]


async def add_delivery(session: AsyncSession, row: WebhookDelivery) -> WebhookDelivery:
    session.add(row)
    await session.flush()
    if _dialect(session) == "postgresql":
        await _notify(session)
    return row


# The dispatchers LISTEN on it: new deliveries wake them at their commit (worker/listen.py).
NOTIFY_CHANNEL = "sales_graph_webhooks"


async def _notify(session: AsyncSession) -> None:
    await session.exec(text(f"NOTIFY {NOTIFY_CHANNEL}"))  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery with what sending it needs."""

    id: int
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    ordering_key: str
    attempts: int
    # The envelope as stored JSON text: the request's body as it is, not decoded and encoded.
    body: str
    url: str
    secrets: tuple[str, ...]


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    """The oldest due deliveries of enabled endpoints (not deleted) of clients not revoked that
    this dispatcher may send now, locked for its transaction; a delivery behind an earlier pending
    one of its endpoint and ordering key that it does not hold (held by another dispatcher, or
    waiting for its retry) is left."""
    d, e = WebhookDelivery, WebhookEndpoint
    query = (
        sa_select(
            col(d.id),
            col(d.endpoint_id),
            col(d.event_id),
            col(d.ordering_key),
            col(d.attempts),
            sa_cast(col(d.envelope), Text),
            col(e.url),
            col(e.secret),
            col(e.previous_secret),
            col(e.previous_secret_expires_at),
        )
        .join(e, col(e.id) == col(d.endpoint_id))
        .join(ApiClient, col(ApiClient.id) == col(e.client_id))
        .where(col(d.status) == PENDING)
        .where(col(d.next_attempt_at) <= now)
        .where(col(e.enabled).is_(True))
        # A deleted endpoint is sent nothing (a delivery fanned out while it was being deleted
        # stays pending, unsent).
        .where(col(e.deleted_at).is_(None))
        # A revoked client receives nothing more (its deliveries wait, unsent).
        .where(col(ApiClient.revoked_at).is_(None))
        .order_by(col(d.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )
    rows = [
        Due(
            i,
            endpoint,
            event,
            key,
            attempts,
            envelope,
            url,
            (secret,) + ((previous,) if previous and expires and expires > now else ()),
        )
        for i, endpoint, event, key, attempts, envelope, url, secret, previous, expires in (
            await session.exec(query)  # type: ignore[call-overload]
        )
    ]
    if not rows:
        return rows
    ours = [r.id for r in rows]
    earlier = d.__table__.alias("earlier")  # type: ignore[attr-defined]
    # The earliest pending delivery of each (endpoint, key) that this dispatcher does not hold:
    # its rows after that one wait.
    first_query = (
        sa_select(earlier.c.endpoint_id, earlier.c.ordering_key, func.min(earlier.c.id))
        .where(earlier.c.status == PENDING)
        .where(earlier.c.id < max(ours))
        .where(~_among(session, earlier.c.id, ours, BigInteger()))
        .where(_among(session, earlier.c.endpoint_id, {r.endpoint_id for r in rows}, Uuid()))
        .where(_among(session, earlier.c.ordering_key, {r.ordering_key for r in rows}, Text()))
        .group_by(earlier.c.endpoint_id, earlier.c.ordering_key)
    )
    blocked: dict[tuple[uuid.UUID, str], int] = {
        (endpoint_id, key): int(first)
        for endpoint_id, key, first in await session.exec(first_query)  # type: ignore[call-overload]
    }
    return [
        r
        for r in rows
        if (r.endpoint_id, r.ordering_key) not in blocked
        or r.id < blocked[(r.endpoint_id, r.ordering_key)]
    ]


def _among(
    session: AsyncSession, column: Any, values: Iterable[Any], item: TypeEngine[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter whatever the count:
    one statement text to prepare, not one per count of values."""
    if _dialect(session) == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), ARRAY(item))))
    return cast(ColumnElement[bool], column.in_(list(values)))


async def lease(session: AsyncSession, ids: Sequence[int], until: datetime) -> None:
    """Claimed deliveries are not due again before ``until``: the dispatcher sends them outside
    the claim's transaction, and one that dies meanwhile leaves them to be sent again then."""
    if ids:
        await session.exec(
            update(WebhookDelivery)
            .where(_among(session, col(WebhookDelivery.id), ids, BigInteger()))
            .values(next_attempt_at=until)
        )


async def mark_delivered(
    session: AsyncSession, delivery_id: int, now: datetime, status_code: int
) -> None:
    await session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id)
        .where(col(WebhookDelivery.status) == PENDING)
        .values(
            status=DELIVERED,
            attempts=WebhookDelivery.attempts + 1,
            last_attempt_at=now,
            last_status_code=status_code,
            last_error=None,
            delivered_at=now,
        )
    )


_DELIVERED_ALL = text(
    "UPDATE webhook_deliveries AS d SET status = 'delivered', attempts = d.attempts + 1,"
    " last_attempt_at = :now, last_status_code = v.code, last_error = NULL, delivered_at = :now"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:codes AS integer[])) AS v(id, code)"
    " WHERE d.id = v.id AND d.status = 'pending'"
).bindparams(bindparam("now", type_=UTCDateTime()))


async def mark_all_delivered(
    session: AsyncSession, answered: Sequence[tuple[int, int]], now: datetime
) -> None:
    """:func:`mark_delivered` for many deliveries (id, status code): one statement on
    PostgreSQL (``UPDATE ... FROM unnest``), one batch of parameters elsewhere."""
    if not answered:
        return
    if _dialect(session) == "postgresql":
        await session.exec(
            _DELIVERED_ALL,  # type: ignore[call-overload]
            params={
                "now": now,
                "ids": [i for i, _ in answered],
                "codes": [c for _, c in answered],
            },
        )
        return
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    statement = (
        table.update()
        .where(table.c.id == bindparam("delivery_id"))
        .where(table.c.status == PENDING)
        .values(
            status=DELIVERED,
            attempts=table.c.attempts + 1,
            last_attempt_at=now,
            last_status_code=bindparam("code"),
            last_error=None,
            delivered_at=now,
        )
    )
    await session.exec(statement, params=[{"delivery_id": i, "code": c} for i, c in answered])


async def mark_failed(
    session: AsyncSession,
    delivery_id: int,
    now: datetime,
    *,
    status_code: int | None,
    error: str,
    retry_at: datetime | None,
) -> None:
    """A failed attempt: tried again at ``retry_at``, or failed for good when it is None."""
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_attempt_at": now,
        "last_status_code": status_code,
        "last_error": error[:1000],
    }
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    await session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id)
        .where(col(WebhookDelivery.status) == PENDING)
        .values(**values)
    )


async def deliveries_of(
    session: AsyncSession,
    owner: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> list[WebhookDelivery]:
    """An endpoint's delivery log, newest first (none when the endpoint is not the owner's or
    is deleted)."""
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(col(WebhookEndpoint.client_id) == owner)
        .where(_live())
        .where(col(WebhookDelivery.endpoint_id) == endpoint_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    return list((await session.exec(query)).all())


async def delivery_of(
    session: AsyncSession, owner: uuid.UUID, delivery_id: int
) -> WebhookDelivery | None:
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(col(WebhookEndpoint.client_id) == owner)
        .where(_live())
        .where(col(WebhookDelivery.id) == delivery_id)
    )
    return (await session.exec(query)).first()


async def pending_count(session: AsyncSession) -> int:
    query = (
        select(func.count())
        .select_from(WebhookDelivery)
        .where(col(WebhookDelivery.status) == literal(PENDING))
    )
    return int((await session.exec(query)).one())
