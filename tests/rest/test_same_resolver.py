"""REST and GraphQL answer from one resolver: the same data and the same errors for one call."""

from __future__ import annotations

from sales_graph.db.models import Account
from tests.rest.conftest import Rest
from tests.rest.test_contract import create_opportunity, new_lead

LEAD = """query($id: ID!) {
  lead(id: $id) { id status firstName lastName email company score createdAt updatedAt
                  assignedTo { id name } territory { id } }
}"""
STAGE = """mutation($id: ID!, $stage: OpportunityStage!) {
  updateOpportunityStage(opportunityId: $id, stage: $stage) { id }
}"""


async def test_same_data(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    graphql = (await rest.gateway.data(org.r4, LEAD, id=lead["id"]))["lead"]
    via_rest = await rest.ok(org.r4, "GET", f"/api/v1/leads/{lead['id']}")
    assert via_rest["id"] == graphql["id"]
    assert via_rest["status"] == graphql["status"].lower()
    assert via_rest["first_name"] == graphql["firstName"]
    assert via_rest["email"] == graphql["email"]
    assert via_rest["score"] == graphql["score"]
    assert via_rest["assigned_to"] == graphql["assignedTo"]
    assert via_rest["territory_id"] == graphql["territory"]["id"]
    assert via_rest["created_at"] == graphql["createdAt"]
    assert via_rest["updated_at"] == graphql["updatedAt"]


async def test_same_not_found(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    graphql = await rest.gateway.error(org.r1, LEAD, id=lead["id"])
    via_rest = await rest.error(org.r1, "GET", f"/api/v1/leads/{lead['id']}", status=404)
    assert via_rest["code"] == graphql["extensions"]["code"] == "NOT_FOUND"
    assert via_rest["message"] == graphql["message"]


async def test_same_stage_error(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    graphql = await rest.gateway.error(org.admin, STAGE, id=created["id"], stage="CLOSED_WON")
    path = f"/api/v1/opportunities/{created['id']}/stage"
    via_rest = await rest.error(org.admin, "PUT", path, {"stage": "closed_won"}, status=400)
    assert via_rest["code"] == graphql["extensions"]["code"] == "VALIDATION_ERROR"
    assert via_rest["message"] == graphql["message"]
    assert via_rest["details"] == graphql["extensions"]["details"]
