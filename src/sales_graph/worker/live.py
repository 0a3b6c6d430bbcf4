"""The feeds of GraphQL subscriptions (docs/real-time.md): committed events into ``Fanout``.

With Kafka, each gateway process reads the topics itself (``KafkaFeed``): no consumer group, so
every process gets every event, from the latest offset (a subscription sees what is committed
after it began), nothing committed. In the embedded footprint the in-process bus hands its
events over (``feed_bus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from sales_graph.events.fanout import Fanout
from sales_graph.logs import get_logger
from sales_graph.settings import TopicSettings
from sales_graph.worker.backoff import Backoff
from sales_graph.worker.bus import Bus

_log = get_logger("sales_graph.worker.live")

# The logical topics (events/catalog.py) whose events subscriptions answer.
LIVE_TOPICS = ("leads", "opportunities", "forecasts")
# What Kafka being away (or restarting) raises: tried again, with a backoff.
KAFKA_AWAY = (KafkaError, OSError, TimeoutError)


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
    """Reads ``LIVE_TOPICS`` from their latest offsets into ``fanout`` until stopped.

    While Kafka cannot be reached (the gateway started before the broker, or the reader failed
    while it was away), it tries again after a wait that doubles up to 30 s, with jitter
    (:class:`Backoff`): one ``live.kafka_unavailable`` warning per outage, one
    ``live.kafka_available`` line when it reads again (how many attempts, how long)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: TopicSettings,
        fanout: Fanout,
        *,
        partitions: int,
        backoff: Backoff | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        self.fanout = fanout
        self.logical = {str(getattr(topics, name)): name for name in LIVE_TOPICS}
        self.backoff = backoff or Backoff()
        self._outage_began: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._read(stop)
                return
            except KAFKA_AWAY as exc:
                wait = self.backoff.next()
                if self._outage_began is None:
                    self._outage_began = time.monotonic()
                    _log.warning(
                        "live.kafka_unavailable", error=repr(exc), retry_in_s=round(wait, 2)
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    async def _read(self, stop: asyncio.Event) -> None:
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
        try:
            await consumer.start()
            await self._positioned(consumer, stop)
            if stop.is_set():
                return
            self._reading()
            self.fanout.ready.set()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._publish(record.topic, record.value)
        finally:
            self.fanout.ready.clear()
            await _stopped(consumer)

    def _reading(self) -> None:
        """Positioned: an outage, if there was one, is over."""
        if self._outage_began is not None:
            _log.info(
                "live.kafka_available",
                attempts=self.backoff.failures + 1,
                outage_s=round(time.monotonic() - self._outage_began, 1),
            )
            self._outage_began = None
        self.backoff.reset()

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


async def _stopped(consumer: AIOKafkaConsumer) -> None:
    """Stops ``consumer``, whatever state the broker's absence left it in."""
    try:
        with contextlib.suppress(Exception):
            await consumer.stop()
    except asyncio.CancelledError:
        # aiokafka's fetcher, closed while a fetch waits out the broker's absence, lets that
        # fetch's cancellation out of stop(): only a cancellation of this task goes on.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
