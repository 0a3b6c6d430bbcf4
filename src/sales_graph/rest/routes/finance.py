"""The sync with Finance: commission lines and the reports sent (docs/finance.md)."""

from __future__ import annotations

from sales_graph.rest.schemas import LIMIT, OFFSET
from sales_graph.rest.table import QueryParam, RestRoute, Shape

COMMISSION_LINE = Shape(
    "CommissionLine", related="ownerId: owner { id } territoryId: territory { id }"
)
PIPELINE_REPORT_LINE = Shape(
    "PipelineReportLine", related="ownerId: owner { id } territoryId: territory { id }"
)
TERRITORY_PERFORMANCE = Shape("TerritoryPerformance", related="territoryId: territory { id }")

ROUTES = (
    RestRoute(
        method="GET",
        path="/api/v1/commissions/{period}",
        operation_id="getCommissions",
        summary="Get Commission Lines of a Period",
        document="""query($period: String!, $ownerId: ID, $includeSuperseded: Boolean,
                          $limit: Int, $offset: Int) {
            commissions(period: $period, ownerId: $ownerId,
                        includeSuperseded: $includeSuperseded, limit: $limit, offset: $offset) {
                ...CommissionLine
            }
        }""",
        shapes=(COMMISSION_LINE,),
        query=(
            QueryParam("owner_id", "Only the lines of this owner"),
            QueryParam("include_superseded", "Also the lines a later version superseded"),
            QueryParam("limit", "Lines per page (1 to 200)", LIMIT),
            QueryParam("offset", "Lines to skip", OFFSET),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/reports/pipeline/{period}",
        operation_id="getPipelineReport",
        summary="Get the Pipeline Report Sent to Finance",
        document="""query($period: String!, $ownerId: ID, $territoryId: ID) {
            pipelineReport(period: $period, ownerId: $ownerId, territoryId: $territoryId) {
                ...PipelineReportLine
            }
        }""",
        shapes=(PIPELINE_REPORT_LINE,),
        query=(
            QueryParam("owner_id", "Only the lines of this owner"),
            QueryParam("territory_id", "Only the lines of this territory"),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/reports/territory-performance/{period}",
        operation_id="getTerritoryPerformance",
        summary="Get the Territory Performance Sent to Finance",
        document="""query($period: String!, $territoryId: ID) {
            territoryPerformance(period: $period, territoryId: $territoryId) {
                ...TerritoryPerformance
            }
        }""",
        shapes=(TERRITORY_PERFORMANCE,),
        query=(QueryParam("territory_id", "Only this territory"),),
    ),
)
