"""Every event the commands emit, taken from the outbox after a day of sales work through
GraphQL, is valid against its JSON Schema (schema/events), envelope and payload."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from sales_graph.db.models import OutboxEvent
from sales_graph.events.catalog import EVENTS
from sales_graph.events.schemas import validate_event
from tests.events.conftest import EventGateway

M = {
    "territory": """mutation($i: CreateTerritoryInput!) { createTerritory(input: $i) { id } }""",
    "update_territory": """mutation($id: ID!, $i: UpdateTerritoryInput!) {
        updateTerritory(id: $id, input: $i) { id } }""",
    "lead": """mutation($i: CreateLeadInput!) { createLead(input: $i) { id assignedTo { id } } }""",
    "qualify": """mutation($id: ID!) { qualifyLead(id: $id) { id } }""",
    "assign": """mutation($i: AssignTerritoryInput!) { assignTerritory(input: $i) { reason } }""",
    "convert": """mutation($id: ID!, $i: ConvertLeadInput!) { convertLead(leadId: $id, input: $i) {
        id } }""",
    "update": """mutation($id: ID!, $i: UpdateOpportunityInput!) {
        updateOpportunity(id: $id, input: $i) { id } }""",
    "stage": """mutation($id: ID!, $stage: OpportunityStage!, $loss: String, $req: String,
        $prio: String) {
        updateOpportunityStage(opportunityId: $id, stage: $stage, lossReason: $loss,
          specialRequirements: $req, onboardingPriority: $prio) { id stage } }""",
    "reassign": """mutation($id: ID!, $owner: ID!) { reassignOpportunity(id: $id, ownerId: $owner,
        reason: "coverage") { id } }""",
    "quota": """mutation($i: SetQuotaInput!) { setQuota(input: $i) { id } }""",
    "update_quota": """mutation($id: ID!, $i: UpdateQuotaInput!) { updateQuota(id: $id, input: $i) {
        id } }""",
}


def _quarter(day: date) -> str:
    return f"Q{(day.month - 1) // 3 + 1}_{day.year}"


async def test_every_emitted_event_is_valid_against_its_schema(event_gateway: EventGateway) -> None:
    gw = event_gateway
    org = gw.org
    admin, m1 = org.admin, org.m1
    today = date.today()
    territory = (
        await gw.data(
            admin,
            M["territory"],
            i={
                "name": "EMEA",
                "ownerId": str(org.m2.id),
                "memberIds": [str(org.r4.id)],
                "rules": [{"country": "DE"}],
            },
        )
    )["createTerritory"]["id"]
    await gw.data(admin, M["update_territory"], id=territory, i={"description": "Europe"})
    lead = (
        await gw.data(
            admin,
            M["lead"],
            i={
                "email": "ada@acme.example.com",
                "firstName": "Ada",
                "company": "Acme",
                "country": "US",
            },
        )
    )["createLead"]
    await gw.data(
        admin,
        M["assign"],
        i={
            "leadId": lead["id"],
            "territoryId": str(org.t1.id),
            "assignedTo": str(org.r1.id),
            "reason": "named account",
        },
    )
    await gw.data(org.r1, M["qualify"], id=lead["id"])
    opportunity = (
        await gw.data(
            org.r1,
            M["convert"],
            id=lead["id"],
            i={
                "opportunityName": "Acme platform",
                "amount": 150000,
                "expectedCloseDate": today.isoformat(),
            },
        )
    )["convertLead"]["id"]
    await gw.data(
        org.r1,
        M["update"],
        id=opportunity,
        i={
            "amount": 200000,
            "products": [
                {
                    "productId": "prod_123",
                    "productName": "Enterprise Plan",
                    "quantity": 100,
                    "unitPrice": 2000,
                    "discount": 0,
                    "configuration": {"data_center": "eu-1"},
                }
            ],
        },
    )
    await gw.data(m1, M["reassign"], id=opportunity, owner=str(org.r2.id))
    quota = (
        await gw.data(
            m1,
            M["quota"],
            i={"period": _quarter(today), "amount": 150000, "userId": str(org.r2.id)},
        )
    )["setQuota"]["id"]
    await gw.data(m1, M["update_quota"], id=quota, i={"amount": 180000})
    for stage in ("PROPOSAL", "NEGOTIATION"):
        await gw.data(m1, M["stage"], id=opportunity, stage=stage)
    await gw.data(
        m1,
        M["stage"],
        id=opportunity,
        stage="CLOSED_WON",
        req="SSO with the customer's IdP",
        prio="high",
    )
    # A second deal, lost.
    other = (
        await gw.data(
            admin,
            M["lead"],
            i={"email": "bob@beta.example.com", "company": "Beta", "country": "US"},
        )
    )["createLead"]
    owner = other["assignedTo"]["id"]
    lost = (
        await gw.data(admin, M["convert"], id=other["id"], i={"opportunityName": "Beta pilot"})
    )["convertLead"]["id"]
    await gw.data(admin, M["stage"], id=lost, stage="QUALIFICATION")
    await gw.data(admin, M["stage"], id=lost, stage="CLOSED_LOST", loss="budget")
    assert owner

    async with gw.runtime.db.session() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    for row in rows:
        validate_event(row.envelope)
    emitted = {row.event_type for row in rows}
    # forecasts: tests/events/test_forecast_flow.py; the Finance reports: tests/finance; a
    # disabled webhook endpoint: tests/webhooks/test_log.py
    assert emitted == set(EVENTS) - {
        "forecast.updated",
        "report.revenue_forecast",
        "report.pipeline",
        "report.territory_performance",
        "webhook.endpoint_disabled",
    }
    attained = [r for r in rows if r.event_type == "quota.attained"]
    assert len(attained) == 1
    assert attained[0].envelope["payload"]["attained_amount"] == 200000.0
    onboarding = next(r for r in rows if r.event_type == "onboarding.trigger").envelope["payload"]
    assert onboarding["priority"] == "high"
    assert onboarding["special_requirements"] == "SSO with the customer's IdP"
    assert onboarding["products"][0]["configuration"] == {"data_center": "eu-1"}
    assert onboarding["contacts"][0]["email"] == "ada@acme.example.com"
    # Every event of one aggregate in the order it happened (the relay keeps that order).
    versions = [
        r.envelope["payload"]["version"]
        for r in rows
        if r.key == opportunity and r.topic == "opportunities"
    ]
    assert versions == sorted(versions)
