"""Kafka consumers: each message handled in its own transaction (with its inbox row), offsets
committed after the database commit, a message that keeps failing sent to ``<topic>.dlq``.

A handler raises :class:`Rejected` for a message that can never succeed (it goes to the dead
letters at once) and any other exception for a failure worth retrying (tenacity: up to
``max_attempts``, waiting ``backoff_s * 2**(n-1)`` after attempt n).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from sales_graph.logs import get_logger
from sales_graph.timeutil import format_datetime, utcnow

_log = get_logger("sales_graph.worker.consumer")

MessageHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Rejected(Exception):
    """The message is invalid: retrying cannot help."""


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass
class ConsumerStats:
    handled: int = 0
    dead_lettered: int = 0
    failures: int = 0


@dataclass(eq=False)
class Consumer:
    name: str
    topic: str
    handler: MessageHandler
    _: KW_ONLY
    bootstrap_servers: str
    group_id: str
    producer: AIOKafkaProducer
    max_attempts: int = 5
    backoff_s: float = 0.2
    # Small batches: a batch is handled between two polls (max.poll.interval, 5 min).
    batch_size: int = 100
    stats: ConsumerStats = field(default_factory=ConsumerStats, init=False)

    def _kafka_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"sales-graph-{self.name}",
        )

    async def run(self, stop: asyncio.Event) -> None:
        # A new client per run: a stopped aiokafka consumer cannot be started again.
        consumer = self._kafka_consumer()
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                # Partitions side by side, each in order (one key stays on one partition).
                await asyncio.gather(
                    *(self._partition(consumer, tp, records) for tp, records in batches.items())
                )
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _partition(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        for record in records:
            await self._handle(record)
        # After every record's transaction committed: a crash before this line redelivers
        # them, and the inbox makes the second delivery a no-op.
        await consumer.commit({partition: records[-1].offset + 1})

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            message = orjson.loads(record.value or b"")
            if not isinstance(message, dict):
                raise Rejected("the message is not a JSON object")
        except (orjson.JSONDecodeError, Rejected) as exc:
            await self._dead_letter(record, f"Rejected: {exc}")
            return
        retrying = AsyncRetrying(
            # Not Rejected (it can never succeed), nor CancelledError (not an Exception).
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(Rejected),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_s),
            after=lambda state: self._failed(record, state),
            reraise=True,
        )
        try:
            await retrying(self.handler, message)
        except Rejected as exc:
            await self._dead_letter(record, f"Rejected: {exc}")
        except Exception as exc:
            await self._dead_letter(record, _described(exc))
        else:
            self.stats.handled += 1

    def _failed(self, record: ConsumerRecord[bytes, bytes], state: RetryCallState) -> None:
        self.stats.failures += 1
        _log.warning(
            "consumer.retry",
            consumer=self.name,
            offset=record.offset,
            attempt=state.attempt_number,
            error=_described(state.outcome.exception() if state.outcome else None),
        )

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        headers = [
            *(record.headers or ()),
            ("dlq_error", error[:2000].encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ("dlq_at", format_datetime(utcnow()).encode()),
        ]
        await self.producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        self.stats.dead_lettered += 1
        _log.error("consumer.dead_letter", consumer=self.name, offset=record.offset, error=error)


def _described(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}"
