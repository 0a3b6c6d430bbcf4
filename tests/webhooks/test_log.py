"""The delivery log and replay, secret rotation with overlap, and disabling an endpoint after a
delivery failed every attempt, with its notice event (docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.events.conftest import until
from tests.webhooks.conftest import PARTNER, HookGateway, Receiver


async def test_a_delivery_is_replayed(gateway: HookGateway, hooks: Receiver) -> None:
    hook = await gateway.hook(hooks.url, "lead.created")
    key, endpoint_id, secret = hook.key, hook.id, hook.secret
    await gateway.create_lead(key, "replay@example.com")
    await gateway.start_events()
    await until(lambda: hooks.got(1))
    (delivery,) = await gateway.deliveries(key, endpoint_id)

    response = await gateway.rest(
        key, "POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/replay"
    )
    assert response.status_code == 201, response.text
    replay = response.json()
    assert replay["replay_of"] == delivery["id"]
    assert replay["event_id"] == delivery["event_id"]
    await until(lambda: hooks.got(2))
    first, again = hooks.delivered()
    assert again.webhook_id == first.webhook_id == delivery["event_id"]
    assert hooks.verify(secret, again) == hooks.verify(secret, first)
    log = await gateway.deliveries(key, endpoint_id)
    assert [d["id"] for d in log] == [replay["id"], delivery["id"]]
    delivered = await gateway.deliveries(key, endpoint_id, status="delivered")
    assert len(delivered) == 2

    other = await gateway.api_key(PARTNER)
    refused = await gateway.rest(
        other, "POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/replay"
    )
    assert refused.status_code == 404, refused.text


async def test_a_rotated_secret_overlaps_the_previous_one(
    gateway: HookGateway, hooks: Receiver
) -> None:
    hook = await gateway.hook(hooks.url, "lead.created")
    key, endpoint_id, old = hook.key, hook.id, hook.secret
    response = await gateway.rest(
        key, "POST", f"/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", json={}
    )
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    assert new != old
    assert response.json()["endpoint"]["previous_secret_expires_at"] is not None
    await gateway.create_lead(key, "rotated@example.com")
    events = await gateway.start_events()
    await until(lambda: hooks.got(1))
    (received,) = hooks.delivered()
    assert len(received.headers["webhook-signature"].split()) == 2
    # A receiver that knows either secret verifies the delivery.
    hooks.verify(old, received)
    hooks.verify(new, received)

    # A rotation without overlap: only the newest secret signs.
    response = await gateway.rest(
        key,
        "POST",
        f"/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret",
        json={"overlap_seconds": 0},
    )
    newest = response.json()["secret"]
    await gateway.create_lead(key, "rotated2@example.com")
    await until(lambda: hooks.got(2))
    second = hooks.delivered()[1]
    assert len(second.headers["webhook-signature"].split()) == 1
    hooks.verify(newest, second)
    for stale in (old, new):
        try:
            Webhook(stale).verify(second.body, second.headers)
        except WebhookVerificationError:
            continue
        raise AssertionError("a secret rotated out still signs")
    await events.stop()
    gateway._started.remove(events)


async def test_an_endpoint_is_disabled_after_persistent_failure(
    gateway: HookGateway, hooks: Receiver
) -> None:
    hooks.answer = lambda event: 204 if event["event_type"] == "webhook.endpoint_disabled" else 503
    key = await gateway.api_key(PARTNER)
    failing_id, _ = await gateway.register(key, hooks.url + "?failing", "lead.created")
    _, notices_secret = await gateway.register(key, hooks.url, "webhook.endpoint_disabled")
    # Another client's endpoint hears nothing of it.
    other = await gateway.api_key(PARTNER)
    await gateway.register(other, hooks.url + "?other", "webhook.endpoint_disabled")
    await gateway.create_lead(key, "failing@example.com")
    await gateway.create_lead(key, "failing2@example.com")
    await gateway.start_events()

    async def notice() -> list[Any]:
        return [
            r for r in hooks.delivered() if r.event["event_type"] == "webhook.endpoint_disabled"
        ]

    (received,) = await until(notice, deadline_s=60)
    event = hooks.verify(notices_secret, received)
    assert event["payload"]["endpoint_id"] == failing_id
    assert "503" in event["payload"]["reason"]
    endpoint = (await gateway.rest(key, "GET", f"/api/v1/webhooks/endpoints/{failing_id}")).json()
    assert endpoint["enabled"] is False
    assert "4 attempts failed" in endpoint["disabled_reason"]
    log = await gateway.deliveries(key, failing_id)
    statuses = sorted(d["status"] for d in log)
    # The first event's delivery failed for good; the second waits behind the disabled endpoint.
    assert statuses.count("failed") >= 1, log
    failed = [d for d in log if d["status"] == "failed"]
    assert all(d["attempts"] == 4 and d["last_status_code"] == 503 for d in failed)
    assert not [r for r in hooks.requests if r.query == "other"]
    assert (
        len([r for r in hooks.requests if r.event["event_type"] == "webhook.endpoint_disabled"])
        == 1
    )

    # Enabled again, what waited is sent; a failed delivery is replayed by hand.
    hooks.answer = lambda event: 204
    response = await gateway.rest(
        key, "PUT", f"/api/v1/webhooks/endpoints/{failing_id}", json={"enabled": True}
    )
    assert response.status_code == 200, response.text
    assert response.json()["disabled_reason"] is None
    replayed = await gateway.rest(
        key, "POST", f"/api/v1/webhooks/deliveries/{failed[0]['id']}/replay"
    )
    assert replayed.status_code == 201, replayed.text

    async def settled() -> bool:
        log = await gateway.deliveries(key, failing_id)
        return all(d["status"] != "pending" for d in log)

    await until(settled, deadline_s=30)
    log = await gateway.deliveries(key, failing_id)
    assert log[0]["replay_of"] == failed[0]["id"]
    assert log[0]["status"] == "delivered"


async def test_a_pending_delivery_is_not_replayed(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    """Replay is for a delivered or failed delivery; one still pending (or in flight) will be
    sent anyway: a 409 CONFLICT in the error envelope, over REST and GraphQL alike."""
    gateway = quiet_gateway
    hook = await gateway.hook(hooks.url, "lead.created")
    await gateway.create_lead(hook.key, "pending@example.com")
    await gateway.start_events()

    async def logged() -> list[dict[str, Any]]:
        return await gateway.deliveries(hook.key, hook.id)

    (delivery,) = await until(logged)
    assert delivery["status"] == "pending"

    response = await gateway.rest(
        hook.key, "POST", f"/api/v1/webhooks/deliveries/{delivery['id']}/replay"
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "CONFLICT"
    assert "pending" in error["message"]
    assert error["details"] == {"status": "pending", "replayable": ["delivered", "failed"]}
    assert error["request_id"] == response.headers["X-Request-ID"]

    body = await gateway.graphql(
        hook.key,
        "mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }",
        id=delivery["id"],
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
    assert [d["id"] for d in await gateway.deliveries(hook.key, hook.id)] == [delivery["id"]]


async def test_a_rotation_with_overlap_null_takes_the_default(
    gateway: HookGateway, hooks: Receiver
) -> None:
    hook = await gateway.hook(hooks.url, "lead.created")
    path = f"/api/v1/webhooks/endpoints/{hook.id}/rotate-secret"
    overlap = timedelta(seconds=gateway.runtime.settings.webhooks.secret_overlap_s)
    for body in ({"overlap_seconds": None}, {}):
        before = datetime.now(UTC)
        response = await gateway.rest(hook.key, "POST", path, json=body)
        assert response.status_code == 200, (body, response.text)
        expires = datetime.fromisoformat(response.json()["endpoint"]["previous_secret_expires_at"])
        assert before + overlap - timedelta(seconds=1) <= expires, body
        assert expires <= datetime.now(UTC) + overlap, body

    for bad in (-1, 7 * 86400 + 1, "60", 1.5, True):
        response = await gateway.rest(hook.key, "POST", path, json={"overlap_seconds": bad})
        assert response.status_code == 400, (bad, response.text)
        assert "overlap_seconds" in response.json()["error"]["details"]["fields"], response.text
