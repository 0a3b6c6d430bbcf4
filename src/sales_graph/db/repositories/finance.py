"""The sync with Finance: runs, report versions and their lines, commission batches and lines
(docs/finance.md). Reads made for a caller carry the visibility clauses of ``db.visibility``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import (
    CommissionBatch,
    CommissionLine,
    FinanceReport,
    FinanceRun,
    Opportunity,
    PipelineReportLine,
    TerritoryPerformanceLine,
)
from sales_graph.db.paging import PageRequest
from sales_graph.db.repositories.rows import add
from sales_graph.db.visibility import (
    commission_visible,
    opportunity_clause,
    pipeline_report_visible,
    territory_performance_visible,
)
from sales_graph.domain import OpportunityStage
from sales_graph.domain.scope import AccessScope
from sales_graph.timeutil import utcnow

# ------------------------------------------------------------------------------------ runs


async def start_run(session: AsyncSession, kind: str, period: str, trigger: str) -> FinanceRun:
    """A new run; earlier runs of the kind and period still ``running`` are marked
    ``interrupted`` (a process stopped in them; one still going sets its own end)."""
    await session.exec(
        update(FinanceRun)
        .where(
            col(FinanceRun.kind) == kind,
            col(FinanceRun.period) == period,
            col(FinanceRun.status) == "running",
        )
        .values(status="interrupted")
    )
    return await add(
        session, FinanceRun(kind=kind, period=period, trigger=trigger, status="running")
    )


async def finish_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    status: str,
    summary: dict[str, Any] | None,
    error: str | None = None,
) -> None:
    await session.exec(
        update(FinanceRun)
        .where(col(FinanceRun.id) == run_id)
        .values(status=status, finished_at=utcnow(), summary=summary, error=error)
    )


async def last_successes(session: AsyncSession) -> dict[str, datetime]:
    """When each kind of run last succeeded."""
    statement = (
        select(FinanceRun.kind, func.max(col(FinanceRun.finished_at)))
        .where(FinanceRun.status == "succeeded")
        .group_by(col(FinanceRun.kind))
    )
    return {
        kind: finished
        for kind, finished in (await session.exec(statement)).all()
        if finished is not None
    }


async def succeeded(session: AsyncSession, kind: str, period: str) -> bool:
    statement = select(func.count()).where(
        FinanceRun.kind == kind, FinanceRun.period == period, FinanceRun.status == "succeeded"
    )
    return int((await session.exec(statement)).one()) > 0


async def runs(session: AsyncSession, *, limit: int = 50) -> list[FinanceRun]:
    statement = select(FinanceRun).order_by(col(FinanceRun.started_at).desc()).limit(limit)
    return list((await session.exec(statement)).all())


# ------------------------------------------------------------------------------ reports


async def latest_report(session: AsyncSession, report_id: uuid.UUID) -> FinanceReport | None:
    statement = (
        select(FinanceReport)
        .where(col(FinanceReport.report_id) == report_id)
        .order_by(col(FinanceReport.version).desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.exec(statement)).first()


async def add_report(
    session: AsyncSession,
    report: FinanceReport,
    lines: Sequence[PipelineReportLine | TerritoryPerformanceLine],
) -> None:
    """Adds a version (superseding the one before it) with its lines."""
    await session.exec(
        update(FinanceReport)
        .where(
            col(FinanceReport.report_id) == report.report_id,
            col(FinanceReport.superseded_at).is_(None),
        )
        .values(superseded_at=utcnow())
    )
    session.add(report)
    session.add_all(lines)
    await session.flush()


def _current(model: Any, period: str) -> Any:
    """The lines of the period's current report version."""
    return (
        col(model.period) == period,
        col(model.version)
        == select(func.max(FinanceReport.version))
        .where(col(FinanceReport.report_id) == model.report_id)
        .scalar_subquery(),
    )


async def pipeline_report_lines(
    session: AsyncSession,
    scope: AccessScope,
    period: str,
    *,
    owner_id: uuid.UUID | None = None,
    territory_id: uuid.UUID | None = None,
) -> list[PipelineReportLine]:
    statement = select(PipelineReportLine).where(
        pipeline_report_visible(scope), *_current(PipelineReportLine, period)
    )
    if owner_id is not None:
        statement = statement.where(col(PipelineReportLine.owner_id) == owner_id)
    if territory_id is not None:
        statement = statement.where(col(PipelineReportLine.territory_id) == territory_id)
    statement = statement.order_by(
        col(PipelineReportLine.territory_id),
        col(PipelineReportLine.owner_id),
        col(PipelineReportLine.stage),
    )
    return list((await session.exec(statement)).all())


async def territory_performance_lines(
    session: AsyncSession, scope: AccessScope, period: str, *, territory_id: uuid.UUID | None
) -> list[TerritoryPerformanceLine]:
    statement = select(TerritoryPerformanceLine).where(
        territory_performance_visible(scope), *_current(TerritoryPerformanceLine, period)
    )
    if territory_id is not None:
        statement = statement.where(col(TerritoryPerformanceLine.territory_id) == territory_id)
    statement = statement.order_by(col(TerritoryPerformanceLine.territory_id))
    return list((await session.exec(statement)).all())


@dataclass(frozen=True, slots=True)
class OwnerStageTotals:
    territory_id: uuid.UUID | None
    owner_id: uuid.UUID
    stage: str
    count: int
    total_amount: Decimal
    weighted_amount: Decimal


async def totals_by_territory_owner_stage(
    session: AsyncSession, scope: AccessScope, *, start: date, end: date
) -> list[OwnerStageTotals]:
    """Count, amount and probability-weighted amount of the opportunities expected to close
    from ``start`` to ``end``, per territory, owner and stage (the pipeline report)."""
    amount = func.coalesce(Opportunity.amount, 0)
    statement = (
        select(  # type: ignore[call-overload]
            col(Opportunity.territory_id),
            col(Opportunity.owner_id),
            col(Opportunity.stage),
            func.count(),
            func.coalesce(func.sum(amount), 0),
            func.coalesce(func.sum(amount * func.coalesce(Opportunity.probability, 0) / 100), 0),
        )
        .where(
            opportunity_clause(scope),
            col(Opportunity.expected_close_date) >= start,
            col(Opportunity.expected_close_date) <= end,
        )
        .group_by(col(Opportunity.territory_id), col(Opportunity.owner_id), col(Opportunity.stage))
    )
    return [
        OwnerStageTotals(tid, oid, stage, int(n), Decimal(str(total)), Decimal(str(weighted)))
        for tid, oid, stage, n, total, weighted in (await session.exec(statement)).all()
    ]


# --------------------------------------------------------------------------- commissions


async def won_in(
    session: AsyncSession, scope: AccessScope, *, start: date, end: date
) -> list[Opportunity]:
    """The closed-won opportunities expected to close from ``start`` to ``end`` (the dates a
    quota's attainment counts), oldest first."""
    statement = (
        select(Opportunity)
        .where(
            opportunity_clause(scope),
            col(Opportunity.stage) == OpportunityStage.CLOSED_WON.value,
            col(Opportunity.expected_close_date) >= start,
            col(Opportunity.expected_close_date) <= end,
        )
        .order_by(col(Opportunity.expected_close_date), col(Opportunity.id))
    )
    return list((await session.exec(statement)).all())


async def opportunities_by_ids(
    session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID]
) -> list[Opportunity]:
    if not ids:
        return []
    statement = select(Opportunity).where(opportunity_clause(scope), col(Opportunity.id).in_(ids))
    return list((await session.exec(statement)).all())


async def current_lines(session: AsyncSession, period: str) -> list[CommissionLine]:
    """The lines of the period no later version superseded (one per deal calculated)."""
    statement = select(CommissionLine).where(
        col(CommissionLine.period) == period, col(CommissionLine.superseded_at).is_(None)
    )
    return list((await session.exec(statement)).all())


async def latest_version(session: AsyncSession, period: str) -> int:
    statement = select(func.coalesce(func.max(CommissionBatch.version), 0)).where(
        col(CommissionBatch.period) == period
    )
    return int((await session.exec(statement)).one())


async def pending_batches(session: AsyncSession, period: str) -> list[CommissionBatch]:
    statement = (
        select(CommissionBatch)
        .where(col(CommissionBatch.period) == period, CommissionBatch.status == "pending")
        .order_by(col(CommissionBatch.version), col(CommissionBatch.position))
    )
    return list((await session.exec(statement)).all())


async def add_batches(session: AsyncSession, batches: Sequence[CommissionBatch]) -> None:
    session.add_all(batches)
    await session.flush()


async def mark_sent(
    session: AsyncSession,
    batch_id: uuid.UUID,
    *,
    calculation_id: str,
    total_commission: Decimal,
) -> bool:
    """Marks a pending batch sent; False when it was already (another run stored it)."""
    result = await session.exec(
        update(CommissionBatch)
        .where(col(CommissionBatch.id) == batch_id, col(CommissionBatch.status) == "pending")
        .values(
            status="sent",
            calculation_id=calculation_id,
            total_commission=total_commission,
            sent_at=utcnow(),
        )
    )
    return int(result.rowcount) == 1


async def mark_rejected(session: AsyncSession, batch: CommissionBatch) -> int:
    """A batch Finance refused, and the batches of its version still pending (planned with the
    same settings): never sent again, their deals are planned afresh. How many."""
    result = await session.exec(
        update(CommissionBatch)
        .where(
            col(CommissionBatch.period) == batch.period,
            col(CommissionBatch.version) == batch.version,
            col(CommissionBatch.status) == "pending",
        )
        .values(status="rejected")
    )
    return int(result.rowcount)


async def add_lines(session: AsyncSession, lines: Sequence[CommissionLine], *, version: int) -> int:
    """Adds Finance's lines, superseding the earlier current line of each deal; how many
    lines were superseded."""
    deals = [line.opportunity_id for line in lines]
    result = await session.exec(
        update(CommissionLine)
        .where(
            col(CommissionLine.period) == lines[0].period,
            col(CommissionLine.opportunity_id).in_(deals),
            col(CommissionLine.superseded_at).is_(None),
            col(CommissionLine.version) < version,
        )
        .values(superseded_at=utcnow(), superseded_by_version=version)
    )
    session.add_all(lines)
    await session.flush()
    return int(result.rowcount)


async def commission_lines(
    session: AsyncSession,
    scope: AccessScope,
    periods: Sequence[str],
    *,
    owner_id: uuid.UUID | None,
    include_superseded: bool,
    page: PageRequest,
) -> list[CommissionLine]:
    statement = select(CommissionLine).where(
        commission_visible(scope), col(CommissionLine.period).in_(periods)
    )
    if owner_id is not None:
        statement = statement.where(col(CommissionLine.owner_id) == owner_id)
    if not include_superseded:
        statement = statement.where(col(CommissionLine.superseded_at).is_(None))
    statement = (
        statement.order_by(
            col(CommissionLine.period),
            col(CommissionLine.owner_id),
            col(CommissionLine.opportunity_id),
            col(CommissionLine.version),
        )
        .offset(page.offset)
        .limit(page.limit)
    )
    return list((await session.exec(statement)).all())


async def calculated_periods(session: AsyncSession) -> list[str]:
    statement = select(CommissionBatch.period).distinct()
    return sorted((await session.exec(statement)).all())
