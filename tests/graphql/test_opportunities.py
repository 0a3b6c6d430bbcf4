"""Opportunities over GraphQL: the spec's examples, the stage machine, history, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from sales_graph.db.models import Account
from tests.graphql.conftest import Gateway, StatementCounter

CREATE = """
mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { id stage probability dealScore createdAt version
    dealScoreFactors { feature direction weight explanation } }
}"""
STAGE = """
mutation($id: ID!, $stage: OpportunityStage!, $probability: Int, $nextStep: String,
         $notes: String, $version: Int, $loss: String) {
  updateOpportunityStage(opportunityId: $id, stage: $stage, probability: $probability,
      nextStep: $nextStep, notes: $notes, expectedVersion: $version, lossReason: $loss) {
    id stage probability dealScore updatedAt version nextStep forecastCategory
    contractTerms { contractTerm startDate paymentTerms billingFrequency }
  }
}"""


async def make_account(gateway: Gateway, name: str = "Acme Corp", **values: Any) -> Account:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        account = Account(
            name=name,
            name_normalized=name.lower(),
            owner_id=org.r1.id,
            territory_id=org.t1.id,
            annual_revenue=50_000_000,
            health_score=80,
            nps=40,
            **values,
        )
        session.add(account)
    return account


def spec_create(account: Account, owner_id: str, **overrides: Any) -> dict[str, Any]:
    """The spec's Create Opportunity request body, in GraphQL's spelling."""
    return {
        "name": "Acme Corp - Enterprise Plan",
        "accountId": str(account.id),
        "stage": "DISCOVERY",
        "amount": 120000.00,
        "expectedCloseDate": "2026-04-30",
        "probability": 20,
        "ownerId": owner_id,
        "products": [{"productId": "prod_123", "quantity": 100, "unitPrice": 100.00}],
        "metadata": {
            "competition": ["Competitor A", "Competitor B"],
            "decision_criteria": ["price", "features", "support"],
        },
        **overrides,
    }


async def create(gateway: Gateway, **overrides: Any) -> dict[str, Any]:
    account = await make_account(gateway, name=f"Acct {overrides.pop('suffix', '')}")
    data = await gateway.data(
        gateway.org.r1, CREATE, input=spec_create(account, str(gateway.org.r1.id), **overrides)
    )
    result: dict[str, Any] = data["createOpportunity"]
    return result


async def test_spec_examples(gateway: Gateway) -> None:
    created = await create(gateway)
    assert created["stage"] == "DISCOVERY"
    assert created["probability"] == 20
    assert 0 <= created["dealScore"] <= 100
    directions = {f["direction"] for f in created["dealScoreFactors"]}
    assert directions <= {"positive", "negative"}
    assert any(f["feature"] == "competitors" for f in created["dealScoreFactors"])

    moved = await gateway.data(
        gateway.org.r1,
        STAGE,
        id=created["id"],
        stage="PROPOSAL",
        probability=50,
        nextStep="Send proposal by Friday",
        notes="Customer requested custom pricing",
    )
    opportunity = moved["updateOpportunityStage"]
    assert opportunity["stage"] == "PROPOSAL"
    assert opportunity["probability"] == 50
    assert opportunity["nextStep"] == "Send proposal by Friday"
    assert opportunity["forecastCategory"] == "BEST_CASE"
    # Rescored on the change: further along the stages, a better chance.
    assert opportunity["dealScore"] > created["dealScore"]

    other = await create(gateway, suffix="2")
    error = await gateway.error(gateway.org.r1, STAGE, id=other["id"], stage="CLOSED_WON")
    assert error["message"] == "Invalid opportunity stage transition"
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert error["extensions"]["details"] == {
        "current_stage": "discovery",
        "requested_stage": "closed_won",
        "allowed_stages": ["qualification", "proposal"],
    }


async def test_stage_defaults_closing_and_history(gateway: Gateway) -> None:
    r1 = gateway.org.r1
    created = await create(gateway)
    for stage, probability in [("QUALIFICATION", 40), ("PROPOSAL", 60), ("NEGOTIATION", 90)]:
        moved = await gateway.data(r1, STAGE, id=created["id"], stage=stage)
        assert moved["updateOpportunityStage"]["probability"] == probability
    won = (await gateway.data(r1, STAGE, id=created["id"], stage="CLOSED_WON"))[
        "updateOpportunityStage"
    ]
    assert (won["stage"], won["probability"], won["dealScore"]) == ("CLOSED_WON", 100, 100)
    assert won["contractTerms"]["contractTerm"] == 12
    assert won["contractTerms"]["paymentTerms"] == "net_30"
    assert won["contractTerms"]["billingFrequency"] == "monthly"
    assert won["contractTerms"]["startDate"].endswith("-01")
    final = await gateway.error(r1, STAGE, id=created["id"], stage="NEGOTIATION")
    assert final["extensions"]["details"]["allowed_stages"] == []
    history = await gateway.data(
        r1,
        "query($id: ID!) { opportunity(id: $id) { history { field oldValue newValue changedBy { id } } } }",
        id=created["id"],
    )
    stages = [
        (h["oldValue"], h["newValue"])
        for h in history["opportunity"]["history"]
        if h["field"] == "stage"
    ]
    assert stages == [
        ("discovery", "qualification"),
        ("qualification", "proposal"),
        ("proposal", "negotiation"),
        ("negotiation", "closed_won"),
    ]
    assert all(h["changedBy"]["id"] == str(r1.id) for h in history["opportunity"]["history"])


async def test_closing_needs_products_and_a_loss_reason(gateway: Gateway) -> None:
    r1 = gateway.org.r1
    bare = await create(gateway, products=[])
    await gateway.data(r1, STAGE, id=bare["id"], stage="QUALIFICATION")
    await gateway.data(r1, STAGE, id=bare["id"], stage="NEGOTIATION")
    error = await gateway.error(r1, STAGE, id=bare["id"], stage="CLOSED_WON")
    assert set(error["extensions"]["details"]["fields"]) == {"products"}
    error = await gateway.error(r1, STAGE, id=bare["id"], stage="CLOSED_LOST")
    assert set(error["extensions"]["details"]["fields"]) == {"lossReason"}
    lost = await gateway.data(r1, STAGE, id=bare["id"], stage="CLOSED_LOST", loss="Budget cut")
    assert lost["updateOpportunityStage"]["probability"] == 0


async def test_concurrent_updates_from_one_version_one_wins(gateway: Gateway) -> None:
    created = await create(gateway)
    r1 = gateway.org.r1
    responses = await asyncio.gather(
        gateway.gql(r1, STAGE, id=created["id"], stage="QUALIFICATION", version=1),
        gateway.gql(r1, STAGE, id=created["id"], stage="PROPOSAL", version=1),
    )
    codes = sorted(
        r["errors"][0]["extensions"]["code"] if r.get("errors") else "OK" for r in responses
    )
    assert codes == ["CONFLICT", "OK"]
    history = await gateway.data(
        r1,
        "query($id: ID!) { opportunity(id: $id) { version history { field } } }",
        id=created["id"],
    )
    assert history["opportunity"]["version"] == 2
    assert [h["field"] for h in history["opportunity"]["history"]].count("stage") == 1


async def test_update_and_reassign(gateway: Gateway) -> None:
    org = gateway.org
    created = await create(gateway)
    update = """mutation($id: ID!, $input: UpdateOpportunityInput!) {
      updateOpportunity(id: $id, input: $input) { amount expectedCloseDate version history { field oldValue newValue } } }"""
    data = await gateway.data(
        org.r1,
        update,
        id=created["id"],
        input={"amount": 150000, "expectedCloseDate": "2026-05-31"},
    )
    changed = data["updateOpportunity"]
    assert changed["amount"] == 150000.0
    assert {h["field"] for h in changed["history"]} == {"amount", "expected_close_date"}
    owner_field = await gateway.error(
        org.r1, update, id=created["id"], input={"ownerId": str(org.r2.id)}
    )
    assert owner_field["extensions"]["code"] == "VALIDATION_ERROR"
    reassign = """mutation($id: ID!, $owner: ID!) {
      reassignOpportunity(id: $id, ownerId: $owner, reason: "Rebalance") { owner { id } } }"""
    by_rep = await gateway.error(org.r1, reassign, id=created["id"], owner=str(org.r2.id))
    assert by_rep["extensions"]["code"] == "FORBIDDEN"
    outside_team = await gateway.error(org.m1, reassign, id=created["id"], owner=str(org.r4.id))
    assert outside_team["extensions"]["code"] == "FORBIDDEN"
    moved = await gateway.data(org.m1, reassign, id=created["id"], owner=str(org.r2.id))
    assert moved["reassignOpportunity"]["owner"]["id"] == str(org.r2.id)
    gone = await gateway.error(
        org.r1, "query($id: ID!) { opportunity(id: $id) { id } }", id=created["id"]
    )
    assert gone["extensions"]["code"] == "NOT_FOUND"


async def test_nested_page_statements_do_not_grow(
    gateway: Gateway, count_statements: StatementCounter
) -> None:
    account = await make_account(gateway)
    for n in range(50):
        await gateway.data(
            gateway.org.admin,
            CREATE,
            input=spec_create(account, str(gateway.org.t1_reps[n % 3].id), name=f"Deal {n}"),
        )
    query = """query($limit: Int!) { opportunities(limit: $limit) {
      items { name account { name } owner { name } territory { name } } } }"""
    counts = []
    for limit in (10, 50):
        count_statements.statements.clear()
        data = await gateway.data(gateway.org.admin, query, limit=limit)
        assert len(data["opportunities"]["items"]) == limit
        counts.append(len(count_statements.statements))
    assert counts[0] == counts[1], count_statements.statements
    # Authentication (BEGIN, the user), the page, accounts, owners, territories.
    assert counts[1] <= 7


CONVERT = """
mutation($lead: ID!, $input: ConvertLeadInput!) {
  convertLead(leadId: $lead, input: $input) { id name stage amount expectedCloseDate
    account { id name contacts { email isPrimary } } owner { id } leadId }
}"""


async def test_convert_lead_once(gateway: Gateway) -> None:
    org = gateway.org
    lead = (
        await gateway.data(
            org.admin,
            'mutation { createLead(input: {email: "john.doe@acme.io", company: "Acme Corp", country: "US", firstName: "John"}) { id assignedTo { id } } }',
        )
    )["createLead"]
    spec_body = {
        "opportunityName": "Acme Corp - Enterprise Plan",
        "amount": 120000.00,
        "expectedCloseDate": "2026-04-30",
        "stage": "DISCOVERY",
    }
    data = await gateway.data(org.admin, CONVERT, lead=lead["id"], input=spec_body)
    opportunity = data["convertLead"]
    assert opportunity["stage"] == "DISCOVERY"
    assert opportunity["leadId"] == lead["id"]
    assert opportunity["owner"]["id"] == lead["assignedTo"]["id"]
    assert opportunity["account"]["name"] == "Acme Corp"
    assert opportunity["account"]["contacts"] == [{"email": "john.doe@acme.io", "isPrimary": True}]
    converted = await gateway.data(
        org.admin,
        "query($id: ID!) { lead(id: $id) { status convertedAt opportunityId } }",
        id=lead["id"],
    )
    assert converted["lead"]["status"] == "CONVERTED"
    assert converted["lead"]["opportunityId"] == opportunity["id"]

    again = await gateway.error(org.admin, CONVERT, lead=lead["id"], input=spec_body)
    assert again["extensions"]["code"] == "CONFLICT"
    counts = await gateway.data(
        org.admin, "{ accounts { totalCount } opportunities { totalCount } }"
    )
    assert counts == {"accounts": {"totalCount": 1}, "opportunities": {"totalCount": 1}}


async def test_conversion_reuses_an_account_of_the_same_company(gateway: Gateway) -> None:
    org = gateway.org
    existing = await make_account(gateway, name="Globex")
    lead = (
        await gateway.data(
            org.admin,
            'mutation { createLead(input: {email: "hank@globex.example.com", company: "GLOBEX"}) { id } }',
        )
    )["createLead"]
    data = await gateway.data(
        org.admin, CONVERT, lead=lead["id"], input={"opportunityName": "Globex deal"}
    )
    assert data["convertLead"]["account"]["id"] == str(existing.id)
