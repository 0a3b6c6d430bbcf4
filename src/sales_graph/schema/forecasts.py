"""GraphQL types of the pipeline, forecasts and quotas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from sales_graph.db.models import Forecast as ForecastRow
from sales_graph.domain import ForecastType as ForecastTypeValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.domain.forecasts import ComputedForecast, StageLine
from sales_graph.domain.forecasts import Pipeline as PipelineResult
from sales_graph.schema.common import money
from sales_graph.schema.context import Info
from sales_graph.schema.territories import Territory, load_territory
from sales_graph.schema.upstream import Revenue
from sales_graph.schema.users import User, load_user
from sales_graph.services.quotas import Attainment

ForecastType = strawberry.enum(ForecastTypeValue, name="ForecastType")


@strawberry.type(description="One stage of a pipeline.")
class PipelineStage:
    stage: OpportunityStageValue
    count: int
    total_amount: float
    probability: int
    weighted_amount: float

    @classmethod
    def from_line(cls, line: StageLine) -> PipelineStage:
        return cls(
            stage=line.stage,
            count=line.count,
            total_amount=float(line.total_amount),
            probability=line.probability,
            weighted_amount=float(line.weighted_amount),
        )


@strawberry.type(description="Totals of a pipeline.")
class PipelineSummary:
    total_count: int
    total_amount: float
    weighted_amount: float


@strawberry.type(description="Open opportunities of an owner closing in a period, by stage.")
class Pipeline:
    period: str
    owner_id: strawberry.ID
    summary: PipelineSummary
    by_stage: list[PipelineStage]

    @classmethod
    def from_result(cls, result: PipelineResult) -> Pipeline:
        return cls(
            period=result.period,
            owner_id=strawberry.ID(str(result.owner_id)),
            summary=PipelineSummary(
                total_count=result.total_count,
                total_amount=float(result.total_amount),
                weighted_amount=float(result.weighted_amount),
            ),
            by_stage=[PipelineStage.from_line(line) for line in result.by_stage],
        )


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

    @strawberry.field
    async def territory(self, info: Info) -> Territory | None:
        return await load_territory(info, self.territory_id)

    @strawberry.field
    async def submitted_by(self, info: Info) -> User | None:
        return await load_user(info, self.submitted_by_id)

    @strawberry.field(
        description="Finance: actual revenue of the period (none for FY periods); the "
        "organisation's figure, for callers who see the whole territory (else null)."
    )
    async def actual_revenue(self, info: Info) -> Revenue | None:
        scope = await info.context.scope()
        if not scope.sees_territory(self.territory_id):
            return None
        found = await info.context.loaders.upstream.revenue.load(self.period)
        return Revenue.from_model(found) if found else None

    @classmethod
    def from_computed(cls, result: ComputedForecast) -> Forecast:
        return cls(
            id=None,
            kind=ForecastKind.GENERATED,
            period=result.period,
            forecast_type=result.forecast_type,
            amount=float(result.amount),
            probability_weighted_amount=float(result.probability_weighted_amount),
            ai_predicted_amount=float(result.ai_predicted_amount),
            breakdown=[
                ForecastBreakdown(
                    stage=line.stage,
                    count=line.count,
                    total_amount=float(line.total_amount),
                    weighted_amount=float(line.weighted_amount),
                )
                for line in result.breakdown
            ],
            current_pipeline=None,
            pipeline_coverage=None,
            notes=None,
            created_at=result.generated_at,
            territory_id=result.territory_id,
            submitted_by_id=None,
        )

    @classmethod
    def from_row(cls, row: ForecastRow) -> Forecast:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=ForecastKind(row.kind),
            period=row.period,
            forecast_type=ForecastTypeValue(row.forecast_type),
            amount=float(row.amount),
            probability_weighted_amount=money(row.probability_weighted_amount),
            ai_predicted_amount=money(row.ai_predicted_amount),
            breakdown=[],
            current_pipeline=money(row.current_pipeline),
            pipeline_coverage=money(row.pipeline_coverage),
            notes=row.notes,
            created_at=row.created_at,
            territory_id=row.territory_id,
            submitted_by_id=row.submitted_by_id,
        )


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

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.user_id)

    @strawberry.field
    async def territory(self, info: Info) -> Territory | None:
        return await load_territory(info, self.territory_id)

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
