"""Event tests: a gateway on a fresh PostgreSQL database, Kafka topics of its own, and helpers
to read what reached a topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sales_graph.app import create_app
from sales_graph.runtime import Runtime
from sales_graph.settings import EventSettings, Settings, TopicSettings
from sales_graph.worker.launch import EventRuntime, start_kafka
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway
from tests.kafka_topics import unique_topics
from tests.services import ServiceUrls, require_reachable


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: dict[str, Any]


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    count: int,
    deadline_s: float = 30.0,
    where: Callable[[Message], bool] | None = None,
) -> list[Message]:
    """Reads ``topic`` from the start until ``count`` messages (matching ``where``) arrived or
    the deadline passed; returns what arrived, in partition/offset order per partition."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[Message] = []
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while len(found) < count and loop.time() < end:
            batches = await consumer.getmany(timeout_ms=250)
            for records in batches.values():
                for record in records:
                    message = Message(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.key.decode() if record.key else None,
                        {k: v.decode() for k, v in record.headers or ()},
                        orjson.loads(record.value or b"null"),
                    )
                    if where is None or where(message):
                        found.append(message)
    finally:
        await consumer.stop()
    return found


async def produce(bootstrap: str, topic: str, value: Any, key: str | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        body = value if isinstance(value, bytes) else orjson.dumps(value)
        await producer.send_and_wait(topic, body, key=key.encode() if key else None)
    finally:
        await producer.stop()


async def until(
    condition: Callable[[], Awaitable[Any]], *, deadline_s: float = 30.0, every_s: float = 0.1
) -> Any:
    """Polls ``condition`` until it returns something truthy; fails at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        value = await condition()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"condition not met within {deadline_s} s")
        await asyncio.sleep(every_s)


@dataclass
class EventGateway(Gateway):
    bootstrap: str = ""
    topics: TopicSettings = field(default_factory=TopicSettings)

    async def start_events(self, *, relays: int = 1, consumers: bool = True) -> EventRuntime:
        events = await start_kafka(self.runtime, relays=relays, consumers=consumers)
        events.start()
        self._started.append(events)
        return events

    def __post_init__(self) -> None:
        self._started: list[EventRuntime] = []


def event_settings(
    database_url: str, data_dir: Path, bootstrap: str, topics: TopicSettings, **overrides: Any
) -> Settings:
    return gateway_settings(
        data_dir,
        database_url,
        kafka_bootstrap_servers=bootstrap,
        events=EventSettings(topics=topics, relay_poll_interval_s=0.2, **overrides),
    )


@pytest.fixture
async def event_gateway(
    fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[EventGateway]:
    """The gateway on PostgreSQL with Kafka configured; ``start_events`` starts the worker's
    machinery (relays, consumers, forecast services) in the test's process."""
    org = await seeded_org(fresh_postgres)
    topics = unique_topics()
    app = create_app(event_settings(fresh_postgres, tmp_path, kafka_bootstrap, topics))
    async with app_client(app) as client:
        gateway = EventGateway(client, app, org, "postgresql", kafka_bootstrap, topics)
        try:
            yield gateway
        finally:
            for events in gateway._started:
                await events.stop()


def runtime_of(gateway: Gateway) -> Runtime:
    return gateway.runtime


@pytest.fixture
async def kafka_proxy(services: ServiceUrls) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A toxiproxy proxy in front of Kafka's FAULTS listener (scripts/services)."""
    require_reachable("toxiproxy", services.toxiproxy)
    require_reachable("Kafka (faults listener)", services.kafka_faults)
    name = f"kafka-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=services.toxiproxy, timeout=10) as api:
        created = await api.post(
            "/proxies",
            json={
                "name": name,
                "listen": services.kafka_proxied,
                "upstream": services.kafka_faults,
            },
        )
        created.raise_for_status()
        try:
            yield api, name
        finally:
            await api.delete(f"/proxies/{name}")
