"""One field failing inside the database fails that field alone (on PostgreSQL an error aborts
the transaction), and never undoes the mutations that ran before it in the same request."""

from __future__ import annotations

from sqlalchemy import text

from sales_graph.db.models import Account
from tests.graphql.conftest import Gateway, gateway  # noqa: F401


async def _break_accounts(gateway: Gateway) -> None:  # noqa: F811
    """A real failure inside the database: every statement on accounts now fails there."""
    async with gateway.runtime.db.session() as session:
        connection = await session.connection()
        await connection.execute(text("ALTER TABLE accounts RENAME TO accounts_gone"))


async def test_two_failing_root_fields_fail_alone(gateway: Gateway) -> None:  # noqa: F811
    admin = gateway.org.admin
    await _break_accounts(gateway)
    query = """{ a: accounts(limit: 1) { totalCount } b: accounts(limit: 2) { totalCount }
                 me { email } }"""

    response = await gateway.post(admin, query)

    # Was a 500: the first failure aborted the transaction, the commit failed.
    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    # A non-null root field failed: graphql-core cancels the others, the data is null.
    assert errors[0]["path"] == ["a"]
    assert {e["extensions"]["code"] for e in errors} == {"INTERNAL_ERROR"}
    data = await gateway.data(admin, "{ me { email } leads { totalCount } }")
    assert data["me"]["email"] == admin.email


async def test_a_failing_nested_field_leaves_its_siblings_alone(
    gateway: Gateway,  # noqa: F811
) -> None:
    admin = gateway.org.admin
    account = Account(name="Acme", name_normalized="acme", owner_id=gateway.org.r1.id)
    async with gateway.runtime.db.session() as session:
        session.add(account)
    for n in range(3):
        await gateway.data(
            admin,
            """mutation($input: CreateOpportunityInput!) {
                createOpportunity(input: $input) { id } }""",
            input={"name": f"Deal {n}", "accountId": str(account.id)},
        )
    await _break_accounts(gateway)

    response = await gateway.post(
        admin,
        """{ opportunities(orderBy: CREATED_AT_ASC) {
              totalCount items { name account { name } owner { name } } } }""",
    )

    assert response.status_code == 200, response.text
    body = response.json()
    items = body["data"]["opportunities"]["items"]
    assert [i["name"] for i in items] == ["Deal 0", "Deal 1", "Deal 2"]
    assert [i["account"] for i in items] == [None, None, None]
    assert {i["owner"]["name"] for i in items} == {admin.name}
    assert body["data"]["opportunities"]["totalCount"] == 3
    assert {tuple(e["path"][-1:]) for e in body["errors"]} == {("account",)}


async def test_a_failed_mutation_keeps_the_ones_before_it(gateway: Gateway) -> None:  # noqa: F811
    admin = gateway.org.admin
    await _break_accounts(gateway)
    # Mutations run one after the other; a failed (non-null) one ends the operation.
    operation = """mutation {
      first: createLead(input: {email: "first@example.com", country: "US"}) {
        id assignedTo { name } }
      second: createLead(input: {email: "second@example.com"}) { id territory { name } }
      broken: createOpportunity(input: {name: "Deal",
        accountId: "5f0c8a7e-3b1d-4c55-9a2e-7d6b1e9f4a10"}) { id }
    }"""

    response = await gateway.post(admin, operation)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["path"] for e in body["errors"]] == [["broken"]]
    data = await gateway.data(admin, "{ leads(orderBy: CREATED_AT_ASC) { items { email } } }")
    emails = [i["email"] for i in data["leads"]["items"]]
    assert emails == ["first@example.com", "second@example.com"]


async def test_a_failed_read_after_mutations_keeps_them(gateway: Gateway) -> None:  # noqa: F811
    admin = gateway.org.admin
    created = await gateway.data(
        admin, 'mutation { createLead(input: {email: "l@example.com"}) { id } }'
    )
    async with gateway.runtime.db.session() as session:
        connection = await session.connection()
        await connection.execute(
            text("ALTER TABLE lead_assignments RENAME TO lead_assignments_gone")
        )
    # The second field's payload reads the assignments after both fields wrote.
    operation = """mutation($id: ID!) {
      first: updateLead(id: $id, input: {company: "Acme"}) { company }
      second: updateLead(id: $id, input: {title: "CTO"}) { title assignments { reason } }
    }"""

    response = await gateway.post(admin, operation, id=created["createLead"]["id"])

    assert response.status_code == 200, response.text
    assert [e["path"][0] for e in response.json()["errors"]] == ["second"]
    data = await gateway.data(admin, "{ leads { items { company title } } }")
    assert data["leads"]["items"] == [{"company": "Acme", "title": "CTO"}]
