"""Territories: assign a lead, list."""

from __future__ import annotations

from sales_graph.rest.schemas import BOOL, STR, TIME, UUID, body, checked, nullable, obj, ref
from sales_graph.rest.shapes import RestInput, camel_keys, ident, ids_of
from sales_graph.rest.table import Link, QueryParam, RestRoute
from sales_graph.services.leads import TerritoryAssignmentRequest

_FIRST_TERRITORY = "$response.body#/data/0/id"


def _boolean(r: RestInput, name: str) -> bool | None:
    raw = r.query.get(name)
    return None if raw is None else raw == "true"


ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/territories/assign",
        operation_id="assignLeadToTerritory",
        summary="Assign Lead to Territory",
        document="""mutation($input: AssignTerritoryInput!) {
            assignTerritory(input: $input) {
                assignedAt lead { id } territory { id } assignedTo { id }
            }
        }""",
        variables=lambda r: {"input": camel_keys(r.body)},
        shape=lambda d: {
            "lead_id": ident(d["assignTerritory"]["lead"]),
            "territory_id": ident(d["assignTerritory"]["territory"]),
            "assigned_to": ident(d["assignTerritory"]["assignedTo"]),
            "assigned_at": d["assignTerritory"]["assignedAt"],
        },
        body=checked(
            body(
                ("lead_id", "territory_id", "reason"),
                lead_id=STR,
                territory_id=STR,
                reason=STR,
                assigned_to=STR,
            ),
            TerritoryAssignmentRequest,
            assigned_to="assigned_to_id",
        ),
        example={
            "lead_id": "0b7e4c3a-58d2-4f7a-9e61-2c3d4b5a6f70",
            "territory_id": "3c9a1e2b-7d4f-4b6a-8e5c-9f0a1b2c3d4e",
            "reason": "Geographic match",
        },
        response=obj(lead_id=STR, territory_id=STR, assigned_to=nullable(STR), assigned_at=TIME),
        tags=("Territories",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/territories",
        operation_id="getTerritories",
        summary="Get Territories",
        document="""query($ownerId: ID, $isActive: Boolean) {
            territories(ownerId: $ownerId, isActive: $isActive) {
                id name description isActive priority createdAt updatedAt
                owner { id } members { id }
            }
        }""",
        variables=lambda r: {
            "ownerId": r.query.get("owner_id"),
            "isActive": _boolean(r, "is_active"),
        },
        shape=lambda d: {
            "data": [
                {
                    "id": t["id"],
                    "name": t["name"],
                    "description": t["description"],
                    "is_active": t["isActive"],
                    "priority": t["priority"],
                    "owner_id": ident(t["owner"]),
                    "member_ids": ids_of(t["members"]),
                    "created_at": t["createdAt"],
                    "updated_at": t["updatedAt"],
                }
                for t in d["territories"]
            ]
        },
        query=(
            QueryParam("owner_id", UUID, "Only territories of this owner"),
            QueryParam(
                "is_active",
                BOOL,
                "Only active (true) or inactive (false) territories",
                example=True,
            ),
        ),
        response=obj(data={"type": "array", "items": ref("Territory")}),
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
        tags=("Territories",),
    ),
)
