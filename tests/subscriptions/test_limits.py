"""The bounds of subscriptions: per-connection and per-principal limits, a slow consumer
closed rather than buffered, heartbeats, credentials that expire or are revoked."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from sales_graph.db import engine
from sales_graph.timeutil import format_datetime, utcnow
from tests.subscriptions.conftest import OPPORTUNITY_CHANGED, LiveFactory, Ws


async def _refused(ws: Ws, id: str) -> dict[str, object]:
    message = await ws.receive()
    assert (message["type"], message["id"]) == ("error", id), message
    error: dict[str, object] = message["payload"][0]
    return error


async def _ended(ws: Ws, id: str, code: str, close_code: int) -> str:
    """The error that ends subscription ``id`` when the gateway ends its connection (after the
    results before it), with the connection's request id, then at once the close frame with
    ``close_code``; the error's message, which the close frame's reason is (or begins)."""
    while (message := await ws.receive())["type"] == "next":
        assert message["id"] == id, message
    assert (message["type"], message["id"]) == ("error", id), message
    (error,) = message["payload"]
    assert error["extensions"] == {
        "code": code,
        "close_code": close_code,
        "request_id": ws.connection.response.headers["X-Request-ID"],
    }
    with pytest.raises(ConnectionClosed) as closed:
        pytest.fail(f"a message after the error: {await ws.receive()}")
    assert closed.value.rcvd is not None, "the server sent no close frame"
    assert closed.value.rcvd.code == close_code
    reason: str = error["message"]
    assert reason.startswith(closed.value.rcvd.reason.removesuffix("..."))
    return reason


async def test_per_connection_and_per_principal_limits(live_embedded: LiveFactory) -> None:
    async with live_embedded(max_per_connection=2, max_per_principal=3) as gateway:
        org = gateway.org
        async with gateway.ws(org.r1) as first, gateway.ws(org.r1) as second:
            await first.acked()
            await second.acked()
            for id in ("a", "b"):
                await first.subscribe(id, OPPORTUNITY_CHANGED)
            await gateway.until_listening(2)
            await first.subscribe("c", OPPORTUNITY_CHANGED)
            error = await _refused(first, "c")
            assert error["extensions"]["code"] == "RATE_LIMIT_EXCEEDED"  # type: ignore[index]
            assert "per connection" in str(error["message"])

            await second.subscribe("a", OPPORTUNITY_CHANGED)
            await gateway.until_listening(3)
            await second.subscribe("b", OPPORTUNITY_CHANGED)
            error = await _refused(second, "b")
            assert "per caller" in str(error["message"])

            # Another principal has room of its own; a completed subscription frees its slot.
            async with gateway.ws(org.r2) as other:
                await other.acked()
                await other.subscribe("a", OPPORTUNITY_CHANGED)
                await gateway.until_listening(4)
            await gateway.until_listening(3)
            await first.send({"id": "a", "type": "complete"})
            await gateway.until_listening(2)
            await second.subscribe("c", OPPORTUNITY_CHANGED)
            await gateway.until_listening(3)


async def test_a_slow_consumer_is_closed(live_embedded: LiveFactory) -> None:
    async with live_embedded(queue_size=3) as gateway:
        async with gateway.ws(gateway.org.r1) as rep:
            await rep.acked()
            await rep.subscribe("s", OPPORTUNITY_CHANGED)
            await gateway.until_listening(1)
            # More events at once than the subscription's queue holds.
            for _ in range(10):
                gateway.runtime.fanout.publish(
                    "opportunities",
                    {
                        "event_id": str(uuid.uuid4()),
                        "event_type": "opportunity.updated",
                        "timestamp": format_datetime(utcnow()),
                        "payload": {"opportunity_id": str(uuid.uuid4())},
                    },
                )
            reason = await _ended(rep, "s", "SLOW_CONSUMER", 4413)
            assert reason.startswith("Slow consumer")
        await gateway.until_listening(0)


@pytest.mark.parametrize("turns", [None, 1])
async def test_a_burst_of_deliveries_takes_turns_instead_of_waiting_for_the_pool(
    live_kafka: LiveFactory, monkeypatch: pytest.MonkeyPatch, turns: int | None
) -> None:
    """One event reaching more subscriptions of a process than its pool has connections (10 +
    20): the deliveries take turns (SUBSCRIPTIONS__MAX_CONCURRENT_DELIVERIES, by default and at
    1), so none waits for a pooled connection until the pool's timeout (10 s, here 10 ms) ends
    its subscription with SERVICE_UNAVAILABLE, and every subscription gets the change."""
    monkeypatch.setattr(engine, "POOL_TIMEOUT_S", 0.01)
    settings = {} if turns is None else {"max_concurrent_deliveries": turns}
    async with live_kafka(max_per_principal=100, **settings) as gateway:
        admin = gateway.org.admin
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(gateway.ws(admin)) for _ in range(6)]
            for ws in sockets:
                await ws.acked()
                for n in range(10):
                    await ws.subscribe(str(n), OPPORTUNITY_CHANGED)
            await gateway.until_listening(60)

            deal = await gateway.create_opportunity(gateway.org.r1, "Everyone's deal")
            for ws in sockets:
                delivered: dict[str, str] = {}
                while len(delivered) < 10:
                    message = await ws.receive()
                    assert message["type"] == "next", message
                    assert "errors" not in message["payload"], message
                    changed = message["payload"]["data"]["opportunityChanged"]
                    delivered[message["id"]] = changed["opportunity"]["id"]
                assert delivered == {str(n): deal for n in range(10)}


async def test_heartbeat_pings(live_embedded: LiveFactory) -> None:
    async with live_embedded(heartbeat_s=0.2) as gateway, gateway.ws(gateway.org.r1) as rep:
        await rep.acked()
        await rep.ping()
        await rep.ping()


async def test_an_expired_token_ends_the_connection(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        org = gateway.org
        token = gateway.runtime.tokens.issue(str(org.r1.id), roles=[org.r1.role], ttl_s=2)
        async with gateway.ws(payload={"Authorization": f"Bearer {token}"}) as rep:
            await rep.acked()
            await rep.subscribe("s", OPPORTUNITY_CHANGED)
            assert await _ended(rep, "s", "UNAUTHORIZED", 4401) == "The token expired"
        await gateway.until_listening(0)


async def test_a_revoked_key_ends_the_connection(live_embedded: LiveFactory) -> None:
    from sales_graph.auth.admin import create_api_key, revoke

    async with live_embedded(recheck_s=0.2) as gateway:
        settings = gateway.runtime.settings
        key = await create_api_key(settings, name="k", scopes="opportunities:read")
        async with gateway.ws(payload={"X-API-Key": key.api_key}) as partner:
            await partner.acked()
            await partner.subscribe("s", OPPORTUNITY_CHANGED)
            await gateway.until_listening(1)
            await revoke(settings, key.prefix)
            reason = await _ended(partner, "s", "UNAUTHORIZED", 4401)
            assert reason.startswith("Credentials refused")
