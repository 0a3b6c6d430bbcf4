"""Opportunities, their product lines and history, and the pipeline aggregates (in SQL)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Opportunity, OpportunityHistory, OpportunityProduct
from sales_graph.db.paging import orders_of, time_orders
from sales_graph.db.repositories.rows import replace_ordered
from sales_graph.db.repositories.scoped import ScopedReads, equal_where_given
from sales_graph.db.visibility import opportunity_clause, opportunity_visible
from sales_graph.domain import OpportunityStage
from sales_graph.domain.scope import AccessScope
from sales_graph.domain.signals import Signals, signals_of

ORDERS = orders_of("opportunities", col(Opportunity.id), *time_orders(Opportunity))


@dataclass(frozen=True, slots=True)
class OpportunityFilter:
    stage: str | None = None
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    close_from: date | None = None
    close_to: date | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses = equal_where_given(
            (Opportunity.stage, self.stage),
            (Opportunity.owner_id, self.owner_id),
            (Opportunity.account_id, self.account_id),
            (Opportunity.territory_id, self.territory_id),
        )
        if self.close_from is not None:
            clauses.append(col(Opportunity.expected_close_date) >= self.close_from)
        if self.close_to is not None:
            clauses.append(col(Opportunity.expected_close_date) <= self.close_to)
        return clauses


_reads: ScopedReads[Opportunity, OpportunityFilter] = ScopedReads(
    Opportunity, opportunity_visible, ORDERS
)
get, by_ids, page, count = _reads.get, _reads.by_ids, _reads.page, _reads.count


async def of_accounts(
    session: AsyncSession, scope: AccessScope, account_ids: Sequence[uuid.UUID]
) -> list[Opportunity]:
    if not account_ids:
        return []
    statement = (
        _reads.select(scope)
        .where(col(Opportunity.account_id).in_(account_ids))
        .order_by(col(Opportunity.created_at).desc(), col(Opportunity.id))
    )
    return list((await session.exec(statement)).all())


async def products_of(
    session: AsyncSession, scope: AccessScope, opportunity_ids: Sequence[uuid.UUID]
) -> list[OpportunityProduct]:
    """The product lines of the opportunities the scope sees."""
    parent = col(OpportunityProduct.opportunity_id)
    order = (parent, col(OpportunityProduct.position))
    return await _reads.lines_of(session, scope, OpportunityProduct, parent, opportunity_ids, order)


async def history_of(
    session: AsyncSession, scope: AccessScope, opportunity_ids: Sequence[uuid.UUID]
) -> list[OpportunityHistory]:
    """The change history of the opportunities the scope sees."""
    parent = col(OpportunityHistory.opportunity_id)
    order = (col(OpportunityHistory.changed_at), col(OpportunityHistory.field))
    return await _reads.lines_of(session, scope, OpportunityHistory, parent, opportunity_ids, order)


async def has_products(session: AsyncSession, opportunity_id: uuid.UUID) -> bool:
    statement = select(OpportunityProduct.id).where(
        OpportunityProduct.opportunity_id == opportunity_id
    )
    return (await session.exec(statement.limit(1))).first() is not None


async def replace_products(
    session: AsyncSession, opportunity_id: uuid.UUID, lines: Sequence[OpportunityProduct]
) -> None:
    """Replaces the lines of an opportunity the caller has already been checked against."""
    old_lines = select(OpportunityProduct).where(
        OpportunityProduct.opportunity_id == opportunity_id
    )
    for line in lines:
        line.opportunity_id = opportunity_id
    await replace_ordered(session, (await session.exec(old_lines)).all(), lines)


async def set_contract_id(
    session: AsyncSession, opportunity_id: uuid.UUID, contract_id: str, now: datetime
) -> bool:
    """Stores Billing's contract id on an opportunity that has none; False when it has one."""
    result = await session.exec(
        update(Opportunity)
        .where(col(Opportunity.id) == opportunity_id, col(Opportunity.contract_id).is_(None))
        .values(contract_id=contract_id, version=Opportunity.version + 1, updated_at=now)
    )
    return bool(result.rowcount)


async def won_without_contract(
    session: AsyncSession, scope: AccessScope, *, closed_before: datetime, limit: int
) -> list[Opportunity]:
    """Won opportunities still without a Billing contract, closed before the given time."""
    statement = (
        _reads.select(scope)
        .where(
            col(Opportunity.stage) == OpportunityStage.CLOSED_WON.value,
            col(Opportunity.contract_id).is_(None),
            col(Opportunity.closed_at) <= closed_before,
        )
        .order_by(col(Opportunity.closed_at), col(Opportunity.id))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


@dataclass(frozen=True, slots=True)
class StageTotals:
    stage: str
    count: int
    total_amount: Decimal
    weighted_amount: Decimal
    predicted_amount: Decimal


async def totals_by_stage(
    session: AsyncSession,
    scope: AccessScope,
    *,
    stages: Sequence[str],
    start: date,
    end: date,
    owner_id: uuid.UUID | None = None,
    territory_id: uuid.UUID | None = None,
) -> list[StageTotals]:
    """Count, amount, probability-weighted and score-weighted amount per stage, in one query,
    over the opportunities the scope sees (the caller's operation holds its own scope gate)."""
    amount = func.coalesce(Opportunity.amount, 0)
    statement = select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
        col(Opportunity.stage),
        func.count(),
        func.coalesce(func.sum(amount), 0),
        func.coalesce(func.sum(amount * func.coalesce(Opportunity.probability, 0) / 100), 0),
        func.coalesce(func.sum(amount * func.coalesce(Opportunity.deal_score, 0) / 100), 0),
    ).where(
        opportunity_clause(scope),
        col(Opportunity.stage).in_(stages),
        *_closing(start, end, owner_id, territory_id),
    )
    totals = (await session.exec(statement.group_by(col(Opportunity.stage)))).all()
    return [
        StageTotals(stage, int(n), Decimal(str(total)), Decimal(str(weighted)), Decimal(str(ai)))
        for stage, n, total, weighted, ai in totals
    ]


async def won_amount(
    session: AsyncSession,
    scope: AccessScope,
    *,
    start: date,
    end: date,
    owner_id: uuid.UUID | None = None,
    territory_id: uuid.UUID | None = None,
) -> Decimal:
    """Closed-won amount over the opportunities the scope sees (a quota's attainment)."""
    statement = select(func.coalesce(func.sum(Opportunity.amount), 0)).where(
        opportunity_clause(scope),
        col(Opportunity.stage) == "closed_won",
        *_closing(start, end, owner_id, territory_id),
    )
    return Decimal(str((await session.exec(statement)).one()))


def _closing(
    start: date, end: date, owner_id: uuid.UUID | None, territory_id: uuid.UUID | None
) -> list[ColumnElement[bool]]:
    """Expected to close from ``start`` to ``end``, of the owner and in the territory if given."""
    return [
        col(Opportunity.expected_close_date) >= start,
        col(Opportunity.expected_close_date) <= end,
        *equal_where_given(
            (Opportunity.owner_id, owner_id), (Opportunity.territory_id, territory_id)
        ),
    ]


async def closed_history(
    session: AsyncSession, scope: AccessScope, *, limit: int
) -> list[tuple[Signals, datetime, bool]]:
    """Closed deals with the signals they had just before closing (the stage they left)."""
    from sales_graph.db.models import Account, Lead

    last_stage = (
        select(
            col(OpportunityHistory.opportunity_id).label("opportunity_id"),
            func.max(OpportunityHistory.old_value).label("stage_before"),
        )
        .where(
            OpportunityHistory.field == "stage",
            col(OpportunityHistory.new_value).in_(["closed_won", "closed_lost"]),
        )
        .group_by(col(OpportunityHistory.opportunity_id))
        .subquery()
    )
    statement = (
        select(Opportunity, Account, Lead, last_stage.c.stage_before)
        .join(Account, col(Account.id) == Opportunity.account_id)
        .outerjoin(Lead, col(Lead.id) == Opportunity.lead_id)
        .outerjoin(last_stage, last_stage.c.opportunity_id == Opportunity.id)
        .where(
            opportunity_visible(scope), col(Opportunity.stage).in_(["closed_won", "closed_lost"])
        )
        .order_by(col(Opportunity.closed_at).desc())
        .limit(limit)
    )
    examples = []
    for opportunity, account, lead, stage_before in (await session.exec(statement)).all():
        closed_at = opportunity.closed_at or opportunity.updated_at
        signals = signals_of(
            opportunity, account, lead, stage=OpportunityStage(stage_before or "negotiation")
        )
        examples.append((signals, closed_at, opportunity.stage == "closed_won"))
    return examples
