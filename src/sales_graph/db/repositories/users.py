"""Users: look-ups by id and email."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import User


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.exec(select(User).where(User.email == email.lower()))
    return result.first()


async def first_with_role(session: AsyncSession, role: str) -> User | None:
    statement = (
        select(User)
        .where(User.role == role, col(User.is_active).is_(True))
        .order_by(col(User.email))
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[User]:
    if not ids:
        return []
    result = await session.exec(select(User).where(col(User.id).in_(ids)))
    return list(result.all())


async def count(session: AsyncSession) -> int:
    from sqlalchemy import func

    result = await session.exec(select(func.count()).select_from(User))
    return int(result.one())
