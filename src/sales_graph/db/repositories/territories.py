"""Territories, their members and their ordered assignment rules."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, Territory, TerritoryMember, TerritoryRule, User
from sales_graph.db.repositories.rows import replace_ordered
from sales_graph.db.repositories.scoped import equal_where_given
from sales_graph.db.visibility import territories_readable, users_readable
from sales_graph.domain.scope import AccessScope

OPEN_LEAD_STATUSES = ("new", "working", "qualified")


async def get(
    session: AsyncSession, scope: AccessScope, territory_id: uuid.UUID
) -> Territory | None:
    territories_readable(scope)
    return await session.get(Territory, territory_id)


async def get_by_name(session: AsyncSession, scope: AccessScope, name: str) -> Territory | None:
    territories_readable(scope)
    return (await session.exec(select(Territory).where(Territory.name == name))).first()


async def by_ids(
    session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID]
) -> list[Territory]:
    territories_readable(scope)
    if not ids:
        return []
    return list((await session.exec(select(Territory).where(col(Territory.id).in_(ids)))).all())


async def listing(
    session: AsyncSession,
    scope: AccessScope,
    *,
    owner_id: uuid.UUID | None,
    is_active: bool | None,
) -> list[Territory]:
    """Territories in the order leads are routed through them: priority, then name."""
    territories_readable(scope)
    statement = (
        select(Territory)
        .where(*equal_where_given((Territory.owner_id, owner_id), (Territory.is_active, is_active)))
        .order_by(col(Territory.priority), col(Territory.name))
    )
    return list((await session.exec(statement)).all())


async def owned_by(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    result = await session.exec(select(Territory.id).where(Territory.owner_id == user_id))
    return set(result.all())


async def with_member(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    statement = select(TerritoryMember.territory_id).where(TerritoryMember.user_id == user_id)
    return set((await session.exec(statement)).all())


async def active_in_order(session: AsyncSession, scope: AccessScope) -> list[Territory]:
    return await listing(session, scope, owner_id=None, is_active=True)


async def rules_of(
    session: AsyncSession, scope: AccessScope, territory_ids: Sequence[uuid.UUID]
) -> list[TerritoryRule]:
    territories_readable(scope)
    return await _rules(session, territory_ids)


async def _rules(session: AsyncSession, territory_ids: Sequence[uuid.UUID]) -> list[TerritoryRule]:
    if not territory_ids:
        return []
    statement = (
        select(TerritoryRule)
        .where(col(TerritoryRule.territory_id).in_(territory_ids))
        .order_by(col(TerritoryRule.territory_id), col(TerritoryRule.position))
    )
    return list((await session.exec(statement)).all())


async def members_of(
    session: AsyncSession, scope: AccessScope, territory_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, User]]:
    territories_readable(scope)
    users_readable(scope)
    if not territory_ids:
        return []
    statement = (
        select(TerritoryMember.territory_id, User)
        .join(User, col(User.id) == TerritoryMember.user_id)
        .where(col(TerritoryMember.territory_id).in_(territory_ids))
        .order_by(col(TerritoryMember.territory_id), col(TerritoryMember.position))
    )
    return [(tid, user) for tid, user in (await session.exec(statement)).all()]


async def is_member(session: AsyncSession, territory_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await session.get(TerritoryMember, (territory_id, user_id)) is not None


async def lock_for_assignment(
    session: AsyncSession, territory_id: uuid.UUID, assignments: int = 1
) -> None:
    """Takes the territory's row lock until commit: concurrent assignments queue here. The
    sequence advances by one per assignment (a batch counts the rest of its own later)."""
    await session.exec(
        update(Territory)
        .where(col(Territory.id) == territory_id)
        .values(assignment_seq=Territory.assignment_seq + assignments)
    )


async def lock_in_order(session: AsyncSession, territory_ids: Sequence[uuid.UUID]) -> None:
    """Takes the row locks of several territories in id order (a batch that may assign to
    several: two batches never wait for each other in a cycle)."""
    if territory_ids:
        statement = (
            select(Territory.id)
            .where(col(Territory.id).in_(territory_ids))
            .order_by(col(Territory.id))
            .with_for_update()
        )
        await session.exec(statement)


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: uuid.UUID
    position: int
    turns: int
    open_leads: int
    capacity: int | None

    @property
    def has_capacity(self) -> bool:
        return self.capacity is None or self.open_leads < self.capacity


async def candidates(session: AsyncSession, territory_id: uuid.UUID) -> list[Candidate]:
    """Active members of a territory with their turns and open leads (one statement)."""
    open_leads = (
        select(col(Lead.assigned_to_id).label("user_id"), func.count().label("n"))
        .where(col(Lead.status).in_(OPEN_LEAD_STATUSES), col(Lead.assigned_to_id).is_not(None))
        .group_by(col(Lead.assigned_to_id))
        .subquery()
    )
    statement = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            col(TerritoryMember.user_id),
            col(TerritoryMember.position),
            col(TerritoryMember.turns),
            func.coalesce(open_leads.c.n, 0),
            col(User.lead_capacity),
        )
        .join(User, col(User.id) == TerritoryMember.user_id)
        .outerjoin(open_leads, open_leads.c.user_id == TerritoryMember.user_id)
        .where(TerritoryMember.territory_id == territory_id, col(User.is_active).is_(True))
        .order_by(col(TerritoryMember.position))
    )
    rows = (await session.exec(statement)).all()
    return [Candidate(uid, pos, turns, int(n), cap) for uid, pos, turns, n, cap in rows]


async def take_turn(session: AsyncSession, territory_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await session.exec(
        update(TerritoryMember)
        .where(
            col(TerritoryMember.territory_id) == territory_id,
            col(TerritoryMember.user_id) == user_id,
        )
        .values(turns=TerritoryMember.turns + 1)
    )


async def take_turns(
    session: AsyncSession, turns: Mapping[tuple[uuid.UUID, uuid.UUID], int]
) -> None:
    """Turns of a batch: (territory id, user id) -> how many."""
    if not turns:
        return
    statement = (
        update(TerritoryMember)
        .where(
            col(TerritoryMember.territory_id) == bindparam("t_id"),
            col(TerritoryMember.user_id) == bindparam("u_id"),
        )
        .values(turns=TerritoryMember.turns + bindparam("n"))
    )
    connection = await session.connection()
    await connection.execute(
        statement, [{"t_id": t, "u_id": u, "n": n} for (t, u), n in turns.items()]
    )


async def replace_members(
    session: AsyncSession, territory_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    existing = {
        m.user_id: m
        for m in (
            await session.exec(
                select(TerritoryMember).where(TerritoryMember.territory_id == territory_id)
            )
        ).all()
    }
    for user_id, member in existing.items():
        if user_id not in user_ids:
            await session.delete(member)
    for position, user_id in enumerate(user_ids):
        if user_id in existing:
            existing[user_id].position = position
        else:
            session.add(
                TerritoryMember(territory_id=territory_id, user_id=user_id, position=position)
            )
    await session.flush()


async def replace_rules(
    session: AsyncSession, territory_id: uuid.UUID, rules: Sequence[TerritoryRule]
) -> None:
    for rule in rules:
        rule.territory_id = territory_id
    await replace_ordered(session, await _rules(session, [territory_id]), rules)
