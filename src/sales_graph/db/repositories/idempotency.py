"""Idempotency keys of REST POSTs: reserve, finish, look up, and purge the expired ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import IdempotencyKey


async def get(session: AsyncSession, principal: str, key: str) -> IdempotencyKey | None:
    return await session.get(IdempotencyKey, (principal, key))


async def reserve(session: AsyncSession, row: IdempotencyKey) -> bool:
    """Inserts ``row`` (state ``in_flight``); False when another request holds the key.

    On PostgreSQL the insert waits for a concurrent holder to commit or roll back. After
    False the transaction is failed and must end (the caller raises).
    """
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        return False
    return True


async def discard(session: AsyncSession, row: IdempotencyKey) -> None:
    await session.delete(row)
    await session.flush()


async def finish(
    session: AsyncSession,
    row: IdempotencyKey,
    *,
    status: int,
    body: bytes,
    headers: dict[str, str],
) -> None:
    row.state = "done"
    row.response_status = status
    row.response_body = body
    row.response_headers = headers
    session.add(row)
    await session.flush()


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Deletes the keys that expired at ``now`` (by the ``expires_at`` index); how many."""
    statement = delete(IdempotencyKey).where(col(IdempotencyKey.expires_at) <= now)
    result = await session.exec(statement)
    return int(result.rowcount)
