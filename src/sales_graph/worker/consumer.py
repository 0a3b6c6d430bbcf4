"""Kafka consumers: each message handled in its own transaction (with its inbox row), offsets
committed after the database commit, a message that keeps failing sent to ``<topic>.dlq``.

A handler raises :class:`Rejected` for a message that can never succeed (it goes to the dead
letters at once) and any other exception for a failure worth retrying (tenacity: up to
``max_attempts``, waiting ``backoff_s * 2**(n-1)`` after attempt n).

A consumer may also have a batch handler: it takes a partition's records of one poll (JSON
objects already) and handles them in one transaction, each message's work isolated so that an
invalid one is left out alone; it returns the invalid ones (index -> reason), which go to the
dead letters after its commit. When the batch handler raises, the batch is handled again
message by message by the handler above, with its retries: nothing of the failed batch
committed, and nothing of it was dead-lettered yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential,
)

from sales_graph.db.unavailable import is_unavailable
from sales_graph.logs import get_logger
from sales_graph.telemetry import tracing
from sales_graph.telemetry.metrics import consumer_lag, dead_lettered
from sales_graph.timeutil import format_datetime, utcnow

_log = get_logger("sales_graph.worker.consumer")

MessageHandler = Callable[[dict[str, Any]], Awaitable[None]]
# The messages of one partition, in order -> the rejected ones by index, with the reason.
BatchHandler = Callable[[Sequence[dict[str, Any]]], Awaitable[Mapping[int, str]]]


class Rejected(Exception):
    """The message is invalid: retrying cannot help."""


UNAVAILABLE_WAIT_S = 5.0


def infrastructure_unavailable(error: BaseException) -> bool:
    """Our database or Redis could not be reached: the message is not at fault."""
    return is_unavailable(error) or isinstance(error, RedisConnectionError | RedisTimeoutError)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass
class ConsumerStats:
    handled: int = 0
    dead_lettered: int = 0
    failures: int = 0
    batches: int = 0
    # Batches handled again message by message after the batch handler failed.
    batch_fallbacks: int = 0


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
    # Our own database or Redis away (a restart, an outage) is not the message's fault: such a
    # failure is retried, without counting against max_attempts, until this long has passed
    # (under Kafka's max.poll.interval of 5 min), waiting at most UNAVAILABLE_WAIT_S between.
    unavailable_deadline_s: float = 240.0
    # Small batches: a batch is handled between two polls (max.poll.interval, 5 min).
    batch_size: int = 100
    # With a batch handler (a partition's messages of a poll in one transaction), larger ones.
    handler_batch_size: int = 1000
    batch_handler: BatchHandler | None = None
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
                size = self.batch_size if self.batch_handler is None else self.handler_batch_size
                batches = await consumer.getmany(timeout_ms=500, max_records=size)
                # Partitions side by side, each in order (one key stays on one partition). One
                # that fails cancels the others before the client stops: their uncommitted
                # messages come again on the next run (the inbox skips what was applied).
                async with asyncio.TaskGroup() as partitions:
                    for tp, records in batches.items():
                        partitions.create_task(self._partition(consumer, tp, records))
                await self._report_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """High-water mark minus position of each partition this consumer holds now."""
        lags: dict[int, int] = {}
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                lags[partition.partition] = highwater - await consumer.position(partition)
        consumer_lag(self.name, self.topic, lags)

    async def _partition(
        self,
        consumer: AIOKafkaConsumer,
        partition: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        if self.batch_handler is None:
            for record in records:
                with tracing.processing(
                    record.topic,
                    record.headers,
                    consumer_group=self.group_id,
                    message_id_header="event_id",
                    partition=record.partition,
                    offset=record.offset,
                ):
                    await self._handle(record)
        else:
            with tracing.processing_batch(
                partition.topic,
                [record.headers for record in records],
                consumer_group=self.group_id,
                partition=partition.partition,
            ):
                await self._batch(self.batch_handler, records)
        # After every record's transaction committed: a crash before this line redelivers
        # them, and the inbox makes the second delivery a no-op.
        await consumer.commit({partition: records[-1].offset + 1})

    async def _batch(
        self, handler: BatchHandler, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        parsed: list[tuple[ConsumerRecord[bytes, bytes], dict[str, Any]]] = []
        dead: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        for record in records:
            try:
                parsed.append((record, _parsed(record)))
            except Rejected as exc:
                dead.append((record, f"Rejected: {exc}"))
        try:
            rejected = await handler([message for _, message in parsed]) if parsed else {}
        except Exception as exc:
            self.stats.batch_fallbacks += 1
            _log.warning(
                "consumer.batch_failed",
                consumer=self.name,
                offsets=f"{records[0].offset}-{records[-1].offset}",
                error=_described(exc),
            )
            for record in records:
                await self._handle(record)
            return
        self.stats.batches += 1
        dead += [(parsed[index][0], f"Rejected: {reason}") for index, reason in rejected.items()]
        for record, error in sorted(dead, key=lambda item: item[0].offset):
            await self._dead_letter(record, error)
        self.stats.handled += len(parsed) - len(rejected)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            message = _parsed(record)
        except Rejected as exc:
            await self._dead_letter(record, f"Rejected: {exc}")
            return
        retrying = AsyncRetrying(
            # Not Rejected (it can never succeed), nor CancelledError (not an Exception).
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(Rejected),
            stop=self._give_up(),
            wait=wait_exponential(multiplier=self.backoff_s, max=UNAVAILABLE_WAIT_S),
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

    def _give_up(self) -> Callable[[RetryCallState], bool]:
        """When to stop retrying one message: after ``max_attempts`` failures of its own, or
        once ``unavailable_deadline_s`` has passed while our infrastructure is away."""
        counted = 0

        def give_up(state: RetryCallState) -> bool:
            nonlocal counted
            error = state.outcome.exception() if state.outcome else None
            if error is not None and infrastructure_unavailable(error):
                return (state.seconds_since_start or 0.0) >= self.unavailable_deadline_s
            counted += 1
            return counted >= self.max_attempts

        return give_up

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
        tracing.mark_failed(error)
        dead_lettered(record.topic)
        _log.error("consumer.dead_letter", consumer=self.name, offset=record.offset, error=error)


def _parsed(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    try:
        message = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError as exc:
        raise Rejected(str(exc)) from exc
    if not isinstance(message, dict):
        raise Rejected("the message is not a JSON object")
    return message


def _described(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}"
