"""The outbox: rows written with their change, published to Kafka by the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text
from sqlmodel import select

from sales_graph.app import create_app
from sales_graph.db.models import OutboxEvent
from sales_graph.settings import EventSettings
from sales_graph.worker.relay import Relay
from sales_graph.worker.sinks import KafkaSink
from tests.events.conftest import EventGateway, read_topic, until
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

CREATE_LEAD = """
mutation($input: CreateLeadInput!) { createLead(input: $input) { id status } }
"""


async def _outbox(gateway: EventGateway) -> list[OutboxEvent]:
    async with gateway.runtime.db.session() as session:
        return list((await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all())


async def test_a_created_lead_is_published_with_the_envelope(event_gateway: EventGateway) -> None:
    org = event_gateway.org
    response = await event_gateway.client.post(
        "/graphql",
        json={
            "query": CREATE_LEAD,
            "variables": {
                "input": {
                    "email": "ada@example.com",
                    "firstName": "Ada",
                    "company": "Acme",
                    "country": "US",
                }
            },
        },
        headers={
            "Authorization": f"Bearer {event_gateway.token(org.admin)}",
            "X-Correlation-ID": "corr-123",
        },
    )
    body = response.json()
    assert "errors" not in body, body
    lead_id = body["data"]["createLead"]["id"]
    rows = await _outbox(event_gateway)
    assert [r.event_type for r in rows][:1] == ["lead.created"]
    await event_gateway.start_events(consumers=False)
    messages = await read_topic(
        event_gateway.bootstrap, event_gateway.topics.leads, count=len(rows), deadline_s=20
    )
    created = [m for m in messages if m.value["event_type"] == "lead.created"]
    assert len(created) == 1
    message = created[0]
    assert message.key == lead_id
    assert message.headers["event_type"] == "lead.created"
    assert message.headers["correlation_id"] == "corr-123"
    envelope = message.value
    assert envelope["source"] == "sales-system"
    assert envelope["version"] == "1.0"
    assert envelope["correlation_id"] == "corr-123"
    assert envelope["user_id"] == str(org.admin.id)
    assert envelope["payload"]["lead_id"] == lead_id
    assert message.headers["event_id"] == envelope["event_id"]

    async def all_published() -> bool:
        return all(r.published_at is not None for r in await _outbox(event_gateway))

    await until(all_published, deadline_s=10)


async def test_the_embedded_footprint_writes_events_jsonl(
    fresh_sqlite: str, tmp_path: Path
) -> None:
    """No Kafka: the gateway's own relay appends each event to events.jsonl."""
    org = await seeded_org(fresh_sqlite)
    settings = gateway_settings(
        tmp_path, fresh_sqlite, events=EventSettings(in_process=True, relay_poll_interval_s=0.1)
    )
    app = create_app(settings)
    async with app_client(app, "http://gw") as client:
        gateway = Gateway(client, app, org, "sqlite")
        data = await gateway.data(
            org.admin, CREATE_LEAD, input={"email": "embedded@example.com", "country": "US"}
        )
        lead_id = data["createLead"]["id"]

        async def logged() -> list[dict[str, Any]]:
            path = settings.events_log_file
            lines = path.read_bytes().splitlines() if path.exists() else []
            return [orjson.loads(line) for line in lines]

        events = await until(logged, deadline_s=10)
    assert events[0]["event_type"] == "lead.created"
    assert events[0]["payload"]["lead_id"] == lead_id
    assert events[0]["source"] == "sales-system"


async def test_a_commit_wakes_an_idle_relay_by_notify(event_gateway: EventGateway) -> None:
    """With a one-minute poll interval, only PostgreSQL's NOTIFY can make the relay publish
    within the ten seconds this test waits."""
    gateway = event_gateway
    settings = gateway.runtime.settings.events.model_copy(update={"relay_poll_interval_s": 60})
    sink = KafkaSink(gateway.bootstrap, settings.topics)
    await sink.start()
    relay = Relay(gateway.runtime.db, sink, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await until(_listening(relay), deadline_s=10)  # idle, waiting for a NOTIFY
        data = await gateway.data(
            gateway.org.admin, CREATE_LEAD, input={"email": "wake@example.com", "country": "US"}
        )
        messages = await read_topic(
            gateway.bootstrap,
            gateway.topics.leads,
            count=1,
            deadline_s=10,
            where=lambda m: m.value["event_type"] == "lead.created",
        )
        assert messages[0].key == data["createLead"]["id"]
    finally:
        stop.set()
        await task
        await sink.stop()


async def test_a_relay_listens_again_after_the_database_closed_its_connection(
    event_gateway: EventGateway,
) -> None:
    """The LISTEN connection terminated (as a restart does): the relay listens on a new one,
    so a commit still wakes it at once, not at its one-minute poll."""
    gateway = event_gateway
    settings = gateway.runtime.settings.events.model_copy(update={"relay_poll_interval_s": 60})
    sink = KafkaSink(gateway.bootstrap, settings.topics)
    await sink.start()
    relay = Relay(gateway.runtime.db, sink, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await until(_listening(relay), deadline_s=10)
        async with gateway.runtime.db.engine.connect() as connection:
            cut = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"
                )
            )
        assert cut == 1

        async def listening_again() -> bool:
            return relay.listener is not None and relay.listener.listens == 2 and relay.idle

        await until(listening_again, deadline_s=10)
        data = await gateway.data(
            gateway.org.admin, CREATE_LEAD, input={"email": "again@example.com", "country": "US"}
        )
        messages = await read_topic(
            gateway.bootstrap,
            gateway.topics.leads,
            count=1,
            deadline_s=10,
            where=lambda m: m.value["event_type"] == "lead.created",
        )
        assert messages[0].key == data["createLead"]["id"]
    finally:
        stop.set()
        await task
        await sink.stop()


def _listening(relay: Relay) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return relay.idle

    return check
