"""Accounts: read one."""

from __future__ import annotations

from sales_graph.rest.schemas import ref
from sales_graph.rest.shapes import ident
from sales_graph.rest.table import Link, RestRoute

ROUTES = (
    RestRoute(
        method="GET",
        path="/api/v1/accounts/{id}",
        operation_id="getAccount",
        summary="Get Account",
        document="""query($id: ID!) {
            account(id: $id) {
                id name domain industry employeeCount annualRevenue country region
                createdAt updatedAt owner { id } territory { id }
            }
        }""",
        variables=lambda r: {"id": r.path["id"]},
        shape=lambda d: {
            "id": d["account"]["id"],
            "name": d["account"]["name"],
            "domain": d["account"]["domain"],
            "industry": d["account"]["industry"],
            "employee_count": d["account"]["employeeCount"],
            "annual_revenue": d["account"]["annualRevenue"],
            "country": d["account"]["country"],
            "region": d["account"]["region"],
            "owner_id": ident(d["account"]["owner"]),
            "territory_id": ident(d["account"]["territory"]),
            "created_at": d["account"]["createdAt"],
            "updated_at": d["account"]["updatedAt"],
        },
        response=ref("Account"),
        links=(
            Link(
                "CreateOpportunity",
                "createOpportunity",
                request_body={"account_id": "$response.body#/id"},
            ),
        ),
        tags=("Accounts",),
    ),
)
