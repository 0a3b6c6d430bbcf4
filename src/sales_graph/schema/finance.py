"""GraphQL types of the sync with Finance: commission lines and the synced reports."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from sales_graph.db.models import CommissionLine as CommissionLineRow
from sales_graph.db.models import PipelineReportLine as PipelineReportLineRow
from sales_graph.db.models import TerritoryPerformanceLine as TerritoryPerformanceRow
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.schema.context import Info, visible_id
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.territories import Territory, territory_by
from sales_graph.schema.users import User, user_by

_LINE_OWNER = user_by(lambda source: source.owner_id)
_LINE_TERRITORY = territory_by(lambda source: source.territory_id)


@strawberry.type(
    description="Finance's commission on one closed-won deal, in one version of its month's "
    "calculation. A later version's line for the same deal supersedes it (docs/finance.md)."
)
class CommissionLine:
    id: strawberry.ID
    period: str
    version: int
    eligible: bool = strawberry.field(
        description="False: the deal no longer counts in the period (a correction); amount 0."
    )
    amount: float
    rate: float
    commission: float
    currency: str
    created_at: datetime
    superseded_at: datetime | None
    superseded_by_version: int | None
    owner_id: strawberry.Private[uuid.UUID]
    territory_id: strawberry.Private[uuid.UUID | None]
    opportunity: strawberry.Private[uuid.UUID]

    from_row = from_attributes(CommissionLineRow, opportunity=lambda row: row.opportunity_id)

    @strawberry.field(description="The deal, when the caller sees it.")
    async def opportunity_id(self, info: Info) -> strawberry.ID | None:
        return await visible_id(info, self.opportunity, kind="opportunity")

    @strawberry.field(metadata=_LINE_OWNER.metadata)
    def owner(self, info: Info) -> User | None:
        return _LINE_OWNER.resolve(self, info)

    @strawberry.field(metadata=_LINE_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _LINE_TERRITORY.resolve(self, info)


@strawberry.type(
    description="A line of the pipeline report sent to Finance for a closed quarter: one "
    "stage of one owner's opportunities in one territory."
)
class PipelineReportLine:
    period: str
    version: int
    stage: OpportunityStageValue
    count: int
    total_amount: float
    weighted_amount: float
    owner_id: strawberry.Private[uuid.UUID]
    territory_id: strawberry.Private[uuid.UUID | None]

    from_row = from_attributes(PipelineReportLineRow)

    @strawberry.field(metadata=_LINE_OWNER.metadata)
    def owner(self, info: Info) -> User | None:
        return _LINE_OWNER.resolve(self, info)

    @strawberry.field(metadata=_LINE_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _LINE_TERRITORY.resolve(self, info)


@strawberry.type(
    description="A territory's figures for a closed quarter, as sent to Finance: attainment "
    "= closedWon / quota; coverage = openPipeline / (quota - closedWon)."
)
class TerritoryPerformance:
    period: str
    version: int
    quota: float | None
    closed_won: float
    forecast: float
    open_pipeline: float
    attainment: float | None
    coverage: float | None
    territory_id: strawberry.Private[uuid.UUID]

    from_row = from_attributes(TerritoryPerformanceRow)

    @strawberry.field(metadata=_LINE_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _LINE_TERRITORY.resolve(self, info)
