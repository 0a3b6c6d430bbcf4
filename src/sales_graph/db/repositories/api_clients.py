"""OAuth clients and API keys: look-ups for authentication, and the admin writes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import ApiClient, ApiKey
from sales_graph.db.repositories.rows import add


async def get_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    """By the public ``client_id`` (not the row id)."""
    result = await session.exec(select(ApiClient).where(ApiClient.client_id == client_id))
    return result.first()


add_client = add_key = add


async def key_with_client(session: AsyncSession, prefix: str) -> tuple[ApiKey, ApiClient] | None:
    statement = (
        select(ApiKey, ApiClient)
        .join(ApiClient, col(ApiClient.id) == col(ApiKey.client_id))
        .where(ApiKey.prefix == prefix)
    )
    row = (await session.exec(statement)).first()
    return (row[0], row[1]) if row is not None else None


async def touch_key(
    session: AsyncSession, key_id: uuid.UUID, now: datetime, *, unless_used_after: datetime
) -> bool:
    """Records a use, unless one was recorded after ``unless_used_after`` (one write a minute).

    The condition is in the UPDATE so that concurrent requests and workers write at most once.
    """
    statement = (
        update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            or_(
                col(ApiKey.last_used_at).is_(None),
                col(ApiKey.last_used_at) <= unless_used_after,
            ),
        )
        .values(last_used_at=now)
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def revoke_key(session: AsyncSession, prefix: str, now: datetime) -> bool:
    """False when no key has this prefix or it was revoked already."""
    return await _revoke(session, ApiKey, col(ApiKey.prefix) == prefix, now)


async def revoke_client(session: AsyncSession, client_id: str, now: datetime) -> bool:
    """False when no client has this ``client_id`` or it was revoked already."""
    return await _revoke(session, ApiClient, col(ApiClient.client_id) == client_id, now)


async def _revoke(
    session: AsyncSession,
    model: type[ApiKey] | type[ApiClient],
    which: ColumnElement[bool],
    now: datetime,
) -> bool:
    """Revokes the row ``which`` names unless it is revoked already; False when none was."""
    statement = update(model).where(which, col(model.revoked_at).is_(None)).values(revoked_at=now)
    result = await session.exec(statement)
    return bool(result.rowcount)


async def list_clients(session: AsyncSession) -> list[ApiClient]:
    """Every client, oldest first."""
    statement = select(ApiClient).order_by(col(ApiClient.created_at), col(ApiClient.client_id))
    return list((await session.exec(statement)).all())


async def list_keys(session: AsyncSession) -> list[tuple[ApiKey, ApiClient]]:
    """Every API key with its client, oldest first."""
    statement = (
        select(ApiKey, ApiClient)
        .join(ApiClient, col(ApiClient.id) == col(ApiKey.client_id))
        .order_by(col(ApiKey.created_at), col(ApiKey.prefix))
    )
    return [(key, client) for key, client in (await session.exec(statement)).all()]
