"""GraphQL types of the pipeline, forecasts and quotas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from sales_graph.db.models import Forecast as ForecastRow
from sales_graph.domain import ForecastType as ForecastTypeValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.domain.forecasts import ComputedForecast
from sales_graph.domain.forecasts import Pipeline as PipelineResult
from sales_graph.schema.common import load_one
from sales_graph.schema.context import Info
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.territories import Territory, territory_by
from sales_graph.schema.upstream import Revenue
from sales_graph.schema.users import User, user_by
from sales_graph.services.quotas import Attainment

ForecastType = strawberry.enum(ForecastTypeValue, name="ForecastType")


@strawberry.type(description="One stage of a pipeline.")
class PipelineStage:
    stage: OpportunityStageValue
    count: int
    total_amount: float
    probability: int
    weighted_amount: float


@strawberry.type(description="Totals of a pipeline.")
class PipelineSummary:
    total_count: int
    total_amount: float
    weighted_amount: float

    from_result = from_attributes(PipelineResult)


@strawberry.type(description="Open opportunities of an owner closing in a period, by stage.")
class Pipeline:
    period: str
    owner_id: strawberry.ID
    summary: PipelineSummary
    by_stage: list[PipelineStage]

    from_result = from_attributes(PipelineResult, summary=PipelineSummary.from_result)


@strawberry.type(description="One stage of a forecast.")
class ForecastBreakdown:
    stage: OpportunityStageValue
    count: int
    total_amount: float
    weighted_amount: float


@strawberry.enum
class ForecastKind(Enum):
    GENERATED = "generated"
    SUBMITTED = "submitted"


def _none(result: ComputedForecast) -> None:
    """What a generated forecast does not have."""
    return None


_FORECAST_TERRITORY = territory_by(lambda source: source.territory_id)
_FORECAST_SUBMITTED_BY = user_by(lambda source: source.submitted_by_id)


@strawberry.type(
    description="A forecast: GENERATED live from the pipeline (the forecast.updated payload), "
    "or SUBMITTED by a manager (with coverage of the current pipeline)."
)
class Forecast:
    id: strawberry.ID | None
    kind: ForecastKind
    period: str
    forecast_type: ForecastTypeValue
    amount: float
    probability_weighted_amount: float | None
    ai_predicted_amount: float | None
    breakdown: list[ForecastBreakdown]
    current_pipeline: float | None
    pipeline_coverage: float | None
    notes: str | None
    created_at: datetime
    territory_id: strawberry.Private[uuid.UUID | None]
    submitted_by_id: strawberry.Private[uuid.UUID | None]

    from_row = from_attributes(ForecastRow, breakdown=lambda row: [])
    from_computed = from_attributes(
        ComputedForecast,
        id=_none,
        kind=lambda result: ForecastKind.GENERATED,
        current_pipeline=_none,
        pipeline_coverage=_none,
        notes=_none,
        created_at=lambda result: result.generated_at,
        submitted_by_id=_none,
    )

    @strawberry.field(metadata=_FORECAST_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _FORECAST_TERRITORY.resolve(self, info)

    @strawberry.field(metadata=_FORECAST_SUBMITTED_BY.metadata)
    def submitted_by(self, info: Info) -> User | None:
        return _FORECAST_SUBMITTED_BY.resolve(self, info)

    @strawberry.field(
        description="Finance: actual revenue of the period (none for FY periods); the "
        "organisation's figure, for callers who see the whole territory (else null)."
    )
    async def actual_revenue(self, info: Info) -> Revenue | None:
        scope = await info.context.scope()
        if not scope.sees_territory(self.territory_id):
            return None
        upstream = info.context.loaders.upstream
        return await load_one(upstream.revenue, self.period, Revenue.from_model)


_QUOTA_USER = user_by(lambda source: source.user_id)
_QUOTA_TERRITORY = territory_by(lambda source: source.territory_id)


@strawberry.type(description="A quota for a user or a territory and its attainment.")
class Quota:
    id: strawberry.ID
    period: str
    amount: float
    won_amount: float
    attainment: float
    attained_at: datetime | None
    version: int
    user_id: strawberry.Private[uuid.UUID | None]
    territory_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(metadata=_QUOTA_USER.metadata)
    def user(self, info: Info) -> User | None:
        return _QUOTA_USER.resolve(self, info)

    @strawberry.field(metadata=_QUOTA_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _QUOTA_TERRITORY.resolve(self, info)

    @classmethod
    def from_attainment(cls, result: Attainment) -> Quota:
        quota = result.quota
        return cls(
            id=strawberry.ID(str(quota.id)),
            period=quota.period,
            amount=float(quota.amount),
            won_amount=float(result.won_amount),
            attainment=float(result.ratio),
            attained_at=quota.attained_at,
            version=quota.version,
            user_id=quota.user_id,
            territory_id=quota.territory_id,
        )


@strawberry.input(description="The spec's Create Forecast request.")
class CreateForecastInput:
    period: str
    territory_id: strawberry.ID
    forecast_type: ForecastTypeValue
    amount: float
    notes: str | None = strawberry.UNSET


@strawberry.input(description="A quota for one user or one territory (give one).")
class SetQuotaInput:
    period: str
    amount: float
    user_id: strawberry.ID | None = strawberry.UNSET
    territory_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class UpdateQuotaInput:
    amount: float
    expected_version: int | None = strawberry.UNSET
