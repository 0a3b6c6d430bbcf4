"""PUT /api/v1/opportunities/{id}/stage takes what GraphQL's updateOpportunityStage takes."""

from __future__ import annotations

from typing import Any

from sales_graph.db.models import Account
from tests.rest.conftest import Rest
from tests.rest.test_contract import create_opportunity, new_lead

TERMS = """query($id: ID!) {
  opportunity(id: $id) {
    stage lossReason
    contractTerms { contractTerm startDate paymentTerms billingFrequency }
  }
}"""


async def _opportunity_in(rest: Rest, account: Account, *stages: str) -> str:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    for stage in stages:
        path = f"/api/v1/opportunities/{created['id']}/stage"
        await rest.ok(org.admin, "PUT", path, {"stage": stage})
    opportunity_id: str = created["id"]
    return opportunity_id


async def _stored(rest: Rest, opportunity_id: str) -> dict[str, Any]:
    data = await rest.gateway.data(rest.gateway.org.admin, TERMS, id=opportunity_id)
    opportunity: dict[str, Any] = data["opportunity"]
    return opportunity


async def test_close_won_with_contract_terms(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    opportunity_id = await _opportunity_in(rest, account, "qualification", "negotiation")
    request = {
        "stage": "closed_won",
        "probability": 100,
        "contract_term": 24,
        "start_date": "2026-06-01",
        "payment_terms": "net_45",
        "billing_frequency": "quarterly",
        "special_requirements": "SSO before go-live",
        "onboarding_priority": "high",
    }
    path = f"/api/v1/opportunities/{opportunity_id}/stage"
    body = await rest.ok(org.admin, "PUT", path, request)
    assert body["stage"] == "closed_won"
    assert body["probability"] == 100
    stored = await _stored(rest, opportunity_id)
    assert stored["stage"] == "CLOSED_WON"
    assert stored["contractTerms"] == {
        "contractTerm": 24,
        "startDate": "2026-06-01",
        "paymentTerms": "net_45",
        "billingFrequency": "quarterly",
    }


async def test_close_lost_needs_a_loss_reason(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    opportunity_id = await _opportunity_in(rest, account, "qualification")
    path = f"/api/v1/opportunities/{opportunity_id}/stage"
    error = await rest.error(org.admin, "PUT", path, {"stage": "closed_lost"}, status=400)
    assert error["details"]["fields"] == {"loss_reason": "is required"}
    blank = {"stage": "closed_lost", "loss_reason": "  "}
    error = await rest.error(org.admin, "PUT", path, blank, status=400)
    assert error["details"]["fields"] == {
        "loss_reason": "must not be blank or contain NUL characters"
    }
    wrong = {"stage": "closed_lost", "loss_reason": "Budget cut", "probability": 10}
    error = await rest.error(org.admin, "PUT", path, wrong, status=400)
    assert error["details"]["fields"] == {"probability": "must be 0"}

    lost = {"stage": "closed_lost", "loss_reason": "Budget cut"}
    body = await rest.ok(org.admin, "PUT", path, lost)
    assert body["stage"] == "closed_lost"
    assert body["probability"] == 0
    assert (await _stored(rest, opportunity_id))["lossReason"] == "Budget cut"


async def test_contract_terms_are_checked(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    opportunity_id = await _opportunity_in(rest, account, "qualification", "negotiation")
    path = f"/api/v1/opportunities/{opportunity_id}/stage"
    request = {"stage": "closed_won", "contract_term": 0, "payment_terms": "net_90"}
    error = await rest.error(org.admin, "PUT", path, request, status=400)
    assert set(error["details"]["fields"]) == {"contract_term", "payment_terms"}
    assert (await _stored(rest, opportunity_id))["stage"] == "NEGOTIATION"
