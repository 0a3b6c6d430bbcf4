"""Accounts: read one."""

from __future__ import annotations

from sales_graph.rest.table import Link, RestRoute, Shape

ACCOUNT = Shape("Account", related="ownerId: owner { id } territoryId: territory { id }")

ROUTES = (
    RestRoute(
        method="GET",
        path="/api/v1/accounts/{id}",
        operation_id="getAccount",
        summary="Get Account",
        document="query($id: ID!) { account(id: $id) { ...Account } }",
        shapes=(ACCOUNT,),
        links=(
            Link(
                "CreateOpportunity",
                "createOpportunity",
                request_body={"account_id": "$response.body#/id"},
            ),
        ),
    ),
)
