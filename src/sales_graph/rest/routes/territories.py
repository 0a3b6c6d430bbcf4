"""Territories: assign a lead, list."""

from __future__ import annotations

from sales_graph.rest.table import Body, Link, QueryParam, RestRoute, Shape
from sales_graph.services.leads import TerritoryAssignmentRequest

# The spec's Territory has no version.
TERRITORY = Shape(
    "Territory", related="ownerId: owner { id } memberIds: members { id }", omit=("version",)
)

_FIRST_TERRITORY = "$response.body#/data/0/id"

ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/territories/assign",
        operation_id="assignLeadToTerritory",
        summary="Assign Lead to Territory",
        document="""mutation($input: AssignTerritoryInput!) {
            assignTerritory(input: $input) {
                leadId: lead { id } territoryId: territory { id } assignedTo { id } assignedAt
            }
        }""",
        body=Body(TerritoryAssignmentRequest, renames={"assigned_to_id": "assigned_to"}),
        example={
            "lead_id": "0b7e4c3a-58d2-4f7a-9e61-2c3d4b5a6f70",
            "territory_id": "3c9a1e2b-7d4f-4b6a-8e5c-9f0a1b2c3d4e",
            "reason": "Geographic match",
        },
    ),
    RestRoute(
        method="GET",
        path="/api/v1/territories",
        operation_id="getTerritories",
        summary="Get Territories",
        document="""query($ownerId: ID, $isActive: Boolean) {
            territories(ownerId: $ownerId, isActive: $isActive) { ...Territory }
        }""",
        shapes=(TERRITORY,),
        query=(
            QueryParam("owner_id", "Only territories of this owner"),
            QueryParam(
                "is_active", "Only active (true) or inactive (false) territories", example=True
            ),
        ),
        links=(
            Link(
                "ForecastFirstTerritory",
                "createForecast",
                request_body={"territory_id": _FIRST_TERRITORY},
            ),
            Link(
                "AssignToFirstTerritory",
                "assignLeadToTerritory",
                request_body={"territory_id": _FIRST_TERRITORY},
            ),
        ),
    ),
)
