"""Accounts: read one."""

from __future__ import annotations

from sales_graph.rest.table import Link, RestRoute

ACCOUNT = """fragment Account on Account {
    id name domain industry employeeCount annualRevenue country region
    ownerId: owner { id } territoryId: territory { id } createdAt updatedAt
}"""

ROUTES = (
    RestRoute(
        method="GET",
        path="/api/v1/accounts/{id}",
        operation_id="getAccount",
        summary="Get Account",
        document=f"query($id: ID!) {{ account(id: $id) {{ ...Account }} }} {ACCOUNT}",
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
