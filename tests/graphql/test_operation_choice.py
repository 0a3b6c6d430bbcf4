"""GraphQL's GetOperation: a document with several operations runs only the one named."""

from __future__ import annotations

from tests.graphql.conftest import Gateway

TWO = """mutation B { createLead(input: {email: "two@ops.io"}) { id } }
query A { health { status } }"""


async def test_several_operations_without_a_name_run_nothing(gateway: Gateway) -> None:
    body = await gateway.gql(gateway.org.admin, TWO)
    assert "data" not in body or body["data"] is None, body
    assert "operationName" in body["errors"][0]["message"]
    leads = await gateway.data(gateway.org.admin, '{ leads(search: "two@ops") { totalCount } }')
    assert leads["leads"]["totalCount"] == 0


async def test_the_named_operation_runs_and_only_it(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/graphql",
        json={"query": TWO, "operationName": "A"},
        headers={"Authorization": f"Bearer {gateway.token(gateway.org.admin)}"},
    )
    assert response.json() == {"data": {"health": {"status": "ok"}}}
    unknown = await gateway.client.post(
        "/graphql",
        json={"query": TWO, "operationName": "C"},
        headers={"Authorization": f"Bearer {gateway.token(gateway.org.admin)}"},
    )
    # No such operation: the request itself is refused, before anything runs.
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == 'Unknown operation named "C".'
    leads = await gateway.data(gateway.org.admin, '{ leads(search: "two@ops") { totalCount } }')
    assert leads["leads"]["totalCount"] == 0
