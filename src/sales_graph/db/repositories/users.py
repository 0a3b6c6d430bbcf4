"""Users: look-ups, the directory, and a manager's team (each read under an access scope)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import User
from sales_graph.db.repositories.scoped import equal_where_given
from sales_graph.db.visibility import users_readable
from sales_graph.domain.scope import AccessScope


async def get(session: AsyncSession, scope: AccessScope, user_id: uuid.UUID) -> User | None:
    users_readable(scope)
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, scope: AccessScope, email: str) -> User | None:
    users_readable(scope)
    result = await session.exec(select(User).where(User.email == email.lower()))
    return result.first()


async def first_with_role(session: AsyncSession, scope: AccessScope, role: str) -> User | None:
    users_readable(scope)
    statement = (
        select(User)
        .where(User.role == role, col(User.is_active).is_(True))
        .order_by(col(User.email))
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def by_ids(session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID]) -> list[User]:
    users_readable(scope)
    if not ids:
        return []
    result = await session.exec(select(User).where(col(User.id).in_(ids)))
    return list(result.all())


async def listing(
    session: AsyncSession,
    scope: AccessScope,
    *,
    role: str | None,
    is_active: bool | None,
    limit: int,
    offset: int,
) -> list[User]:
    users_readable(scope)
    statement = (
        select(User)
        .where(*equal_where_given((User.role, role), (User.is_active, is_active)))
        .order_by(col(User.name), col(User.id))
        .limit(limit)
        .offset(offset)
    )
    return list((await session.exec(statement)).all())


async def count(session: AsyncSession) -> int:
    result = await session.exec(select(func.count()).select_from(User))
    return int(result.one())


async def team_of(session: AsyncSession, manager_id: uuid.UUID) -> set[uuid.UUID]:
    """The manager and everyone reporting to them, directly or through other managers."""
    team = select(col(User.id)).where(User.id == manager_id).cte("team", recursive=True)
    reports = select(col(User.id)).join(team, col(User.manager_id) == team.c.id)
    team = team.union(reports)
    result = await session.exec(select(team.c.id))
    return set(result.all())
