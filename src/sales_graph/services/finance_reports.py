"""The reports of the scheduled sync with Finance, sent as events on the forecasts topic
(docs/finance.md): the revenue forecast of a closed month, and the pipeline report and the
territory performance of a closed quarter.

A report's id is stable for its kind and period. A run computes the report; when its figures
equal the latest version's, nothing is written; otherwise the next version is stored with its
lines (superseding the one before) and its event recorded, in one transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import FinanceReport, PipelineReportLine, TerritoryPerformanceLine
from sales_graph.db.repositories import finance as finance_repo
from sales_graph.db.repositories import forecasts as quota_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.domain import ForecastType, OpportunityStage
from sales_graph.domain.periods import Period
from sales_graph.domain.scope import AccessScope
from sales_graph.events import models as m
from sales_graph.events.outbox import record as record_event
from sales_graph.services.forecasting import CENT, compute_forecast
from sales_graph.services.quotas import attainment
from sales_graph.services.stages import PIPELINE_ORDER
from sales_graph.timeutil import utcnow

SYSTEM_SCOPE = AccessScope.as_system("finance reports")
_REPORTS = uuid.UUID("2b0e4f8a-93c6-4d1b-a7e5-0c9d8f6b1a32")


class ReportKind(StrEnum):
    REVENUE_FORECAST = "revenue_forecast"  # monthly
    PIPELINE = "pipeline_report"  # quarterly
    TERRITORY_PERFORMANCE = "territory_performance"  # quarterly


def report_id(kind: ReportKind, period: str) -> uuid.UUID:
    return uuid.uuid5(_REPORTS, f"{kind.value}:{period}")


@dataclass(frozen=True, slots=True)
class Published:
    kind: ReportKind
    period: str
    report_id: uuid.UUID
    version: int
    changed: bool
    lines: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "period": self.period,
            "report_id": str(self.report_id),
            "version": self.version,
            "changed": self.changed,
            "lines": self.lines,
        }


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT))


async def _revenue_forecast(session: AsyncSession, period: Period) -> list[m.RevenueForecastLine]:
    lines = []
    for territory in await territory_repo.active_in_order(session, SYSTEM_SCOPE):
        for forecast_type in ForecastType:
            result = await compute_forecast(
                session, SYSTEM_SCOPE, territory.id, period, forecast_type
            )
            lines.append(
                m.RevenueForecastLine(
                    territory_id=territory.id,
                    forecast_type=forecast_type,
                    amount=_money(result.amount),
                    probability_weighted_amount=_money(result.probability_weighted_amount),
                )
            )
    return lines


_STAGE_ORDER = {stage.value: i for i, stage in enumerate(PIPELINE_ORDER)}


async def _pipeline(session: AsyncSession, period: Period) -> list[m.PipelineReportEntry]:
    totals = await finance_repo.totals_by_territory_owner_stage(
        session, SYSTEM_SCOPE, start=period.start, end=period.end
    )
    totals.sort(key=lambda t: (str(t.territory_id or ""), str(t.owner_id), _STAGE_ORDER[t.stage]))
    return [
        m.PipelineReportEntry(
            territory_id=t.territory_id,
            owner_id=t.owner_id,
            stage=OpportunityStage(t.stage),
            count=t.count,
            total_amount=_money(t.total_amount),
            weighted_amount=_money(t.weighted_amount),
        )
        for t in totals
    ]


def coverage(open_pipeline: Decimal, quota: Decimal | None, closed_won: Decimal) -> Decimal | None:
    """Open pipeline over what is left of the quota; None without a quota or once attained."""
    if quota is None or closed_won >= quota:
        return None
    return (open_pipeline / (quota - closed_won)).quantize(CENT, rounding=ROUND_HALF_UP)


async def _performance(session: AsyncSession, period: Period) -> list[m.TerritoryPerformance]:
    lines = []
    for territory in await territory_repo.active_in_order(session, SYSTEM_SCOPE):
        tid = territory.id
        commit = await compute_forecast(session, SYSTEM_SCOPE, tid, period, ForecastType.COMMIT)
        closed = await compute_forecast(session, SYSTEM_SCOPE, tid, period, ForecastType.CLOSED)
        pipeline = await compute_forecast(session, SYSTEM_SCOPE, tid, period, ForecastType.PIPELINE)
        quota = await quota_repo.quota_for(session, SYSTEM_SCOPE, period.name, None, tid)
        ratio = (await attainment(session, SYSTEM_SCOPE, quota, period)).ratio if quota else None
        lines.append(
            m.TerritoryPerformance(
                territory_id=tid,
                quota=_money(quota.amount) if quota else None,
                closed_won=_money(closed.amount),
                forecast=_money(commit.amount),
                open_pipeline=_money(pipeline.amount),
                attainment=float(ratio) if ratio is not None else None,
                coverage=_float(
                    coverage(pipeline.amount, quota.amount if quota else None, closed.amount)
                ),
            )
        )
    return lines


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


_Compute = Callable[[AsyncSession, Period], Awaitable[list[Any]]]
_EVENTS: dict[ReportKind, tuple[str, type[m.ReportPayload], _Compute]] = {
    ReportKind.REVENUE_FORECAST: (
        "report.revenue_forecast",
        m.RevenueForecastReport,
        _revenue_forecast,
    ),
    ReportKind.PIPELINE: ("report.pipeline", m.PipelineReport, _pipeline),
    ReportKind.TERRITORY_PERFORMANCE: (
        "report.territory_performance",
        m.TerritoryPerformanceReport,
        _performance,
    ),
}


def _rows(
    kind: ReportKind, rid: uuid.UUID, version: int, period: str, lines: list[Any]
) -> list[Any]:
    """The lines kept for reads (the revenue forecast is only sent)."""
    if kind is ReportKind.PIPELINE:
        return [
            PipelineReportLine(
                report_id=rid,
                version=version,
                period=period,
                territory_id=line.territory_id,
                owner_id=line.owner_id,
                stage=line.stage.value,
                count=line.count,
                total_amount=Decimal(str(line.total_amount)),
                weighted_amount=Decimal(str(line.weighted_amount)),
            )
            for line in lines
        ]
    if kind is ReportKind.TERRITORY_PERFORMANCE:
        return [
            TerritoryPerformanceLine(
                report_id=rid,
                version=version,
                period=period,
                territory_id=line.territory_id,
                quota=_decimal(line.quota),
                closed_won=Decimal(str(line.closed_won)),
                forecast=Decimal(str(line.forecast)),
                open_pipeline=Decimal(str(line.open_pipeline)),
                attainment=_decimal(line.attainment),
                coverage=_decimal(line.coverage),
            )
            for line in lines
        ]
    return []


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def publish(session: AsyncSession, kind: ReportKind, period: Period) -> Published:
    """Computes the report; a new version (stored, and recorded as its event) only when its
    figures differ from the latest version's."""
    event_type, payload_model, compute = _EVENTS[kind]
    rid = report_id(kind, period.name)
    lines = await compute(session, period)
    content = orjson.dumps([line.model_dump(mode="json") for line in lines]).decode()
    digest = hashlib.sha256(content.encode()).hexdigest()
    latest = await finance_repo.latest_report(session, rid)
    if latest is not None and latest.content_hash == digest:
        return Published(kind, period.name, rid, latest.version, False, len(lines))
    version = latest.version + 1 if latest else 1
    await finance_repo.add_report(
        session,
        FinanceReport(
            report_id=rid, version=version, kind=kind.value, period=period.name, content_hash=digest
        ),
        _rows(kind, rid, version, period.name, lines),
    )
    payload = payload_model(
        report_id=rid, version=version, period=period.name, generated_at=utcnow(), lines=lines
    )
    await record_event(session, event_type, rid, payload, actor_id=None)
    return Published(kind, period.name, rid, version, True, len(lines))


async def pipeline_lines(
    session: AsyncSession,
    scope: AccessScope,
    period: Period,
    *,
    owner_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> list[PipelineReportLine]:
    return await finance_repo.pipeline_report_lines(
        session, scope, period.name, owner_id=owner_id, territory_id=territory_id
    )


async def performance_lines(
    session: AsyncSession, scope: AccessScope, period: Period, *, territory_id: uuid.UUID | None
) -> list[TerritoryPerformanceLine]:
    return await finance_repo.territory_performance_lines(
        session, scope, period.name, territory_id=territory_id
    )
