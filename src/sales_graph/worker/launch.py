"""The event machinery of one process: relays, consumers and background services.

``sales-graph worker`` runs it against Kafka (production); the gateway's lifespan runs it in
process in the embedded footprint, where the bus replaces the Kafka consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from sales_graph.events.subscriptions import (
    BILLING_CONTRACTS,
    FORECAST_REFRESH,
    MARKETING_LEADS,
    SUBSCRIPTIONS,
    WEBHOOK_FAN_OUT,
    Subscription,
)
from sales_graph.logs import get_logger
from sales_graph.worker.bus import Bus
from sales_graph.worker.consumer import BatchHandler, Consumer, MessageHandler, dlq_topic
from sales_graph.worker.live import KafkaFeed, feed_bus
from sales_graph.worker.relay import Relay
from sales_graph.worker.service import Service
from sales_graph.worker.sinks import KafkaSink, LocalSink

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime

_log = get_logger("sales_graph.events")
KAFKA_START_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A consumer of ``events/subscriptions.py`` with its handler."""

    subscription: Subscription
    handler: Callable[[Runtime], MessageHandler]
    # Handles a partition's messages of one poll in one transaction (the consumer falls back
    # to ``handler`` when it fails); the in-process bus calls ``handler`` only.
    batch_handler: Callable[[Runtime], BatchHandler] | None = None

    @property
    def name(self) -> str:
        return self.subscription.name

    @property
    def topic(self) -> str:
        return self.subscription.topic


def subscriptions() -> list[Subscriber]:
    from sales_graph.worker import billing, forecasts, marketing, webhooks

    handlers: dict[Subscription, Callable[[Runtime], MessageHandler]] = {
        MARKETING_LEADS: marketing.lead_qualified_handler,
        BILLING_CONTRACTS: billing.closed_won_handler,
        FORECAST_REFRESH: forecasts.refresh_handler,
        **{fan_out: webhooks.fan_out_handler for fan_out in WEBHOOK_FAN_OUT},
    }
    batch_handlers: dict[Subscription, Callable[[Runtime], BatchHandler]] = {
        MARKETING_LEADS: marketing.lead_qualified_batch_handler,
        **{fan_out: webhooks.fan_out_batch_handler for fan_out in WEBHOOK_FAN_OUT},
    }
    return [Subscriber(s, handlers[s], batch_handlers.get(s)) for s in SUBSCRIPTIONS]


def background_services(runtime: Runtime) -> list[Service]:
    from sales_graph.worker import billing, finance, forecasts, webhooks
    from sales_graph.worker.monitor import BacklogMonitor

    monitor = BacklogMonitor(
        runtime.db,
        [forecasts.DAILY_JOB, finance.SYNC_JOB],
        runtime.settings.metrics.sample_interval_s,
    )
    return [
        *forecasts.services(runtime),
        *billing.services(runtime),
        *finance.services(runtime),
        *webhooks.services(runtime),
        monitor,
    ]


@dataclass
class EventRuntime:
    relays: list[Relay]
    consumers: list[Consumer] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    bus: Bus | None = None
    producer: AIOKafkaProducer | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def start(self) -> None:
        if self.bus is not None:
            self.bus.start()
        runners: Sequence[Relay | Consumer | Service] = [
            *self.relays,
            *self.consumers,
            *self.services,
        ]
        for runner in runners:
            self._tasks.append(asyncio.create_task(_forever(runner, self._stop)))

    def wake_relays(self) -> None:
        for relay in self.relays:
            relay.wake()

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 10)
            task.cancel()
        if self.bus is not None:
            await self.bus.stop()
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                await close()


async def _forever(runner: Relay | Consumer | Service, stop: asyncio.Event) -> None:
    """Runs ``runner`` until stopped; a crash is logged and the runner started again."""
    while not stop.is_set():
        try:
            await runner.run(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("events.runner_crashed", runner=type(runner).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def ensure_topics(bootstrap_servers: str, names: Sequence[str], partitions: int) -> None:
    """Creates the topics (and their dead-letter topics) that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
    finally:
        await admin.close()


def topic_names(runtime: Runtime) -> list[str]:
    topics = runtime.settings.events.topics
    names = [str(v) for v in topics.model_dump().values()]
    return names + [dlq_topic(n) for n in names]


async def start_kafka(runtime: Runtime, *, relays: int = 1, consumers: bool = True) -> EventRuntime:
    """Production: relays publishing to Kafka, consumers reading from it, the scheduler."""
    settings = runtime.settings
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap:
        raise RuntimeError("SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS is not set")
    events = EventRuntime(relays=[])
    try:
        await ensure_topics(bootstrap, topic_names(runtime), settings.events.topic_partitions)
        _add_kafka_parts(events, runtime, bootstrap, relays=relays, consumers=consumers)
        for start in events._starters:
            await start()
    except BaseException:
        # Kafka away at the start, say: nothing stays open for the next attempt to leak.
        for close in reversed(events._closers):
            with contextlib.suppress(Exception):
                await close()
        raise
    return events


async def start_kafka_when_it_answers(
    runtime: Runtime, stop: asyncio.Event, *, relays: int = 1, consumers: bool = True
) -> EventRuntime | None:
    """:func:`start_kafka`, tried again while Kafka cannot be reached (a worker started before
    the broker, or while it restarts) with a backoff up to ``KAFKA_START_BACKOFF_MAX_S``; None
    when stopped first. Other failures (a bad setting) end the process."""
    delay = 1.0
    attempts = 0
    while not stop.is_set():
        try:
            return await start_kafka(runtime, relays=relays, consumers=consumers)
        except (KafkaError, OSError) as exc:
            attempts += 1
            _log.warning(
                "events.kafka_unreachable_at_start", attempts=attempts, retry_in_s=delay,
                error=repr(exc),
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, KAFKA_START_BACKOFF_MAX_S)
    return None


def _add_kafka_parts(
    events: EventRuntime, runtime: Runtime, bootstrap: str, *, relays: int, consumers: bool
) -> None:
    settings = runtime.settings
    for index in range(relays):
        sink = KafkaSink(bootstrap, settings.events.topics)
        events._starters.append(sink.start)
        events._closers.append(sink.stop)
        events.relays.append(Relay(runtime.db, sink, settings.events, name=f"relay-{index}"))
    if consumers:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        events._starters.append(producer.start)
        events.producer = producer
        events._closers.append(producer.stop)
        for subscription in subscriptions():
            events.consumers.append(
                Consumer(
                    subscription.name,
                    str(getattr(settings.events.topics, subscription.topic)),
                    subscription.handler(runtime),
                    bootstrap_servers=bootstrap,
                    group_id=f"{settings.events.consumer_group}.{subscription.name}",
                    producer=producer,
                    max_attempts=settings.events.consumer_max_attempts,
                    unavailable_deadline_s=settings.events.consumer_unavailable_deadline_s,
                    backoff_s=settings.events.consumer_retry_backoff_s,
                    batch_handler=(
                        subscription.batch_handler(runtime) if subscription.batch_handler else None
                    ),
                )
            )
        events.services = background_services(runtime)


def start_in_process(runtime: Runtime) -> EventRuntime:
    """Embedded: one relay into ``events.jsonl`` and the bus, whose subscribers are the same
    handlers the Kafka consumers call."""
    settings = runtime.settings
    bus = Bus(
        max_attempts=settings.events.consumer_max_attempts,
        backoff_s=settings.events.consumer_retry_backoff_s,
    )
    for subscription in subscriptions():
        if subscription.subscription.in_process:
            bus.subscribe(subscription.topic, subscription.handler(runtime))
    feed_bus(bus, runtime.fanout)
    sink = LocalSink(settings.events_log_file, bus)
    relay = Relay(runtime.db, sink, settings.events, name="relay-embedded")
    return EventRuntime(relays=[relay], bus=bus, services=background_services(runtime))


def start_live_feed(runtime: Runtime) -> EventRuntime | None:
    """With Kafka: this gateway process's own reader of the topics its subscriptions answer
    (``worker/live.py``), started; None without Kafka or with the feed turned off."""
    settings = runtime.settings
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap or not settings.subscriptions.kafka_feed:
        return None
    feed = KafkaFeed(
        bootstrap,
        settings.events.topics,
        runtime.fanout,
        partitions=settings.events.topic_partitions,
    )
    events = EventRuntime(relays=[], services=[feed])
    events.start()
    return events
