"""Root fields of the sync with Finance: commission lines and the synced reports."""

from __future__ import annotations

import strawberry

from sales_graph.domain.periods import parse_period
from sales_graph.resolvers.common import optional_id, paging, read
from sales_graph.schema.context import Info
from sales_graph.schema.finance import CommissionLine, PipelineReportLine, TerritoryPerformance
from sales_graph.services import commissions, finance_reports


@strawberry.type
class FinanceQueries:
    @strawberry.field(
        description="Commission lines Finance calculated for the months of a period (a month, "
        "quarter or fiscal year): a rep's own, a manager's team's, all for an admin; partners "
        "need the scope commissions:read. Current lines only, unless includeSuperseded."
    )
    async def commissions(
        self,
        info: Info,
        period: str,
        owner_id: strawberry.ID | None = None,
        include_superseded: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[CommissionLine]:
        span = parse_period(period, info.context.runtime.settings.fiscal_year_start_month)
        owner = optional_id(owner_id, "ownerId")
        page = paging(info, limit=limit, offset=offset, first=None, after=None)
        rows = await read(
            info,
            lambda s, scope: commissions.lines(
                s, scope, span, owner_id=owner, include_superseded=include_superseded, page=page
            ),
        )
        return [CommissionLine.from_row(row) for row in rows]

    @strawberry.field(
        description="The pipeline report of a closed quarter as last sent to Finance, by "
        "territory, owner and stage: the lines of the opportunities the caller sees."
    )
    async def pipeline_report(
        self,
        info: Info,
        period: str,
        owner_id: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
    ) -> list[PipelineReportLine]:
        span = parse_period(period, info.context.runtime.settings.fiscal_year_start_month)
        owner = optional_id(owner_id, "ownerId")
        territory = optional_id(territory_id, "territoryId")
        rows = await read(
            info,
            lambda s, scope: finance_reports.pipeline_lines(
                s, scope, span, owner_id=owner, territory_id=territory
            ),
        )
        return [PipelineReportLine.from_row(row) for row in rows]

    @strawberry.field(
        description="Each territory's performance in a closed quarter as last sent to Finance: "
        "for callers who see the whole territory (its manager, admins, partners)."
    )
    async def territory_performance(
        self, info: Info, period: str, territory_id: strawberry.ID | None = None
    ) -> list[TerritoryPerformance]:
        span = parse_period(period, info.context.runtime.settings.fiscal_year_start_month)
        territory = optional_id(territory_id, "territoryId")
        rows = await read(
            info,
            lambda s, scope: finance_reports.performance_lines(
                s, scope, span, territory_id=territory
            ),
        )
        return [TerritoryPerformance.from_row(row) for row in rows]
