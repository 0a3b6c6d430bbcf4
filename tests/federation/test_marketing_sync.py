"""syncLeadFromMarketing: the POST Marketing receives and what the lead keeps of the answer."""

from __future__ import annotations

import uuid
from typing import Any

from sales_graph.db.models import Lead
from sales_graph.simulators import RunningSimulators
from tests.graphql.conftest import Gateway

CREATE = """mutation($input: CreateLeadInput!) {
  createLead(input: $input) { id score version assignedTo { id } } }"""

SYNC = """mutation($id: ID!) { syncLeadFromMarketing(leadId: $id) {
  id score campaignId version attribution { touches } assignedTo { id } } }"""
MARKETING_SCORE = "query($id: ID!) { lead(id: $id) { marketingScore { score grade } } }"


async def _lead(gateway: Gateway) -> dict[str, Any]:
    lead_input = {"email": "lead1@example.com", "country": "US", "score": 10}
    data = await gateway.data(gateway.org.admin, CREATE, input=lead_input)
    lead: dict[str, Any] = data["createLead"]
    return lead


async def _set_score(gateway: Gateway, lead_id: str, score: int) -> None:
    async with gateway.runtime.db.session() as session:
        row = await session.get(Lead, uuid.UUID(lead_id))
        assert row is not None
        row.score = score
        session.add(row)


async def test_sync_posts_to_marketing_and_stores_its_score(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    lead = await _lead(gateway)
    marketing = await gateway.data(gateway.org.admin, MARKETING_SCORE, id=lead["id"])
    theirs = marketing["lead"]["marketingScore"]["score"]
    await _set_score(gateway, lead["id"], (theirs + 50) % 101)
    sims["marketing"].clear_requests()
    owner = gateway.org.t1_reps

    data = await gateway.data(gateway.org.admin, SYNC, id=lead["id"])

    synced = data["syncLeadFromMarketing"]
    assert synced["score"] == theirs
    assert synced["campaignId"].startswith("cmp_")
    assert synced["attribution"]["touches"]
    assert synced["version"] == lead["version"] + 1
    (post,) = sims["marketing"].requests_to(f"/api/v1/leads/{lead['id']}/sync", "POST")
    assert post.body["status"] == "new"
    assert post.body["owner_id"] in {str(rep.id) for rep in owner}
    assert post.body["owner_id"] == synced["assignedTo"]["id"]
    assert post.headers["idempotency-key"] == f"lead-sync-{lead['id']}-{lead['version']}"
    stored = await gateway.data(
        gateway.org.admin, "query($id: ID!) { lead(id: $id) { score } }", id=lead["id"]
    )
    assert stored["lead"]["score"] == theirs


async def test_a_rep_cannot_sync_another_reps_lead(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    lead = await _lead(gateway)
    org = gateway.org
    others = [
        rep for rep in (org.r1, org.r2, org.r3, org.r4) if str(rep.id) != lead["assignedTo"]["id"]
    ]
    for rep in others:
        error = await gateway.error(rep, SYNC, id=lead["id"])
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert sims["marketing"].requests_to(f"/api/v1/leads/{lead['id']}/sync") == []


async def test_a_rep_may_see_but_not_sync_an_unassigned_lead_of_their_territory(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    org = gateway.org
    row = Lead(
        email="u@example.com",
        email_normalized="u@example.com",
        territory_id=org.t1.id,
        status="new",
    )
    async with gateway.runtime.db.session() as session:
        session.add(row)
    error = await gateway.error(org.r1, SYNC, id=str(row.id))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert sims["marketing"].requests == []


async def test_a_marketing_outage_changes_nothing(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    lead = await _lead(gateway)
    sims["marketing"].set_knobs(outage=True)
    body = await gateway.gql(gateway.org.admin, SYNC, id=lead["id"])
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert body["errors"][0]["path"] == ["syncLeadFromMarketing"]
    stored = await gateway.data(
        gateway.org.admin, "query($id: ID!) { lead(id: $id) { score version } }", id=lead["id"]
    )
    assert stored["lead"] == {"score": lead["score"], "version": lead["version"]}
