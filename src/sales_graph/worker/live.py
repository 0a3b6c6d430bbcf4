"""The feeds of GraphQL subscriptions (docs/real-time.md): committed events into ``Fanout``.

With Kafka, each gateway process reads the topics itself (``KafkaFeed``): no consumer group, so
every process gets every event, from the latest offset (a subscription sees what is committed
after it began), nothing committed. In the embedded footprint the in-process bus hands its
events over (``feed_bus``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from sales_graph.events.fanout import Fanout
from sales_graph.logs import get_logger
from sales_graph.settings import TopicSettings
from sales_graph.worker.bus import Bus

_log = get_logger("sales_graph.worker.live")

# The logical topics (events/catalog.py) whose events subscriptions answer.
LIVE_TOPICS = ("leads", "opportunities", "forecasts")


def feed_bus(bus: Bus, fanout: Fanout) -> None:
    """The embedded footprint: the bus's events of ``LIVE_TOPICS`` reach the subscriptions."""
    for topic in LIVE_TOPICS:
        bus.subscribe(topic, _publisher(fanout, topic))
    fanout.ready.set()


def _publisher(fanout: Fanout, topic: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def publish(envelope: dict[str, Any]) -> None:
        fanout.publish(topic, envelope)

    return publish


class KafkaFeed:
    """Reads ``LIVE_TOPICS`` from their latest offsets into ``fanout`` until stopped."""

    def __init__(
        self, bootstrap_servers: str, topics: TopicSettings, fanout: Fanout, *, partitions: int
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        self.fanout = fanout
        self.logical = {str(getattr(topics, name)): name for name in LIVE_TOPICS}

    async def run(self, stop: asyncio.Event) -> None:
        from sales_graph.worker.launch import ensure_topics

        # Created as the worker creates them (partitions, dead letters), never by a metadata
        # request of this reader with the broker's defaults.
        await ensure_topics(self.bootstrap_servers, list(self.logical), self.partitions)
        consumer = AIOKafkaConsumer(
            *self.logical,
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id="sales-graph-live",
        )
        await consumer.start()
        try:
            await self._positioned(consumer, stop)
            self.fanout.ready.set()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._publish(record.topic, record.value)
        finally:
            self.fanout.ready.clear()
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _positioned(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Waits until every topic's partitions are assigned and their latest offsets known:
        from then on every committed event reaches the subscriptions."""
        while not stop.is_set():
            assigned = consumer.assignment()
            if {tp.topic for tp in assigned} >= set(self.logical):
                for partition in assigned:
                    await consumer.position(partition)
                return
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    self._publish(record.topic, record.value)

    def _publish(self, topic: str, value: bytes | None) -> None:
        try:
            envelope = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            _log.warning("live.unreadable_event", topic=topic)
            return
        if isinstance(envelope, dict):
            self.fanout.publish(self.logical[topic], envelope)
