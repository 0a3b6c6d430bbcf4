"""Forecast generation (DESIGN.md, Forecasts; the spec's Forecast Generation Flow): a territory's
forecasts computed for the whole territory, cached, and published as ``forecast.updated``.

The ``forecasts`` read serves the cached territory-wide forecast to callers who see the whole
territory (admins, partners, the territory's manager); anyone else gets a fresh forecast of what
they may see. docs/events.md, "Forecast generation", tells the whole flow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.cache.forecasts import ForecastCache, Pair
from sales_graph.db.models import Forecast
from sales_graph.db.repositories import forecasts as forecast_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.domain import ForecastType, OpportunityStage
from sales_graph.domain.forecasts import ComputedForecast, StageLine
from sales_graph.domain.periods import Period, next_quarter, quarter_of
from sales_graph.domain.scope import AccessScope
from sales_graph.events import payloads
from sales_graph.events.models import ForecastUpdated
from sales_graph.events.outbox import record as record_event
from sales_graph.logs import get_logger
from sales_graph.services import forecasting
from sales_graph.services.forecasting import compute_forecast

_log = get_logger(__name__)

# The generator reads every opportunity: it acts for the system, not for a user.
SYSTEM_SCOPE = AccessScope.as_system("forecast generation")


def quarters_from(day: date, fiscal_year_start_month: int) -> list[Period]:
    """The periods the daily run generates: the fiscal quarter of ``day`` and the next one."""
    current = quarter_of(day, fiscal_year_start_month)
    return [current, next_quarter(current, fiscal_year_start_month)]


def _to_cache(result: ComputedForecast) -> dict[str, Any]:
    # Money as strings: exact decimals survive the round trip.
    return {
        "period": result.period,
        "territory_id": str(result.territory_id),
        "forecast_type": result.forecast_type.value,
        "amount": str(result.amount),
        "probability_weighted_amount": str(result.probability_weighted_amount),
        "ai_predicted_amount": str(result.ai_predicted_amount),
        "breakdown": [
            [
                line.stage.value,
                line.count,
                str(line.total_amount),
                line.probability,
                str(line.weighted_amount),
            ]
            for line in result.breakdown
        ],
        "generated_at": result.generated_at.isoformat(),
    }


def _from_cache(value: dict[str, Any]) -> ComputedForecast:
    return ComputedForecast(
        period=value["period"],
        territory_id=uuid.UUID(value["territory_id"]),
        forecast_type=ForecastType(value["forecast_type"]),
        amount=Decimal(value["amount"]),
        probability_weighted_amount=Decimal(value["probability_weighted_amount"]),
        ai_predicted_amount=Decimal(value["ai_predicted_amount"]),
        breakdown=[
            StageLine(
                OpportunityStage(stage), int(count), Decimal(total), int(p), Decimal(weighted)
            )
            for stage, count, total, p, weighted in value["breakdown"]
        ],
        generated_at=datetime.fromisoformat(value["generated_at"]),
    )


async def fresh_forecast(
    session: AsyncSession,
    cache: ForecastCache,
    territory_id: uuid.UUID,
    period: Period,
    forecast_type: ForecastType,
) -> ComputedForecast:
    """The territory-wide forecast computed now, and cached."""
    # Read before computing: an invalidation that comes in meanwhile outdates what we put.
    version = await cache.version(territory_id)
    result = await compute_forecast(session, SYSTEM_SCOPE, territory_id, period, forecast_type)
    if version is not None:
        await cache.put(
            Pair(territory_id, period.name), forecast_type.value, _to_cache(result), version
        )
    return result


def _readable(found: Any, territory_id: uuid.UUID) -> ComputedForecast | None:
    if found is None:
        return None
    try:
        return _from_cache(found)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        _log.warning("forecast.cache.unreadable", territory_id=str(territory_id), error=repr(exc))
        return None


async def cached_forecast(
    cache: ForecastCache, territory_id: uuid.UUID, period: Period, forecast_type: ForecastType
) -> ComputedForecast | None:
    """The territory-wide forecast in the cache, if it holds a current one."""
    found = await cache.get(Pair(territory_id, period.name), forecast_type.value)
    return _readable(found, territory_id)


async def forecasts(
    session: AsyncSession,
    scope: AccessScope,
    cache: ForecastCache,
    period: Period,
    territory_id: uuid.UUID | None,
    forecast_type: ForecastType | None,
) -> tuple[list[ComputedForecast], list[Forecast]]:
    """The ``forecasts`` read (GraphQL and REST): ``forecasting.forecasts`` with the cached
    territory-wide forecast for callers who see the whole territory (read in one round trip)."""

    async def compute(
        session: AsyncSession,
        scope: AccessScope,
        wanted: Sequence[tuple[uuid.UUID, ForecastType]],
        period: Period,
    ) -> list[ComputedForecast]:
        covered = [(tid, kind) for tid, kind in wanted if scope.sees_territory(tid)]
        found = await cache.get_many(
            [(Pair(tid, period.name), kind.value) for tid, kind in covered]
        )
        hits = {
            key: readable
            for key, value in zip(covered, found, strict=True)
            if (readable := _readable(value, key[0])) is not None
        }
        results = []
        for tid, kind in wanted:
            if (tid, kind) in hits:
                results.append(hits[(tid, kind)])
            elif scope.sees_territory(tid):
                results.append(await fresh_forecast(session, cache, tid, period, kind))
            else:
                results.append(await compute_forecast(session, scope, tid, period, kind))
        return results

    return await forecasting.forecasts(
        session, scope, period, territory_id, forecast_type, compute=compute
    )


def _generated_row(result: ComputedForecast, payload: ForecastUpdated) -> Forecast:
    return Forecast(
        kind="generated",
        period=result.period,
        territory_id=result.territory_id,
        forecast_type=result.forecast_type.value,
        amount=result.amount,
        probability_weighted_amount=result.probability_weighted_amount,
        ai_predicted_amount=result.ai_predicted_amount,
        breakdown=payload.model_dump(mode="json")["breakdown"],
        created_at=result.generated_at,
    )


async def regenerate(
    session: AsyncSession,
    cache: ForecastCache,
    territory_id: uuid.UUID,
    period: Period,
    *,
    store: bool = False,
) -> list[ComputedForecast]:
    """Every forecast type of the territory and period, computed now and cached; each recorded
    as ``forecast.updated`` (and, with ``store``, kept as a generated forecast row) in the
    caller's transaction."""
    results = []
    for forecast_type in ForecastType:
        result = await fresh_forecast(session, cache, territory_id, period, forecast_type)
        payload = payloads.forecast_updated(result)
        if store:
            await forecast_repo.add_forecast(session, _generated_row(result, payload))
        # Keyed by territory and period: one pair's updates stay in order on one partition.
        key = f"{territory_id}:{period.name}"
        await record_event(session, "forecast.updated", key, payload, actor_id=None)
        results.append(result)
    return results


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    territories: int
    periods: list[str]
    forecasts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "territories": self.territories,
            "periods": self.periods,
            "forecasts": self.forecasts,
        }


async def generate(
    session: AsyncSession, cache: ForecastCache, periods: Sequence[Period], *, store: bool = True
) -> GenerationSummary:
    """The daily run (and ``sales-graph forecast generate``): every active territory, every
    period given, in the caller's transaction."""
    territories = await territory_repo.active_in_order(session, SYSTEM_SCOPE)
    count = 0
    for territory in territories:
        for period in periods:
            count += len(await regenerate(session, cache, territory.id, period, store=store))
    return GenerationSummary(len(territories), [p.name for p in periods], count)
