"""Events reach a partner's endpoint signed (Standard Webhooks), at least once, in order per
aggregate, through failures and a dispatcher restart (docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import text

from sales_graph.telemetry import metrics
from tests.events.conftest import until
from tests.webhooks.conftest import HookGateway, Receiver

LEAD_EVENTS = ("lead.created", "lead.assigned", "lead.qualified")


async def qualify(gateway: HookGateway, key: str, lead_id: str) -> None:
    response = await gateway.client.post(
        "/graphql",
        json={
            "query": "mutation($id: ID!) { qualifyLead(id: $id) { id } }",
            "variables": {"id": lead_id},
        },
        headers={"X-API-Key": key},
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text


def of_lead(received: list[Any], lead_id: str) -> list[str]:
    return [r.event["event_type"] for r in received if r.event["payload"].get("lead_id") == lead_id]


async def test_events_are_delivered_signed_and_in_order(
    gateway: HookGateway, hooks: Receiver
) -> None:
    hook = await gateway.hook(hooks.url, *LEAD_EVENTS)
    key, endpoint_id, secret = hook.key, hook.id, hook.secret
    leads = [await gateway.create_lead(key, f"hook{i}@example.com") for i in range(3)]
    for lead_id in leads:
        await qualify(gateway, key, lead_id)
    await gateway.start_events()

    # created, assigned (the automatic assignment), qualified: 3 per lead.
    await until(lambda: hooks.got(9))
    assert len(hooks.requests) == 9, [r.event["event_type"] for r in hooks.requests]
    for received in hooks.requests:
        event = hooks.verify(secret, received)
        assert received.webhook_id == event["event_id"]
        assert received.headers["content-type"] == "application/json"
        assert event["event_type"] in LEAD_EVENTS
    assert len({r.webhook_id for r in hooks.requests}) == 9
    for lead_id in leads:
        assert of_lead(hooks.requests, lead_id) == [
            "lead.created",
            "lead.assigned",
            "lead.qualified",
        ]

    log = await gateway.deliveries(key, endpoint_id)
    assert len(log) == 9
    assert {d["status"] for d in log} == {"delivered"}
    assert all(d["attempts"] == 1 and d["last_status_code"] == 204 for d in log)
    assert [d["id"] for d in log] == sorted((d["id"] for d in log), key=int, reverse=True)
    assert {d["event_id"] for d in log} == {r.webhook_id for r in hooks.requests}


async def test_an_event_is_fanned_out_once(gateway: HookGateway, hooks: Receiver) -> None:
    """A redelivered event (the consumer's inbox) makes no second delivery."""
    from sales_graph.worker.webhooks import fan_out_handler

    hook = await gateway.hook(hooks.url, "lead.created")
    lead_id = await gateway.create_lead(hook.key, "once@example.com")
    async with gateway.runtime.db.engine.connect() as connection:
        (envelope,) = (
            await connection.execute(
                text("SELECT envelope FROM outbox WHERE event_type = 'lead.created'")
            )
        ).one()
    assert envelope["payload"]["lead_id"] == lead_id
    handle = fan_out_handler(gateway.runtime)
    for _ in range(3):
        await handle(dict(envelope))
    assert len(await gateway.stored_deliveries(hook.id)) == 1


async def test_retries_until_the_receiver_recovers_across_a_restart(
    gateway: HookGateway, hooks: Receiver
) -> None:
    """A receiver answering 500 to each event's first two attempts gets every event, in order
    per lead, and each answered 2xx once, though the dispatcher is stopped and started again
    between the failures."""
    failures: Counter[str] = Counter()

    def answer(event: dict[str, Any]) -> int:
        failures[event["event_id"]] += 1
        return 500 if failures[event["event_id"]] <= 2 else 204

    hooks.answer = answer
    failed_before = metrics.WEBHOOK_ATTEMPTS.labels("failed")._value.get()
    delivered_before = metrics.WEBHOOK_ATTEMPTS.labels("delivered")._value.get()
    hook = await gateway.hook(hooks.url, *LEAD_EVENTS)
    key, endpoint_id, secret = hook.key, hook.id, hook.secret
    leads = [await gateway.create_lead(key, f"retry{i}@example.com") for i in range(2)]
    events = await gateway.start_events()
    await until(lambda: _some_failed(hooks))
    await events.stop()
    gateway._started.remove(events)
    for lead_id in leads:
        await qualify(gateway, key, lead_id)
    await gateway.start_events()

    await until(lambda: hooks.got(6), deadline_s=60)
    delivered = hooks.delivered()
    assert len(delivered) == 6
    assert len({r.webhook_id for r in delivered}) == 6
    for received in hooks.requests:
        hooks.verify(secret, received)
    for lead_id in leads:
        assert of_lead(delivered, lead_id) == ["lead.created", "lead.assigned", "lead.qualified"]
        # No event of the lead was even tried before the one before it was delivered.
        tried = [
            r.event["event_type"]
            for r in hooks.requests
            if r.event["payload"].get("lead_id") == lead_id
        ]
        assert tried == [t for t in LEAD_EVENTS for _ in range(3)], tried

    async def recorded() -> list[dict[str, Any]] | None:
        # The dispatcher records a round's outcomes once its requests are answered.
        log = await gateway.deliveries(key, endpoint_id)
        return log if all(d["status"] == "delivered" for d in log) else None

    log = await until(recorded)
    assert len(log) == 6
    assert all(d["attempts"] == 3 for d in log), log
    assert metrics.WEBHOOK_ATTEMPTS.labels("failed")._value.get() - failed_before == 12
    assert metrics.WEBHOOK_ATTEMPTS.labels("delivered")._value.get() - delivered_before == 6


async def _some_failed(hooks: Receiver) -> bool:
    return any(r.status == 500 for r in hooks.requests)
