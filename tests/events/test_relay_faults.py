"""The outbox under faults: Kafka away for 30 s, a relay killed mid-batch, a rollback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlmodel import col, func, select

from sales_graph.app import create_app
from sales_graph.db.models import Account, Lead, OutboxEvent
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.db.repositories.outbox import Pending
from sales_graph.events import payloads
from sales_graph.events.outbox import record
from sales_graph.worker.launch import start_kafka_when_it_answers
from sales_graph.worker.relay import Relay
from sales_graph.worker.sinks import KafkaSink
from tests.events.conftest import (
    EventGateway,
    Message,
    event_settings,
    read_topic,
    unique_topics,
    until,
)
from tests.gateways import app_client, seeded_org
from tests.services import ServiceUrls

CREATE = """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) { id } }"""
STAGE = """mutation($id: ID!, $stage: OpportunityStage!) {
  updateOpportunityStage(opportunityId: $id, stage: $stage) { id version } }"""
OUTAGE_S = 30.0


@pytest.fixture
async def proxied_gateway(
    fresh_postgres: str,
    services: ServiceUrls,
    kafka_proxy: tuple[httpx.AsyncClient, str],
    tmp_path: Path,
) -> AsyncIterator[EventGateway]:
    """The gateway whose relays reach Kafka only through the proxy."""
    org = await seeded_org(fresh_postgres)
    topics = unique_topics()
    settings = event_settings(
        fresh_postgres, tmp_path, services.kafka_proxied, topics, relay_retry_backoff_s=0.5
    )
    app = create_app(settings)
    async with app_client(app, "http://gw") as client:
        gateway = EventGateway(client, app, org, "postgresql", services.kafka, topics)
        try:
            yield gateway
        finally:
            for events in gateway._started:
                await events.stop()


async def _opportunities(gateway: EventGateway, count: int) -> list[str]:
    org = gateway.org
    accounts = [
        Account(name=f"A{n}", name_normalized=f"a{n}", owner_id=org.r1.id, territory_id=org.t1.id)
        for n in range(count)
    ]
    async with gateway.runtime.db.session() as session:
        session.add_all(accounts)
    ids = []
    for account in accounts:
        data = await gateway.data(
            org.r1,
            CREATE,
            input={"name": f"Deal {account.name}", "accountId": str(account.id), "amount": 1000},
        )
        ids.append(data["createOpportunity"]["id"])
    return ids


async def _walk(gateway: EventGateway, opportunity_id: str, changes: int) -> None:
    """``changes`` stage changes, qualification and discovery in turn."""
    for n in range(changes):
        stage = "QUALIFICATION" if n % 2 == 0 else "DISCOVERY"
        await gateway.data(gateway.org.r1, STAGE, id=opportunity_id, stage=stage)


async def _unpublished(gateway: EventGateway) -> int:
    async with gateway.runtime.db.session() as session:
        return await outbox_repo.unpublished_count(session)


def _stage_changes(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.value["event_type"] == "opportunity.stage_changed"]


def _assert_in_order(messages: list[Message], per_key: int) -> dict[str, list[int]]:
    """Per opportunity, the first delivery of each event in version order; returns versions."""
    versions: dict[str, list[int]] = {}
    seen: set[str] = set()
    for message in messages:
        if message.value["event_id"] in seen:
            continue  # a duplicate (at-least-once): consumers skip it by event_id
        seen.add(message.value["event_id"])
        versions.setdefault(message.key or "", []).append(message.value["payload"]["version"])
    for key, chain in versions.items():
        assert chain == sorted(chain), (key, chain)
        assert len(chain) == per_key, (key, chain)
    return versions


async def _apply_once(gateway: EventGateway, messages: list[Message]) -> int:
    """A consumer with the inbox: each event applied once, however often it was delivered."""
    applied = 0
    for message in messages:
        async with gateway.runtime.db.session() as session:
            if await outbox_repo.remember_processed(
                session, "test-consumer", message.value["event_id"]
            ):
                applied += 1
    return applied


async def test_kafka_away_for_30_s_loses_nothing_and_keeps_order(
    proxied_gateway: EventGateway, kafka_proxy: tuple[httpx.AsyncClient, str]
) -> None:
    gateway = proxied_gateway
    api, proxy = kafka_proxy
    opportunities = await _opportunities(gateway, 100)
    await gateway.start_events(consumers=False)
    await until(lambda: _zero(gateway), deadline_s=30)

    # Kafka unreachable: the proxy refuses and drops every connection.
    (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.gather(*(_walk(gateway, o, 10) for o in opportunities))
    # Every change committed, its event waiting: none published, none parked (a broker away is
    # a transient failure, however long; a branch that parked rows on it failed here with 231).
    assert await _unpublished(gateway) >= 1000
    assert await _parked(gateway) == 0
    # The rest of the outage (a fault's duration, not a wait for a result).
    await asyncio.sleep(max(0.0, OUTAGE_S - (loop.time() - began)))
    assert await _unpublished(gateway) >= 1000
    assert await _parked(gateway) == 0
    (await api.post(f"/proxies/{proxy}", json={"enabled": True})).raise_for_status()

    await until(lambda: _zero(gateway), deadline_s=90, every_s=0.5)
    assert await _parked(gateway) == 0  # drained by publishing, not by parking
    messages = _stage_changes(
        await read_topic(gateway.bootstrap, gateway.topics.opportunities, count=1100, deadline_s=60)
    )
    assert len({m.value["event_id"] for m in messages}) == 1000
    _assert_in_order(messages, per_key=10)
    assert await _apply_once(gateway, messages) == 1000


async def _zero(gateway: EventGateway) -> bool:
    return await _unpublished(gateway) == 0


async def _parked(gateway: EventGateway) -> int:
    async with gateway.runtime.db.session() as session:
        return (await outbox_repo.backlog(session)).parked


async def test_a_relay_killed_after_sending_publishes_again_and_it_is_applied_once(
    event_gateway: EventGateway,
) -> None:
    gateway = event_gateway
    (opportunity,) = await _opportunities(gateway, 1)
    await _walk(gateway, opportunity, 4)
    settings = gateway.runtime.settings

    class Killed(Exception):
        pass

    async def die(_rows: list[Pending]) -> None:
        raise Killed  # sent to Kafka, not marked published: the transaction rolls back

    sink = KafkaSink(gateway.bootstrap, settings.events.topics)
    await sink.start()
    try:
        with pytest.raises(Killed):
            await Relay(gateway.runtime.db, sink, settings.events, after_publish=die).run_once()
    finally:
        await sink.stop()
    assert await _unpublished(gateway) == 5  # created + 4 stage changes, still unpublished

    await gateway.start_events(consumers=False)
    await until(lambda: _zero(gateway), deadline_s=30)
    messages = await read_topic(gateway.bootstrap, gateway.topics.opportunities, count=10)
    assert len(messages) == 10  # each event twice on the topic
    assert len({m.value["event_id"] for m in messages}) == 5
    _assert_in_order(_stage_changes(messages), per_key=4)
    assert await _apply_once(gateway, messages) == 5


async def test_a_relay_whose_marking_fails_does_not_send_the_rows_again(
    event_gateway: EventGateway,
) -> None:
    """The database goes away between Kafka's ack and the commit that marks the rows (a
    restart): the relay lives on, and its next batch marks them without a second copy."""
    gateway = event_gateway
    (opportunity,) = await _opportunities(gateway, 1)
    await _walk(gateway, opportunity, 4)
    settings = gateway.runtime.settings
    cuts = 0

    async def database_gone(_rows: list[Pending]) -> None:
        nonlocal cuts
        if cuts == 0:
            cuts += 1
            raise ConnectionResetError("the database restarted")

    sink = KafkaSink(gateway.bootstrap, settings.events.topics)
    await sink.start()
    relay = Relay(gateway.runtime.db, sink, settings.events, after_publish=database_gone)
    try:
        with pytest.raises(ConnectionResetError):
            await relay.run_once()
        assert await _unpublished(gateway) == 5  # on Kafka, not marked
        assert await relay.run_once() == 5
        assert await _unpublished(gateway) == 0
        await _walk(gateway, opportunity, 1)  # one more event: the end of the topic
        assert await relay.run_once() == 1
    finally:
        await sink.stop()
    messages = await read_topic(gateway.bootstrap, gateway.topics.opportunities, count=6)
    assert len(messages) == 6  # each event once: 5, then the sixth
    assert len({m.value["event_id"] for m in messages}) == 6
    _assert_in_order(_stage_changes(messages), per_key=5)


async def test_a_producer_the_broker_refuses_is_replaced_and_nothing_is_parked(
    event_gateway: EventGateway,
) -> None:
    """After Kafka restarts with batches in flight, the idempotent producer's sequence numbers
    can be refused for good (OutOfOrderSequenceNumber): the sink starts a new producer and the
    rows go out with it, once, instead of failing until they are parked."""
    gateway = event_gateway
    (opportunity,) = await _opportunities(gateway, 1)
    await _walk(gateway, opportunity, 2)
    settings = gateway.runtime.settings
    sink = KafkaSink(gateway.bootstrap, settings.events.topics)
    await sink.start()
    refused_producer = sink.producer

    async def refused(*_args: object, **_kwargs: object) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.set_exception(OutOfOrderSequenceNumber())
        return future

    refused_producer.send = refused  # type: ignore[method-assign]
    relay = Relay(gateway.runtime.db, sink, settings.events)
    try:
        assert await relay.run_once() == 3  # claimed, and every send refused
        assert await _unpublished(gateway) == 3

        async def all_published() -> bool:
            await relay.run_once()
            return await _zero(gateway)

        await until(all_published, deadline_s=30, every_s=0.2)
        assert sink.producer is not refused_producer
        assert sink.renewals == 1
    finally:
        await sink.stop()
    async with gateway.runtime.db.session() as session:
        parked = await session.scalar(
            select(func.count()).where(col(OutboxEvent.parked_at).is_not(None))
        )
    assert parked == 0
    messages = await read_topic(gateway.bootstrap, gateway.topics.opportunities, count=3)
    assert len(messages) == 3
    assert len({m.value["event_id"] for m in messages}) == 3


async def test_a_rolled_back_change_leaves_no_outbox_row_and_no_event(
    event_gateway: EventGateway,
) -> None:
    gateway = event_gateway
    await gateway.start_events(consumers=False)
    org = gateway.org
    # The second lead has the first one's address: the mutation fails, nothing is written.
    first = {"email": "twice@example.com", "company": "Acme", "country": "US"}
    await gateway.data(
        org.admin, "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }", i=first
    )
    error = await gateway.error(
        org.admin, "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }", i=first
    )
    assert error["extensions"]["code"] == "CONFLICT"

    class Abort(Exception):
        pass

    async def record_then_fail() -> None:
        """A transaction that recorded an event and then failed."""
        async with gateway.runtime.db.session() as session:
            lead = Lead(email="a@example.com", email_normalized="a@example.com")
            await record(session, "lead.created", lead.id, payloads.lead(lead), actor_id=None)
            raise Abort

    with pytest.raises(Abort):
        await record_then_fail()
    async with gateway.runtime.db.session() as session:
        rows = (await session.exec(select(OutboxEvent))).all()
        leads = (await session.exec(select(func.count()).select_from(Lead))).one()
    assert leads == 1
    assert {r.event_type for r in rows} <= {"lead.created", "lead.assigned"}
    assert sum(r.event_type == "lead.created" for r in rows) == 1
    await until(lambda: _zero(gateway), deadline_s=30)
    messages = await read_topic(
        gateway.bootstrap, gateway.topics.leads, count=len(rows) + 1, deadline_s=3
    )
    assert sorted(m.value["event_type"] for m in messages) == sorted(r.event_type for r in rows)


async def test_three_relays_share_the_rows_without_breaking_per_opportunity_order(
    event_gateway: EventGateway,
) -> None:
    gateway = event_gateway
    opportunities = await _opportunities(gateway, 30)
    await asyncio.gather(*(_walk(gateway, o, 6) for o in opportunities))
    settings = gateway.runtime.settings.events.model_copy(update={"relay_batch_size": 7})
    sinks = [KafkaSink(gateway.bootstrap, settings.topics) for _ in range(3)]
    relays = [
        Relay(gateway.runtime.db, sink, settings, name=f"r{n}") for n, sink in enumerate(sinks)
    ]
    for sink in sinks:
        await sink.start()
    try:

        async def drain(relay: Relay) -> None:
            while await relay.run_once():
                pass

        while await _unpublished(gateway):
            await asyncio.gather(*(drain(r) for r in relays))
    finally:
        for sink in sinks:
            await sink.stop()
    assert sum(r.published for r in relays) == 30 * 7
    assert sum(1 for r in relays if r.published) >= 2  # the work was shared
    messages = await read_topic(gateway.bootstrap, gateway.topics.opportunities, count=30 * 7)
    assert len(messages) == 30 * 7  # nothing twice
    _assert_in_order(_stage_changes(messages), per_key=6)


async def test_a_message_kafka_refuses_is_parked_with_its_error(
    event_gateway: EventGateway,
) -> None:
    gateway = event_gateway
    settings = gateway.runtime.settings.events.model_copy(
        update={"relay_max_attempts": 2, "relay_retry_backoff_s": 0}
    )
    async with gateway.runtime.db.session() as session:
        lead = Lead(email="a@example.com", email_normalized="a@example.com", title="x" * 2_000_000)
        await record(session, "lead.created", lead.id, payloads.lead(lead), actor_id=None)
    sink = KafkaSink(gateway.bootstrap, settings.topics)
    await sink.start()
    try:
        relay = Relay(gateway.runtime.db, sink, settings)
        assert await relay.run_once() == 1
        assert await relay.run_once() == 1
        assert await relay.run_once() == 0  # parked: not claimed again
    finally:
        await sink.stop()
    async with gateway.runtime.db.session() as session:
        (row,) = await outbox_repo.parked(session)
    assert row.attempts == 2
    assert row.last_error is not None
    assert "MessageSizeTooLarge" in row.last_error


async def test_a_worker_started_while_kafka_is_away_waits_for_it_and_then_publishes(
    proxied_gateway: EventGateway, kafka_proxy: tuple[httpx.AsyncClient, str]
) -> None:
    """``sales-graph worker`` before the broker (or during its restart): it tries again with a
    backoff instead of exiting, nothing half-started stays open, and once Kafka answers the
    changes committed meanwhile are published. Stopped while waiting, it ends cleanly."""
    gateway = proxied_gateway
    api, proxy = kafka_proxy
    (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
    stop = asyncio.Event()
    starting = asyncio.create_task(
        start_kafka_when_it_answers(gateway.runtime, stop, consumers=False)
    )
    # Several attempts are refused (1 s, 2 s, ...) and it is still waiting, not gone.
    done, _ = await asyncio.wait({starting}, timeout=4)
    assert not done
    opportunities = await _opportunities(gateway, 3)
    (await api.post(f"/proxies/{proxy}", json={"enabled": True})).raise_for_status()
    events = await asyncio.wait_for(starting, 60)
    assert events is not None
    events.start()
    gateway._started.append(events)
    await until(lambda: _zero(gateway), deadline_s=60)
    created = await read_topic(
        gateway.bootstrap,
        gateway.topics.opportunities,
        count=3,
        where=lambda m: m.value["event_type"] == "opportunity.created",
    )
    assert sorted(m.key or "" for m in created) == sorted(opportunities)

    # Stopped while Kafka is away: None, promptly.
    (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
    waiting = asyncio.create_task(
        start_kafka_when_it_answers(gateway.runtime, stop2 := asyncio.Event(), consumers=False)
    )
    done, _ = await asyncio.wait({waiting}, timeout=2)
    assert not done
    stop2.set()
    assert await asyncio.wait_for(waiting, 35) is None
