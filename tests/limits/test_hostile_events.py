"""Hostile messages and deliveries: dead-lettered or refused with a clear error, never a crash
or a retry loop (Marketing's lead.qualified over Kafka; Customer Experience's webhook)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from sales_graph import jsonlimits
from sales_graph.worker.consumer import dlq_topic
from sales_graph.worker.marketing import MESSAGE_DEPTH
from tests.events.conftest import produce, until
from tests.events.flow_conftest import (  # noqa: F401 (fixtures: billing_sim, flow)
    BILLING_KEY,
    Flow,
    billing_sim,
    consumer_of,
    lead_qualified,
    only_flow_consumers,
    open_flow,
    read_raw,
)
from tests.federation.conftest import gateway, signed_headers, sims, upstream_overrides  # noqa: F401
from tests.graphql.conftest import Gateway


def deep_text(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def deep(levels: int) -> Any:
    return orjson.loads(deep_text(levels))


def with_deep(message: dict[str, Any], levels: int) -> bytes:
    """``message`` as JSON with its "DEEP" string replaced by an object nested ``levels`` deep
    (too deep for an encoder to write)."""
    return orjson.dumps(message).replace(b'"DEEP"', deep_text(levels))


async def test_deep_lead_qualified_messages_are_dead_lettered_at_once(flow: Flow) -> None:
    running = flow.gateway
    events = await flow.start()
    topic = running.topics.marketing_leads
    extra = with_deep(lead_qualified("extra@example.com", notes="DEEP"), 500)
    # A wrong type whose value is deep: the schema validator's message would print it.
    wrong = lead_qualified("wrong@example.com")
    wrong["payload"]["profile"] = ["DEEP"]
    valid = lead_qualified("after@example.com")
    for message in (extra, with_deep(wrong, 300), valid):
        await produce(running.bootstrap, topic, message, key="k")

    await until(lambda: flow.lead(valid["payload"]["lead_id"]))
    dead = await read_raw(running.bootstrap, dlq_topic(topic), count=2)
    errors = [m.headers["dlq_error"] for m in dead]
    assert (
        errors
        == [f"Rejected: not a valid lead.qualified event: nested more than {MESSAGE_DEPTH} levels"]
        * 2
    )
    stats = consumer_of(events, "marketing-leads").stats

    async def counted() -> bool:
        return (stats.handled, stats.dead_lettered) == (1, 2)

    await until(counted, deadline_s=10)
    assert stats.failures == 0  # refused once, not retried
    assert await flow.leads_with_email("extra@example.com") == []


async def test_hostile_webhook_deliveries_are_400s(
    gateway: Gateway,  # noqa: F811
) -> None:
    account = str(uuid.uuid4())
    bodies = {
        "data": {"type": "account.signals_updated", "data": deep(jsonlimits.MAX_DEPTH + 1)},
        "data ": {
            "type": "account.signals_updated",
            "data": {"account_id": account, "x": "DEEP"},
        },
        "data  ": {"type": "x", "data": {"k": "v" * (jsonlimits.MAX_BYTES + 1)}},
        "open_critical_tickets": {
            "type": "account.signals_updated",
            "data": {"account_id": account, "open_critical_tickets": 2**40},
        },
    }
    for field, delivery in bodies.items():
        body = with_deep(delivery, 900)
        response = await gateway.client.post(
            "/webhooks/customer-experience", content=body, headers=signed_headers(body)
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field.strip() in str(error["details"]), error
    for body in (b"[]", b"null", b'"x"', b'{"a":' * 2000 + b"1" + b"}" * 2000):
        response = await gateway.client.post(
            "/webhooks/customer-experience", content=body, headers=signed_headers(body)
        )
        assert response.status_code == 400, response.text
