"""Dispatchers side by side (FOR UPDATE SKIP LOCKED, order per aggregate kept), one killed
between sending and recording (its rows are sent again: at once if its claim's transaction was
still open, once their lease ends if the round had leased them; at least once either way),
and a deleted endpoint (sent nothing more; an attempt recorded after it was deleted: no effect)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from sales_graph.db.repositories import api_clients
from sales_graph.db.repositories.webhooks import Due, pending_count
from sales_graph.timeutil import utcnow
from sales_graph.worker.webhooks import Dispatcher
from tests.events.conftest import until
from tests.webhooks.conftest import HookGateway, Receiver, read_post
from tests.webhooks.test_delivery import LEAD_EVENTS, of_lead, qualify


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
    hook = await gateway.hook(hooks.url, *LEAD_EVENTS)
    leads = [await gateway.create_lead(hook.key, f"pair{i}@example.com") for i in range(6)]
    for lead_id in leads:
        await qualify(gateway, hook.key, lead_id)
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
        hooks.verify(hook.secret, received)
    for lead_id in leads:
        assert of_lead(delivered, lead_id) == list(LEAD_EVENTS)


async def _all_sent(gateway: HookGateway) -> bool:
    return await _pending(gateway) == 0


@pytest.mark.parametrize("hold_s", [2.0, 0.0], ids=["held", "leased"])
async def test_a_dispatcher_killed_after_sending_leaves_them_to_be_sent_again(
    quiet_gateway: HookGateway, hooks: Receiver, hold_s: float
) -> None:
    """Held: the round ended within HOLD_S, so its claim's transaction was still open; it rolls
    back and the row is due at once. Leased: the round outlasted HOLD_S (0 here), so it leased
    the row and committed; the row is due again when the lease ends."""
    gateway = quiet_gateway
    hook = await gateway.hook(hooks.url, "lead.created")
    await gateway.create_lead(hook.key, "killed@example.com")
    await gateway.start_events()
    await until(lambda: _pending_is(gateway, 1))

    class Killed(Exception):
        pass

    async def die(_rows: list[Due]) -> None:
        raise Killed  # sent, not recorded

    settings = gateway.runtime.settings.webhooks.model_copy(
        update={"enabled": True, "timeout_s": 0.5}
    )
    doomed = Dispatcher(
        gateway.runtime.db, settings, after_send=die, lease_margin_s=0.0, hold_s=hold_s
    )
    with pytest.raises(Killed):
        await doomed.run_once()
    assert len(hooks.delivered()) == 1
    assert await _pending(gateway) == 1

    survivor = Dispatcher(gateway.runtime.db, settings, hold_s=hold_s)
    async with running(survivor):
        await until(lambda: _pending_is(gateway, 0))
    first, again = hooks.delivered()
    assert first.webhook_id == again.webhook_id  # the receiver deduplicates by it
    hooks.verify(hook.secret, again)
    (logged,) = await gateway.deliveries(hook.key, hook.id)
    assert logged["status"] == "delivered"
    assert logged["attempts"] == 1


@contextlib.asynccontextmanager
async def held_receiver() -> AsyncIterator[tuple[str, asyncio.Event, asyncio.Event]]:
    """A receiver that reads each request, then answers 204 only once ``release`` is set:
    its URL, the event set when a request arrived, and ``release``."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await read_post(reader)
                arrived.set()
                await release.wait()
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()

    server = await asyncio.start_server(held, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hooks", arrived, release
    finally:
        release.set()
        server.close()


async def test_on_sqlite_a_round_in_flight_leaves_the_database_writable(
    embedded_gateway: HookGateway,
) -> None:
    """SQLite has one write lock: a round recorded in its claim's transaction would hold it
    while waiting for answers, and every API write would wait for the receiver. Here the
    receiver answers only once a lead was created during the attempt."""
    gateway = embedded_gateway
    async with held_receiver() as (url, arrived, release):
        hook = await gateway.hook(url, "lead.created")
        await gateway.create_lead(hook.key, "first@example.com")
        await until(lambda: _pending_is(gateway, 1))
        settings = gateway.runtime.settings.webhooks.model_copy(update={"enabled": True})
        dispatcher = Dispatcher(gateway.runtime.db, settings, hold_s=30.0)
        sending = asyncio.create_task(dispatcher.run_once())
        async with asyncio.timeout(10):
            await arrived.wait()
            await gateway.create_lead(hook.key, "second@example.com")
        release.set()
        assert await sending == 1
        assert dispatcher.delivered == 1


async def test_a_receiver_that_does_not_answer_holds_back_no_other_endpoint(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    """A partner's receiver takes the whole TIMEOUT_S (30 s here) to answer: the round it is
    in leases its rows after HOLD_S and finishes in the background, so another partner's next
    events go out meanwhile, well within that time."""
    gateway = quiet_gateway
    async with held_receiver() as (slow_url, slow_arrived, _):
        slow = await gateway.hook(slow_url, "lead.created")
        healthy = await gateway.hook(hooks.url, "lead.created")
        settings = gateway.runtime.settings.webhooks.model_copy(
            update={"enabled": True, "timeout_s": 30.0}
        )
        dispatcher = Dispatcher(gateway.runtime.db, settings, hold_s=0.1)
        await gateway.start_events()
        async with running(dispatcher):
            await gateway.create_lead(slow.key, "slow@example.com")
            async with asyncio.timeout(10):
                await slow_arrived.wait()
            # Each endpoint receives every lead.created (both clients read leads): the healthy
            # one each new lead's event while the slow one still holds the first.
            for n in range(3):
                lead_id = await gateway.create_lead(healthy.key, f"healthy{n}@example.com")

                async def arrived(lead_id: str = lead_id) -> bool:
                    return of_lead(hooks.delivered(), lead_id) == ["lead.created"]

                await until(arrived, deadline_s=10)


async def _pending_is(gateway: HookGateway, count: int) -> bool:
    return await _pending(gateway) == count


async def test_a_revoked_client_receives_nothing_more(
    gateway: HookGateway, hooks: Receiver
) -> None:
    revoked = await gateway.hook(hooks.url + "?revoked", "lead.created")
    other = await gateway.hook(hooks.url + "?other", "lead.created")
    async with gateway.runtime.db.engine.connect() as connection:
        client_id = (
            await connection.execute(
                text(
                    "SELECT c.client_id FROM api_clients c JOIN webhook_endpoints e"
                    " ON e.client_id = c.id WHERE e.id = :e"
                ),
                {"e": uuid.UUID(revoked.id)},
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
        return (await gateway.deliveries(other.key, other.id))[0]["status"] == "delivered"

    await until(recorded)
    assert not [r for r in hooks.requests if r.query == "revoked"]
    assert await gateway.stored_deliveries(revoked.id) == []


async def _delivered_to(hooks: Receiver, query: str) -> bool:
    return any(r.query == query for r in hooks.delivered())


async def _outbox_types(gateway: HookGateway) -> list[str]:
    async with gateway.runtime.db.engine.connect() as connection:
        rows = await connection.execute(text("SELECT event_type FROM outbox ORDER BY id"))
        return [str(event_type) for (event_type,) in rows]


async def test_a_deleted_endpoint_is_sent_nothing_more(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    """Its pending deliveries are cancelled (kept, never sent), later events make it none, a
    dispatcher sends only the other endpoint's, and deleting records no event."""
    gateway = quiet_gateway
    gone = await gateway.hook(hooks.url + "?gone", "lead.created")
    kept = await gateway.hook(hooks.url + "?kept", "lead.created")
    await gateway.create_lead(kept.key, "deleted1@example.com")
    await gateway.start_events()
    await until(lambda: _pending_is(gateway, 2))
    ((pending_id, _),) = await gateway.stored_deliveries(gone.id)
    events_before = await _outbox_types(gateway)

    response = await gateway.rest(gone.key, "DELETE", f"/api/v1/webhooks/endpoints/{gone.id}")
    assert response.status_code == 204, response.text
    assert await gateway.stored_deliveries(gone.id) == [(pending_id, "cancelled")]
    assert await _outbox_types(gateway) == events_before
    replay = await gateway.rest(
        gone.key, "POST", f"/api/v1/webhooks/deliveries/{pending_id}/replay"
    )
    assert replay.status_code == 404, replay.text

    await gateway.create_lead(kept.key, "deleted2@example.com")
    await until(lambda: _pending_is(gateway, 2))  # the kept endpoint's two
    settings = gateway.runtime.settings.webhooks.model_copy(update={"enabled": True})
    async with running(Dispatcher(gateway.runtime.db, settings)):
        await until(lambda: _pending_is(gateway, 0))
    assert [r.query for r in hooks.delivered()] == ["kept", "kept"]
    assert [r.query for r in hooks.requests] == ["kept", "kept"]
    assert await gateway.stored_deliveries(gone.id) == [(pending_id, "cancelled")]


async def test_an_attempt_recorded_after_deletion_disables_nothing(
    quiet_gateway: HookGateway, hooks: Receiver
) -> None:
    """A delivery in flight when its endpoint is deleted, whose last attempt then fails, stays
    cancelled; the deleted endpoint is not disabled and no webhook.endpoint_disabled is
    recorded (no event about an endpoint the client deleted)."""
    from sales_graph.db.repositories.webhooks import claim_due
    from sales_graph.services.webhooks import Attempt, record_attempt

    gateway = quiet_gateway
    hook = await gateway.hook(hooks.url, "lead.created")
    await gateway.create_lead(hook.key, "inflight@example.com")
    await gateway.start_events()
    await until(lambda: _pending_is(gateway, 1))
    settings = gateway.runtime.settings.webhooks
    async with gateway.runtime.db.session() as session:
        (due,) = await claim_due(session, utcnow(), 10)
    response = await gateway.rest(hook.key, "DELETE", f"/api/v1/webhooks/endpoints/{hook.id}")
    assert response.status_code == 204, response.text
    events_before = await _outbox_types(gateway)

    exhausted = replace(due, attempts=settings.max_attempts - 1)
    async with gateway.runtime.db.session() as session:
        delivered = await record_attempt(session, exhausted, Attempt(503, None), settings)
    assert delivered is False
    assert await gateway.stored_deliveries(hook.id) == [(due.id, "cancelled")]
    assert await _outbox_types(gateway) == events_before
    async with gateway.runtime.db.engine.connect() as connection:
        enabled = (
            await connection.execute(
                text("SELECT enabled FROM webhook_endpoints WHERE id = :e"),
                {"e": uuid.UUID(hook.id)},
            )
        ).scalar_one()
    assert enabled is True
