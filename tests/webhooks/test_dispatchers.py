"""Dispatchers side by side (FOR UPDATE SKIP LOCKED, order per aggregate kept) and one killed
between sending and recording (its rows are sent again once their lease ends: at least once)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sales_graph.db.repositories import api_clients
from sales_graph.db.repositories.webhooks import Due, pending_count
from sales_graph.timeutil import utcnow
from sales_graph.worker.webhooks import Dispatcher
from tests.events.conftest import until
from tests.webhooks.conftest import HookGateway, Receiver, hook_gateway
from tests.webhooks.test_delivery import LEAD_EVENTS, of_lead, qualify


@pytest.fixture
async def quiet_gateway(
    fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[HookGateway]:
    """Fan-out running, no dispatcher of the worker's: the test runs its own."""
    async with hook_gateway(
        fresh_postgres, tmp_path, kafka_bootstrap, enabled=False, dispatch_batch_size=3
    ) as opened:
        yield opened


@contextlib.asynccontextmanager
async def running(*dispatchers: Dispatcher) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _pending(gateway: HookGateway) -> int:
    async with gateway.runtime.db.session() as session:
        return await pending_count(session)


async def test_two_dispatchers_share_the_deliveries_in_order(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    gateway = quiet_gateway
    key = await gateway.api_key("leads:read leads:write webhooks:manage")
    _, secret = await gateway.register(key, hooks.url, *LEAD_EVENTS)
    leads = [await gateway.create_lead(key, f"pair{i}@example.com") for i in range(6)]
    for lead_id in leads:
        await qualify(gateway, key, lead_id)
    await gateway.start_events()

    async def fanned_out() -> bool:
        async with gateway.runtime.db.engine.connect() as connection:
            count = (
                await connection.execute(text("SELECT count(*) FROM webhook_deliveries"))
            ).scalar_one()
        return int(count) == 18

    await until(fanned_out)
    settings = gateway.runtime.settings.webhooks.model_copy(update={"enabled": True})
    first = Dispatcher(gateway.runtime.db, settings, name="first")
    second = Dispatcher(gateway.runtime.db, settings, name="second")
    async with running(first, second):
        await until(lambda: _all_sent(gateway))
    delivered = hooks.delivered()
    assert Counter(r.webhook_id for r in delivered) == Counter({r.webhook_id: 1 for r in delivered})
    assert len(delivered) == 18
    assert first.delivered + second.delivered == 18
    for received in delivered:
        hooks.verify(secret, received)
    for lead_id in leads:
        assert of_lead(delivered, lead_id) == list(LEAD_EVENTS)


async def _all_sent(gateway: HookGateway) -> bool:
    return await _pending(gateway) == 0


async def test_a_dispatcher_killed_after_sending_leaves_them_to_be_sent_again(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    gateway = quiet_gateway
    key = await gateway.api_key("leads:read leads:write webhooks:manage")
    endpoint_id, secret = await gateway.register(key, hooks.url, "lead.created")
    await gateway.create_lead(key, "killed@example.com")
    await gateway.start_events()
    await until(lambda: _pending_is(gateway, 1))

    class Killed(Exception):
        pass

    async def die(_rows: list[Due]) -> None:
        raise Killed  # sent, not recorded

    settings = gateway.runtime.settings.webhooks.model_copy(
        update={"enabled": True, "timeout_s": 0.5}
    )
    doomed = Dispatcher(gateway.runtime.db, settings, after_send=die, lease_margin_s=0.0)
    with pytest.raises(Killed):
        await doomed.run_once()
    assert len(hooks.delivered()) == 1
    assert await _pending(gateway) == 1

    survivor = Dispatcher(gateway.runtime.db, settings)
    async with running(survivor):
        await until(lambda: _pending_is(gateway, 0))
    first, again = hooks.delivered()
    assert first.webhook_id == again.webhook_id  # the receiver deduplicates by it
    hooks.verify(secret, again)
    (logged,) = await gateway.deliveries(key, endpoint_id)
    assert logged["status"] == "delivered"
    assert logged["attempts"] == 1


async def _pending_is(gateway: HookGateway, count: int) -> bool:
    return await _pending(gateway) == count


async def test_a_revoked_client_receives_nothing_more(
    gateway: HookGateway, hooks: Receiver
) -> None:
    revoked_key = await gateway.api_key("leads:read webhooks:manage")
    revoked_id, _ = await gateway.register(revoked_key, hooks.url + "?revoked", "lead.created")
    other_key = await gateway.api_key("leads:read webhooks:manage")
    other_id, _ = await gateway.register(other_key, hooks.url + "?other", "lead.created")
    async with gateway.runtime.db.engine.connect() as connection:
        client_id = (
            await connection.execute(
                text(
                    "SELECT c.client_id FROM api_clients c JOIN webhook_endpoints e"
                    " ON e.client_id = c.id WHERE e.id = :e"
                ),
                {"e": uuid.UUID(revoked_id)},
            )
        ).scalar_one()
    async with gateway.runtime.db.session() as session:
        assert await api_clients.revoke_client(session, client_id, utcnow())
    writer = await gateway.api_key("leads:read leads:write")
    await gateway.create_lead(writer, "revoked@example.com")
    await gateway.start_events()
    await until(lambda: _delivered_to(hooks, "other"))

    async def recorded() -> bool:
        # The dispatcher records a round's outcomes once its requests are answered.
        return (await gateway.deliveries(other_key, other_id))[0]["status"] == "delivered"

    await until(recorded)
    assert not [r for r in hooks.requests if r.query == "revoked"]
    async with gateway.runtime.db.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :e"),
                {"e": uuid.UUID(revoked_id)},
            )
        ).scalar_one()
    assert rows == 0


async def _delivered_to(hooks: Receiver, query: str) -> bool:
    return any(r.query == query for r in hooks.delivered())
