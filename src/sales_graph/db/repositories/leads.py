"""Leads: look-ups, filtered and paged lists, and the assignment log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from sales_graph.db.models import Lead, LeadAssignment
from sales_graph.db.paging import Kind, Order, PageRequest, PageResult, fetch_page
from sales_graph.db.visibility import lead_visible
from sales_graph.domain.scope import AccessScope


def _order(
    name: str,
    key: Any,
    descending: bool,
    kind: Kind,
    value_of: Callable[[Lead], Any],
) -> Order:
    return Order(name, key, col(Lead.id), descending, kind, value_of)


ORDERS: dict[str, Order] = {
    o.name: o
    for o in (
        _order("CREATED_AT_DESC", col(Lead.created_at), True, "datetime", lambda r: r.created_at),
        _order("CREATED_AT_ASC", col(Lead.created_at), False, "datetime", lambda r: r.created_at),
        _order("UPDATED_AT_DESC", col(Lead.updated_at), True, "datetime", lambda r: r.updated_at),
        _order(
            "SCORE_DESC",
            func.coalesce(col(Lead.score), -1),
            True,
            "int",
            lambda r: -1 if r.score is None else r.score,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class LeadFilter:
    status: str | None = None
    assigned_to_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    search: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.status is not None:
            clauses.append(col(Lead.status) == self.status)
        if self.assigned_to_id is not None:
            clauses.append(col(Lead.assigned_to_id) == self.assigned_to_id)
        if self.territory_id is not None:
            clauses.append(col(Lead.territory_id) == self.territory_id)
        if self.search:
            pattern = f"%{self.search.lower()}%"
            clauses.append(
                or_(
                    func.lower(
                        func.coalesce(Lead.first_name, "") + " " + func.coalesce(Lead.last_name, "")
                    ).like(pattern),
                    col(Lead.email_normalized).like(pattern),
                    func.lower(func.coalesce(Lead.company, "")).like(pattern),
                )
            )
        return clauses


def _visible(scope: AccessScope) -> SelectOfScalar[Lead]:
    return select(Lead).where(lead_visible(scope))


async def get(session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID) -> Lead | None:
    return (await session.exec(_visible(scope).where(col(Lead.id) == lead_id))).first()


async def get_for_update(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID
) -> Lead | None:
    statement = _visible(scope).where(col(Lead.id) == lead_id).with_for_update()
    return (await session.exec(statement)).first()


async def by_email(session: AsyncSession, scope: AccessScope, email: str) -> Lead | None:
    """The lead with this address, if the scope sees it (addresses are unique)."""
    statement = _visible(scope).where(col(Lead.email_normalized) == email.lower())
    return (await session.exec(statement)).first()


async def by_ids(session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID]) -> list[Lead]:
    if not ids:
        return []
    return list((await session.exec(_visible(scope).where(col(Lead.id).in_(ids)))).all())


async def page(
    session: AsyncSession, scope: AccessScope, where: LeadFilter, order: Order, request: PageRequest
) -> PageResult[Lead]:
    return await fetch_page(session, _visible(scope).where(*where.clauses()), order, request)


async def count(session: AsyncSession, scope: AccessScope, where: LeadFilter) -> int:
    statement = select(func.count()).select_from(Lead).where(lead_visible(scope), *where.clauses())
    return int((await session.exec(statement)).one())


async def add(session: AsyncSession, lead: Lead) -> Lead:
    session.add(lead)
    await session.flush()
    return lead


async def record_assignment(session: AsyncSession, assignment: LeadAssignment) -> LeadAssignment:
    session.add(assignment)
    await session.flush()
    return assignment


async def assignments_of(
    session: AsyncSession, scope: AccessScope, lead_ids: Sequence[uuid.UUID]
) -> list[LeadAssignment]:
    """The assignment log of the leads the scope sees."""
    visible = lead_visible(scope)
    if not lead_ids:
        return []
    statement = (
        select(LeadAssignment)
        .join(Lead, col(Lead.id) == LeadAssignment.lead_id)
        .where(col(LeadAssignment.lead_id).in_(lead_ids), visible)
        .order_by(col(LeadAssignment.assigned_at))
    )
    return list((await session.exec(statement)).all())
