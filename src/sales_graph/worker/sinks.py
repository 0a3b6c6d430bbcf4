"""Where the relay publishes: Kafka in production, the in-process bus and ``events.jsonl`` in the
embedded footprint. Both take a batch and say, row by row, whether it was delivered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from sales_graph.db.repositories.outbox import Pending
from sales_graph.logs import get_logger
from sales_graph.settings import TopicSettings
from sales_graph.telemetry import tracing
from sales_graph.worker.bus import Bus


class Delivery(Exception):
    """A row was not delivered; ``transient`` failures (the broker is away) never park it."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class EventSink(Protocol):
    async def start(self) -> None: ...

    async def publish(self, rows: Sequence[Pending]) -> list[Delivery | None]:
        """One entry per row, in order: None when delivered."""
        ...

    async def stop(self) -> None: ...


def headers_of(row: Pending, send: tracing.MessageSend) -> list[tuple[str, bytes]]:
    return [
        ("event_id", row.event_id.encode()),
        ("event_type", row.event_type.encode()),
        ("correlation_id", (row.correlation_id or "").encode()),
        *send.headers(),  # traceparent (tracestate): the trace of the request that recorded it
    ]


def topic_of(row: Pending, topics: TopicSettings) -> str:
    # The outbox keeps the logical topic (catalog); the setting names the Kafka topic.
    return str(getattr(topics, row.topic, row.topic))


_log = get_logger("sales_graph.worker.sinks")

_TRANSIENT = (KafkaConnectionError, KafkaTimeoutError)
# The idempotent producer's own state no longer matches the broker's (after the broker lost or
# kept batches in flight across a restart): that producer can never send again, so the sink
# replaces it. Not the message's fault: the rows are tried again and never parked for it.
_PRODUCER_STATE = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


class KafkaSink:
    """An idempotent producer (acks=all): a retried send is written once per partition, in order."""

    def __init__(
        self, bootstrap_servers: str, topics: TopicSettings, *, request_timeout_ms: int = 10_000
    ) -> None:
        self.topics = topics
        self._bootstrap_servers = bootstrap_servers
        self._request_timeout_ms = request_timeout_ms
        self.producer = self._new_producer()
        self.renewals = 0
        self._broken: str | None = None  # why the producer must be replaced before a send

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=self._request_timeout_ms,
            retry_backoff_ms=200,
            client_id="sales-graph-relay",
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def _renew(self) -> None:
        """A new producer (a new producer id) in place of one whose state the broker refuses."""
        old, self.producer = self.producer, self._new_producer()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await old.stop()
        await self.producer.start()  # Kafka away: raises, and the next batch tries again
        _log.warning("outbox.producer_renewed", reason=self._broken)
        self._broken = None
        self.renewals += 1

    async def publish(self, rows: Sequence[Pending]) -> list[Delivery | None]:
        if self._broken is not None:
            await self._renew()
        results: list[Delivery | None] = [None] * len(rows)
        pending: list[tuple[int, asyncio.Future[Any], tracing.MessageSend]] = []
        for index, row in enumerate(rows):
            topic = topic_of(row, self.topics)
            send = tracing.sending(
                topic, traceparent=row.traceparent, key=row.key, message_id=row.event_id
            )
            try:
                future = await self.producer.send(
                    topic, value=row.value, key=row.key.encode(), headers=headers_of(row, send)
                )
            except KafkaError as exc:
                send.failed(exc)
                if isinstance(exc, _PRODUCER_STATE):
                    self._broken = f"{type(exc).__name__}: {exc}"
                # Not even queued (no metadata: the broker is away): nothing after it is sent,
                # so the batch keeps its order when it is tried again.
                failure = Delivery(
                    f"{type(exc).__name__}: {exc}",
                    transient=isinstance(exc, _TRANSIENT + _PRODUCER_STATE),
                )
                for rest in range(index, len(rows)):
                    results[rest] = failure
                break
            pending.append((index, future, send))
        for index, future, send in pending:
            try:
                metadata = await future
            except KafkaError as exc:
                send.failed(exc)
                if isinstance(exc, _PRODUCER_STATE):
                    self._broken = f"{type(exc).__name__}: {exc}"
                transient = isinstance(exc, _TRANSIENT + _PRODUCER_STATE) or getattr(
                    exc, "retriable", False
                )
                results[index] = Delivery(f"{type(exc).__name__}: {exc}", transient=transient)
            else:
                send.delivered(metadata.partition, metadata.offset)
        return results


class LocalSink:
    """The embedded footprint: each event appended to ``events.jsonl`` and handed to the bus."""

    def __init__(self, log_file: Path, bus: Bus | None = None) -> None:
        self.log_file = log_file
        self.bus = bus

    async def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        return None

    async def publish(self, rows: Sequence[Pending]) -> list[Delivery | None]:
        envelopes = [row.envelope() for row in rows]
        lines = b"".join(orjson.dumps(e) + b"\n" for e in envelopes)
        await asyncio.to_thread(self._append, lines)
        if self.bus is not None:
            for row, envelope in zip(rows, envelopes, strict=True):
                self.bus.put(row.topic, row.key, envelope, traceparent=row.traceparent)
        return [None] * len(rows)

    def _append(self, lines: bytes) -> None:
        with self.log_file.open("ab") as handle:
            handle.write(lines)
