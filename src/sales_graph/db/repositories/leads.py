"""Leads: look-ups, filtered and paged lists, and the assignment log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, LeadAssignment
from sales_graph.db.paging import Kind, Order
from sales_graph.db.repositories.rows import add as add
from sales_graph.db.repositories.scoped import ScopedReads, equal_where_given
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
        clauses = equal_where_given(
            (Lead.status, self.status),
            (Lead.assigned_to_id, self.assigned_to_id),
            (Lead.territory_id, self.territory_id),
        )
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


_reads: ScopedReads[Lead, LeadFilter] = ScopedReads(Lead, lead_visible, ORDERS)
get, by_ids, page, count = _reads.get, _reads.by_ids, _reads.page, _reads.count


async def get_for_update(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID
) -> Lead | None:
    return await get(session, scope, lead_id, for_update=True)


async def by_email(session: AsyncSession, scope: AccessScope, email: str) -> Lead | None:
    """The lead with this address, if the scope sees it (addresses are unique)."""
    statement = _reads.select(scope).where(col(Lead.email_normalized) == email.lower())
    return (await session.exec(statement)).first()


record_assignment = add


async def assignments_of(
    session: AsyncSession, scope: AccessScope, lead_ids: Sequence[uuid.UUID]
) -> list[LeadAssignment]:
    """The assignment log of the leads the scope sees."""
    order = (col(LeadAssignment.assigned_at),)
    return await _reads.lines_of(
        session, scope, LeadAssignment, col(LeadAssignment.lead_id), lead_ids, order
    )
