"""Leads: look-ups, filtered and paged lists, and the assignment log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, literal
from sqlalchemy import select as sql_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, LeadAssignment, LeadCount
from sales_graph.db.paging import orders_of, time_orders
from sales_graph.db.repositories.rows import add as add
from sales_graph.db.repositories.scoped import ScopedReads, contains, equal_where_given
from sales_graph.db.visibility import lead_visible
from sales_graph.domain.scope import AccessScope

ORDERS = orders_of(
    "leads",
    col(Lead.id),
    *time_orders(Lead),
    (
        "SCORE_DESC",
        func.coalesce(col(Lead.score), -1),
        True,
        "int",
        lambda r: -1 if r.score is None else r.score,
    ),
)


@dataclass(frozen=True, slots=True)
class LeadFilter:
    status: str | None = None
    assigned_to_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    search: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses = self.key_clauses(Lead)
        if self.search:
            name = func.coalesce(Lead.first_name, "") + " " + func.coalesce(Lead.last_name, "")
            clauses.append(contains(self.search, name, Lead.email_normalized, Lead.company))
        return clauses

    def key_clauses(self, on: type[Lead] | type[LeadCount]) -> list[ColumnElement[bool]]:
        """The conditions on the columns the lead counts are kept by (all but the search)."""
        return equal_where_given(
            (on.status, self.status),
            (on.assigned_to_id, self.assigned_to_id),
            (on.territory_id, self.territory_id),
        )


_reads: ScopedReads[Lead, LeadFilter] = ScopedReads(Lead, lead_visible, ORDERS)
get, by_ids, page = _reads.get, _reads.by_ids, _reads.page
# Counted lead by lead: what the kept counts must always sum to (and the count of a search).
count_each = _reads.count


async def recount(session: AsyncSession) -> int:
    """Rebuilds the lead counts from the leads (PostgreSQL): for leads loaded while triggers
    were off (``session_replication_role = replica``, ``pg_restore --disable-triggers``), whose
    counts the triggers never saw. Returns how many leads it counted."""
    key = (col(Lead.assigned_to_id), col(Lead.territory_id), col(Lead.status))
    await session.exec(delete(LeadCount))
    await session.exec(
        insert(LeadCount).from_select(
            ["assigned_to_id", "territory_id", "status", "shard", "n"],
            sql_select(*key, literal(0), func.count()).group_by(*key),
        )
    )
    total = await session.exec(select(func.coalesce(func.sum(LeadCount.n), 0)))
    return int(total.one())


async def count(session: AsyncSession, scope: AccessScope, where: LeadFilter) -> int:
    """The leads the scope sees under ``where``: on PostgreSQL summed from the lead counts its
    triggers keep (``LeadCount``: the same visibility and conditions on the same columns) when
    ``where`` has no condition on other columns (a search); else counted lead by lead."""
    on_keys_only = len(where.clauses()) == len(where.key_clauses(Lead))
    if not on_keys_only or session.get_bind().dialect.name != "postgresql":
        return await count_each(session, scope, where)
    statement = select(func.coalesce(func.sum(LeadCount.n), 0)).where(
        lead_visible(scope, LeadCount), *where.key_clauses(LeadCount)
    )
    return int((await session.exec(statement)).one())


async def get_for_update(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID
) -> Lead | None:
    return await get(session, scope, lead_id, for_update=True)


async def by_ids_or_emails_for_update(
    session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID], emails: Sequence[str]
) -> list[Lead]:
    """The leads with one of these ids or (lower-cased) addresses, locked: a batch's look-up."""
    if not ids and not emails:
        return []
    lowered = sorted({email.lower() for email in emails})
    statement = (
        _reads.select(scope)
        .where(col(Lead.id).in_(ids) | col(Lead.email_normalized).in_(lowered))
        # Locked in one order, so that two batches wait for each other instead of deadlocking.
        .order_by(col(Lead.id))
        .with_for_update()
    )
    return list((await session.exec(statement)).all())


async def by_email(session: AsyncSession, scope: AccessScope, email: str) -> Lead | None:
    """The lead with this address, if the scope sees it (addresses are unique)."""
    statement = _reads.select(scope).where(col(Lead.email_normalized) == email.lower())
    return (await session.exec(statement)).first()


record_assignment = add


async def record_assignments(session: AsyncSession, records: Sequence[dict[str, Any]]) -> None:
    """A batch's assignment records (their columns), in one statement."""
    if records:
        connection = await session.connection()
        await connection.execute(insert(LeadAssignment), list(records))


async def assignments_of(
    session: AsyncSession, scope: AccessScope, lead_ids: Sequence[uuid.UUID]
) -> list[LeadAssignment]:
    """The assignment log of the leads the scope sees."""
    order = (col(LeadAssignment.assigned_at),)
    return await _reads.lines_of(
        session, scope, LeadAssignment, col(LeadAssignment.lead_id), lead_ids, order
    )
