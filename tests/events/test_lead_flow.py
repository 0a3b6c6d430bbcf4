"""The spec's Lead-to-Opportunity flow over Kafka, PostgreSQL and the Billing simulator: Marketing's
lead.qualified in, the sales process through GraphQL, Billing's and Operations' events out, and
the contract created in Billing once; with redeliveries, invalid messages and failures."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import orjson
import pytest

from sales_graph.services import lead_intake
from sales_graph.worker.billing import ContractSweep
from sales_graph.worker.consumer import dlq_topic
from sales_graph.worker.launch import EventRuntime
from tests.events.conftest import Message, produce, read_topic, until
from tests.events.flow_conftest import (  # noqa: F401 (fixtures: billing_sim, flow)
    BILLING_KEY,
    Flow,
    billing_sim,
    close_won,
    consumer_of,
    contract_start,
    convert,
    lead_qualified,
    only_flow_consumers,
    open_flow,
    read_raw,
    won_deal,
)

NOT_JSON = b'{"event_type": "lead.qualified", '
LEAD = """
query($id: ID!) {
  lead(id: $id) {
    id status email score source campaignId
    territory { id } assignedTo { id }
    attribution { firstTouch lastTouch touches }
  }
}"""
OPPORTUNITY = """
query($id: ID!) {
  opportunity(id: $id) { id stage contractId contract { contractId status amount } }
}"""


def _of_type(event_type: str) -> Callable[[Message], bool]:
    return lambda m: m.value.get("event_type") == event_type


def _types(value: Any) -> Any:
    """The JSON shape of a value: each leaf replaced by its type's name."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def _handled(events: EventRuntime, name: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return consumer_of(events, name).stats.handled >= count

    return done


async def test_a_qualified_lead_becomes_a_won_deal_with_one_billing_contract(flow: Flow) -> None:
    gateway, org = flow.gateway, flow.gateway.org
    events = await flow.start()
    message = lead_qualified()
    lead_id = message["payload"]["lead_id"]
    await produce(gateway.bootstrap, gateway.topics.marketing_leads, message, key=lead_id)

    # Lead Service: the lead stored with Marketing's id, then assigned to a territory and a rep.
    await until(lambda: flow.lead(lead_id))
    lead = (await gateway.data(org.admin, LEAD, id=lead_id))["lead"]
    assert lead["status"] == "QUALIFIED"
    assert (lead["email"], lead["score"], lead["source"]) == ("john.doe@example.com", 85, "webinar")
    assert lead["campaignId"] == message["payload"]["campaign_id"]
    assert lead["attribution"] == {
        "firstTouch": "paid_search",
        "lastTouch": "webinar",
        "touches": ["paid_search", "email", "webinar"],
    }
    # No country: the catch-all territory T2 and its one rep.
    assert lead["territory"] == {"id": str(org.t2.id)}
    assert lead["assignedTo"] == {"id": str(org.r4.id)}

    # Opportunity Service: the rep converts the lead and takes the deal to closed won.
    opportunity = await convert(gateway, org.r4, lead_id)
    opportunity_id = opportunity["id"]
    assert opportunity["owner"] == {"id": str(org.r4.id)}
    await close_won(gateway, org.r4, opportunity_id)

    # Billing: the spec's opportunity.closed_won, field for field.
    billing = await read_topic(
        gateway.bootstrap, gateway.topics.billing, count=1, where=_of_type("opportunity.closed_won")
    )
    assert len(billing) == 1
    closed_won = billing[0].value
    assert billing[0].key == opportunity_id
    assert (closed_won["source"], closed_won["version"]) == ("sales-system", "1.0")
    assert closed_won["user_id"] == str(org.r4.id)
    payload = closed_won["payload"]
    assert payload == {
        "opportunity_id": opportunity_id,
        "account_id": opportunity["account"]["id"],
        "amount": 120000.0,
        "contract_term": 12,
        "start_date": contract_start().isoformat(),
        "payment_terms": "net_30",
        "billing_frequency": "monthly",
        "products": [
            {"product_id": "prod_123", "quantity": 100, "unit_price": 100.0, "discount": 0.1}
        ],
        "owner": {"user_id": str(org.r4.id), "name": org.r4.name, "email": org.r4.email},
    }
    assert _types(payload) == {
        "opportunity_id": "str",
        "account_id": "str",
        "amount": "float",
        "contract_term": "int",
        "start_date": "str",
        "payment_terms": "str",
        "billing_frequency": "str",
        "products": [
            {"product_id": "str", "quantity": "int", "unit_price": "float", "discount": "float"}
        ],
        "owner": {"user_id": "str", "name": "str", "email": "str"},
    }
    assert uuid.UUID(payload["opportunity_id"])
    assert uuid.UUID(payload["account_id"])
    assert date.fromisoformat(payload["start_date"]) > date.today()

    # Operations: the spec's onboarding.trigger, field for field.
    operations = await read_topic(
        gateway.bootstrap, gateway.topics.operations, count=1, where=_of_type("onboarding.trigger")
    )
    assert len(operations) == 1
    onboarding = operations[0].value["payload"]
    assert onboarding == {
        "opportunity_id": opportunity_id,
        "account_id": opportunity["account"]["id"],
        "account_name": "Acme Corp",
        "contract_start_date": contract_start().isoformat(),
        "products": [
            {
                "product_id": "prod_123",
                "product_name": "Enterprise Plan",
                "quantity": 100,
                "configuration": {
                    "data_center": "us-east-1",
                    "features": ["sso", "advanced_analytics", "api_access"],
                },
            }
        ],
        "contacts": [
            {
                "type": "primary",
                "name": "John Doe",
                "email": "john.doe@example.com",
                "phone": "+1-555-0100",
            }
        ],
        "special_requirements": None,
        "priority": "high",
    }

    # Billing System: exactly one contract request, keyed by the opportunity; its id stored.
    stored = await until(lambda: _contract_id(flow, opportunity_id))
    posts = flow.contract_posts()
    assert len(posts) == 1
    assert posts[0].headers["idempotency-key"] == opportunity_id
    assert posts[0].headers["x-request-id"] == closed_won["event_id"]
    assert posts[0].body["opportunity_id"] == opportunity_id
    assert posts[0].body["amount"] == 120000.0
    assert [c["contract_id"] for c in flow.billing.state()["contracts"]] == [stored]
    shown = (await gateway.data(org.r4, OPPORTUNITY, id=opportunity_id))["opportunity"]
    assert shown["stage"] == "CLOSED_WON"
    assert shown["contract"] == {
        "contractId": stored,
        "status": "pending_signature",
        "amount": 1.2e5,
    }

    # The lead's events: what a user's commands emit, by the system, in Marketing's correlation.
    lead_events = await read_topic(
        gateway.bootstrap,
        gateway.topics.leads,
        count=4,
        where=lambda m: m.key == lead_id,
    )
    by_type = {m.value["event_type"]: m.value for m in lead_events}
    assert set(by_type) == {"lead.created", "lead.assigned", "lead.qualified", "lead.converted"}
    for event_type in ("lead.created", "lead.assigned", "lead.qualified"):
        envelope = by_type[event_type]
        assert envelope["user_id"] is None
        assert envelope["correlation_id"] == message["correlation_id"]
    assert by_type["lead.assigned"]["payload"]["assigned_to"] == str(org.r4.id)
    assert by_type["lead.qualified"]["payload"]["status"] == "qualified"
    assert consumer_of(events, "marketing-leads").stats.dead_lettered == 0
    assert consumer_of(events, "billing-contracts").stats.dead_lettered == 0


async def _contract_id(flow: Flow, opportunity_id: str) -> str | None:
    data = await flow.gateway.data(flow.gateway.org.admin, OPPORTUNITY, id=opportunity_id)
    contract_id: str | None = data["opportunity"]["contractId"]
    return contract_id


async def test_a_lead_qualified_delivered_twice_creates_one_lead(flow: Flow) -> None:
    gateway = flow.gateway
    events = await flow.start()
    topic = gateway.topics.marketing_leads
    message = lead_qualified("twice@example.com")
    lead_id = message["payload"]["lead_id"]
    for _ in range(2):
        await produce(gateway.bootstrap, topic, message, key=lead_id)
    await until(_handled(events, "marketing-leads", 2))
    assert [str(lead.id) for lead in await flow.leads_with_email("twice@example.com")] == [lead_id]
    for event_type in ("lead.created", "lead.qualified", "lead.assigned"):
        assert await flow.outbox_count(event_type, lead_id) == 1, event_type
    assert await flow.inbox("marketing-leads") == [message["event_id"]]

    # A later event about the same lead updates it; without an event id, its content is the key.
    later = lead_qualified("twice@example.com", lead_id=lead_id, score=95)
    del later["event_id"]
    for _ in range(2):
        await produce(gateway.bootstrap, topic, later, key=lead_id)
    await until(_handled(events, "marketing-leads", 4))
    lead = await flow.lead(lead_id)
    assert lead is not None
    assert (lead.score, lead.status) == (95, "qualified")
    assert await flow.outbox_count("lead.created", lead_id) == 1
    assert await flow.outbox_count("lead.qualified", lead_id) == 1  # it already was
    inbox = await flow.inbox("marketing-leads")
    assert len(inbox) == 2
    assert inbox[1].startswith("sha256:")


async def test_invalid_messages_go_to_the_dead_letters_and_the_next_one_is_handled(
    flow: Flow,
) -> None:
    gateway = flow.gateway
    events = await flow.start()
    topic = gateway.topics.marketing_leads
    no_email = lead_qualified()
    del no_email["payload"]["profile"]["email"]
    bad_score = lead_qualified("bad-score@example.com", score=150)
    not_a_uuid = lead_qualified("mkt-id@example.com", lead_id="mkt-42")
    # Valid JSON Schema, refused by the lead's own rules (money has two decimal places).
    odd_revenue = lead_qualified("odd@example.com")
    odd_revenue["payload"]["firmographic"]["annual_revenue"] = 1000.555
    valid = lead_qualified("after@example.com")
    for message in (NOT_JSON, no_email, bad_score, not_a_uuid, odd_revenue, valid):
        await produce(gateway.bootstrap, topic, message, key="k")

    await until(lambda: flow.lead(valid["payload"]["lead_id"]))
    dead = await read_raw(gateway.bootstrap, dlq_topic(topic), count=5)
    assert len(dead) == 5
    errors = [m.headers["dlq_error"] for m in dead]
    assert all(error.startswith("Rejected: ") for error in errors)
    assert "$.payload.profile: 'email' is a required property" in errors[1]
    assert "$.payload.score: 150 is greater than the maximum of 100" in errors[2]
    assert "$.payload.lead_id: " in errors[3]
    assert "firmographic.annual_revenue" in errors[4]
    assert all(m.headers["dlq_consumer"] == "marketing-leads" for m in dead)
    assert dead[0].value == NOT_JSON
    assert orjson.loads(dead[1].value) == no_email  # the original message, as it was
    stats = consumer_of(events, "marketing-leads").stats

    async def counted() -> bool:  # counted just after the effect a reader can see
        return (stats.handled, stats.dead_lettered) == (1, 5)

    await until(counted, deadline_s=10)
    assert stats.failures == 0
    for email in ("bad-score@example.com", "mkt-id@example.com", "odd@example.com"):
        assert await flow.leads_with_email(email) == []


async def test_a_lead_whose_handling_fails_transiently_is_retried_then_stored_once(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch fails (the database went away in it), so the consumer handles its message
    alone, which fails twice more before it is stored."""
    gateway = flow.gateway
    real = lead_intake.ingest_qualified_lead
    real_batch = lead_intake.IntakeBatch.ingest
    calls = batch_calls = 0

    async def flaky_batch(batch: lead_intake.IntakeBatch, data: Any) -> lead_intake.Intake:
        nonlocal batch_calls
        batch_calls += 1
        await real_batch(batch, data)
        raise ConnectionResetError("the database went away")

    async def flaky(*args: Any, **kwargs: Any) -> lead_intake.Intake:
        nonlocal calls
        calls += 1
        intake = await real(*args, **kwargs)  # the lead is written, then the transaction fails
        if calls <= 2:
            raise ConnectionResetError("the database went away")
        return intake

    monkeypatch.setattr(lead_intake, "ingest_qualified_lead", flaky)
    monkeypatch.setattr(lead_intake.IntakeBatch, "ingest", flaky_batch)
    events = await flow.start()
    message = lead_qualified("flaky@example.com")
    lead_id = message["payload"]["lead_id"]
    await produce(gateway.bootstrap, gateway.topics.marketing_leads, message, key=lead_id)

    await until(_handled(events, "marketing-leads", 1))
    stats = consumer_of(events, "marketing-leads").stats
    assert (batch_calls, stats.batch_fallbacks) == (1, 1)
    assert (calls, stats.failures, stats.dead_lettered) == (3, 2, 0)
    assert [str(lead.id) for lead in await flow.leads_with_email("flaky@example.com")] == [lead_id]
    assert await flow.outbox_count("lead.created", lead_id) == 1
    assert await flow.inbox("marketing-leads") == [message["event_id"]]


async def test_billing_failing_transiently_is_retried_and_a_redelivery_does_not_call_it_again(
    flow: Flow,
) -> None:
    gateway = flow.gateway
    events = await flow.start()
    # 503 for the first three requests: more than the connector's own two attempts.
    flow.billing.set_knobs(fail_next=3)
    opportunity_id = await won_deal(gateway, "retried@example.com")

    stored = await until(lambda: _contract_id(flow, opportunity_id))
    posts = flow.contract_posts()
    assert [p.status for p in posts] == [503, 503, 503, 201]
    assert {p.headers["idempotency-key"] for p in posts} == {opportunity_id}
    assert len({p.body["amount"] for p in posts}) == 1
    stats = consumer_of(events, "billing-contracts").stats
    await until(_handled(events, "billing-contracts", 1), deadline_s=10)
    assert (stats.handled, stats.dead_lettered) == (1, 0)
    assert stats.failures >= 1

    # The same event again (the relay may publish twice): Billing is not asked again.
    [published] = await read_topic(
        gateway.bootstrap, gateway.topics.billing, count=1, where=_of_type("opportunity.closed_won")
    )
    await produce(gateway.bootstrap, gateway.topics.billing, published.value, key=opportunity_id)
    await until(_handled(events, "billing-contracts", 2))
    assert len(flow.contract_posts()) == 4
    assert await _contract_id(flow, opportunity_id) == stored
    assert len(flow.billing.state()["contracts"]) == 1


async def test_a_contract_missed_during_a_billing_outage_is_created_by_the_sweep(
    flow: Flow,
) -> None:
    gateway = flow.gateway
    events = await flow.start()
    flow.billing.set_knobs(outage=True)
    opportunity_id = await won_deal(gateway, "outage@example.com")

    [dead] = await read_topic(gateway.bootstrap, dlq_topic(gateway.topics.billing), count=1)
    assert dead.key == opportunity_id
    assert "UpstreamUnavailable" in dead.headers["dlq_error"]
    # The consumer counts the dead letter once Kafka has acknowledged it, which can be just
    # after this test has read it back.
    contracts = consumer_of(events, "billing-contracts")

    async def counted() -> bool:
        return contracts.stats.dead_lettered == 1

    await until(counted, deadline_s=10)
    assert await _contract_id(flow, opportunity_id) is None

    sweep = ContractSweep(gateway.runtime, grace_s=0)
    assert await sweep.run_once() == 0  # still down: tried, nothing stored
    flow.billing.set_knobs(outage=False)
    assert await sweep.run_once() == 1
    assert await sweep.run_once() == 0  # nothing left
    stored = await _contract_id(flow, opportunity_id)
    assert [c["contract_id"] for c in flow.billing.state()["contracts"]] == [stored]
    created = [p for p in flow.contract_posts() if p.status == 201]
    assert len(created) == 1
    assert created[0].headers["idempotency-key"] == opportunity_id


async def test_the_intake_matches_by_id_or_email_and_keeps_a_sales_decision(flow: Flow) -> None:
    """The service behind the consumer: a US lead goes to T1; a later event with another id
    finds it by email; a disqualified lead stays so; an address of another lead is not taken."""
    gateway, org = flow.gateway, flow.gateway.org

    async def ingest(message: dict[str, Any]) -> lead_intake.Intake:
        async with gateway.runtime.db.session() as session:
            return await lead_intake.ingest_qualified_lead(
                session, lead_intake.QualifiedLead.model_validate(message["payload"])
            )

    first = lead_qualified("ada@example.com")
    first["payload"]["firmographic"]["country"] = "us"
    lead_id = first["payload"]["lead_id"]
    intake = await ingest(first)
    assert intake.created
    assert str(intake.lead.id) == lead_id
    assert (intake.lead.status, intake.lead.country) == ("qualified", "US")
    assert intake.lead.territory_id == org.t1.id
    assert intake.lead.assigned_to_id in {r.id for r in org.t1_reps}

    await gateway.data(
        org.admin,
        'mutation($id: ID!) { disqualifyLead(id: $id, reason: "No budget") { id } }',
        id=lead_id,
    )
    again = await ingest(lead_qualified("ADA@example.com", score=99))
    assert not again.created
    assert str(again.lead.id) == lead_id
    assert (again.lead.status, again.lead.score) == ("disqualified", 99)

    await ingest(lead_qualified("grace@example.com"))
    grace_again = lead_qualified("grace@example.com", lead_id=lead_id)
    grace_again["payload"]["profile"]["title"] = "CTO"
    moved = await ingest(grace_again)
    assert str(moved.lead.id) == lead_id
    assert (moved.lead.email, moved.lead.title) == ("ADA@example.com", "CTO")
    assert await flow.outbox_count("lead.created", lead_id) == 1
    assert await flow.outbox_count("lead.qualified", lead_id) == 1
    assert await flow.outbox_count("lead.assigned", lead_id) == 1
