"""Pipeline and forecasts (DESIGN.md): aggregated in SQL, cumulative forecast types."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Forecast
from sales_graph.db.repositories import forecasts as forecast_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories.opportunities import StageTotals
from sales_graph.domain import ForecastCategory, ForecastType, OpportunityStage, Role
from sales_graph.domain.forecasts import ComputedForecast, Pipeline, StageLine
from sales_graph.domain.periods import Period, PeriodName
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Forbidden, NotFound
from sales_graph.services.stages import OPEN_STAGES, PIPELINE_ORDER, STAGES
from sales_graph.services.validation import Input, found, invalid
from sales_graph.timeutil import utcnow

C = ForecastCategory
# Cumulative, as in Salesforce collaborative forecasts.
CATEGORIES_OF: dict[ForecastType, frozenset[ForecastCategory]] = {
    ForecastType.CLOSED: frozenset({C.CLOSED}),
    ForecastType.COMMIT: frozenset({C.COMMIT, C.CLOSED}),
    ForecastType.BEST_CASE: frozenset({C.BEST_CASE, C.COMMIT, C.CLOSED}),
    ForecastType.PIPELINE: frozenset({C.PIPELINE, C.BEST_CASE, C.COMMIT}),
}
CENT = Decimal("0.01")
# Which territories exist is the organisation's map, not a record of anyone's: looked up as
# the system, while the figures are computed over what the caller sees.
_SYSTEM = AccessScope.as_system("forecast territories")


def stages_of(forecast_type: ForecastType) -> list[OpportunityStage]:
    categories = CATEGORIES_OF[forecast_type]
    return [s for s in PIPELINE_ORDER if STAGES[s].forecast_category in categories]


def _lines(stages: list[OpportunityStage], totals: list[StageTotals]) -> list[StageLine]:
    found = {t.stage: t for t in totals}
    lines = []
    for stage in stages:
        t = found.get(stage.value)
        lines.append(
            StageLine(
                stage=stage,
                count=t.count if t else 0,
                total_amount=(t.total_amount if t else Decimal(0)).quantize(CENT),
                probability=STAGES[stage].default_probability,
                weighted_amount=(t.weighted_amount if t else Decimal(0)).quantize(CENT),
            )
        )
    return lines


async def _totals(
    session: AsyncSession,
    scope: AccessScope,
    stages: Sequence[OpportunityStage],
    period: Period,
    *,
    owner_id: uuid.UUID | None = None,
    territory_id: uuid.UUID | None = None,
) -> list[StageTotals]:
    """The totals per stage of the opportunities closing in the period (of an owner or in a
    territory), as far as the scope sees them."""
    return await opportunity_repo.totals_by_stage(
        session,
        scope,
        stages=[s.value for s in stages],
        start=period.start,
        end=period.end,
        owner_id=owner_id,
        territory_id=territory_id,
    )


async def pipeline(
    session: AsyncSession, scope: AccessScope, owner_id: uuid.UUID, period: Period
) -> Pipeline:
    """Open opportunities of an owner closing in the period, as far as the caller sees them."""
    scope.require_scope("opportunities:read")
    totals = await _totals(session, scope, list(OPEN_STAGES), period, owner_id=owner_id)
    lines = _lines(list(OPEN_STAGES), totals)
    return Pipeline(
        period=period.name,
        owner_id=owner_id,
        total_count=sum(line.count for line in lines),
        total_amount=sum((line.total_amount for line in lines), Decimal(0)),
        weighted_amount=sum((line.weighted_amount for line in lines), Decimal(0)),
        by_stage=lines,
    )


async def compute_forecast(
    session: AsyncSession,
    scope: AccessScope,
    territory_id: uuid.UUID,
    period: Period,
    forecast_type: ForecastType,
) -> ComputedForecast:
    stages = stages_of(forecast_type)
    totals = await _totals(session, scope, stages, period, territory_id=territory_id)
    lines = [line for line in _lines(stages, totals) if line.count]
    return ComputedForecast(
        period=period.name,
        territory_id=territory_id,
        forecast_type=forecast_type,
        amount=sum((line.total_amount for line in lines), Decimal(0)),
        probability_weighted_amount=sum((line.weighted_amount for line in lines), Decimal(0)),
        ai_predicted_amount=sum((t.predicted_amount for t in totals), Decimal(0)).quantize(CENT),
        breakdown=lines,
        generated_at=utcnow(),
    )


ComputeForecasts = Callable[
    [AsyncSession, AccessScope, Sequence[tuple[uuid.UUID, ForecastType]], Period],
    Awaitable[list[ComputedForecast]],
]


async def compute_each(
    session: AsyncSession,
    scope: AccessScope,
    wanted: Sequence[tuple[uuid.UUID, ForecastType]],
    period: Period,
) -> list[ComputedForecast]:
    """Each (territory, type) computed live, in order."""
    return [await compute_forecast(session, scope, tid, period, kind) for tid, kind in wanted]


async def forecast_territories(
    session: AsyncSession, scope: AccessScope, territory_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """The territories whose forecasts the caller reads: every active one for an admin or a
    partner; a manager's own territories and those they are a member of; a rep's territories."""
    if territory_id is not None:
        if scope.unrestricted:
            found = await territory_repo.get(session, _SYSTEM, territory_id) is not None
        else:
            found = territory_id in scope.forecast_territory_ids
        if not found:
            raise NotFound.of("Territory", "territory_id")
        return [territory_id]
    if scope.unrestricted:
        return [t.id for t in await territory_repo.active_in_order(session, _SYSTEM)]
    return sorted(scope.forecast_territory_ids, key=str)


async def forecasts(
    session: AsyncSession,
    scope: AccessScope,
    period: Period,
    territory_id: uuid.UUID | None,
    forecast_type: ForecastType | None,
    compute: ComputeForecasts = compute_each,
) -> tuple[list[ComputedForecast], list[Forecast]]:
    """Live forecasts per territory and type, and the forecasts managers submitted.

    ``compute`` computes them all (``services.forecast_generation`` passes the cached read)."""
    scope.require_scope("forecasts:read")
    territory_ids = await forecast_territories(session, scope, territory_id)
    types = [forecast_type] if forecast_type else list(ForecastType)
    computed = await compute(
        session, scope, [(tid, kind) for tid in territory_ids for kind in types], period
    )
    submitted = await forecast_repo.submitted(
        session,
        scope,
        period=period.name,
        territory_ids=territory_ids,
        forecast_type=forecast_type.value if forecast_type else None,
    )
    return computed, submitted


class SubmitForecast(Input):
    period: PeriodName
    territory_id: uuid.UUID
    forecast_type: ForecastType
    amount: Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]
    notes: Annotated[str, StringConstraints(max_length=10000)] | None = None


async def submit_forecast(
    session: AsyncSession, scope: AccessScope, data: SubmitForecast, period: Period
) -> Forecast:
    """CreateForecast: a manager's number for a territory, with its pipeline coverage."""
    scope.require_scope("forecasts:write")
    if not scope.is_partner:
        scope.require_role(Role.SALES_MANAGER, Role.ADMIN)
    territory = found(
        await territory_repo.get(session, _SYSTEM, data.territory_id), "Territory", "territory_id"
    )
    if not scope.sees_territory(territory.id):
        raise Forbidden("A manager submits forecasts for the territories they own")
    pipeline_totals = await compute_forecast(
        session, scope, territory.id, period, ForecastType.PIPELINE
    )
    current = pipeline_totals.amount
    if data.amount <= 0:
        raise invalid("amount", "must be greater than 0")
    coverage = (current / data.amount).quantize(CENT, rounding=ROUND_HALF_UP)
    return await forecast_repo.add_forecast(
        session,
        Forecast(
            kind="submitted",
            period=period.name,
            territory_id=territory.id,
            forecast_type=data.forecast_type.value,
            amount=data.amount,
            current_pipeline=current,
            pipeline_coverage=coverage,
            probability_weighted_amount=pipeline_totals.probability_weighted_amount,
            ai_predicted_amount=pipeline_totals.ai_predicted_amount,
            notes=data.notes,
            submitted_by_id=scope.actor_id,
        ),
    )
