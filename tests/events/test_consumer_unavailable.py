"""A consumer waits out our own database or Redis being away instead of dead-lettering the
message (the message is not at fault); a message's own failures still end in the dead letters
after ``max_attempts``, and an invalid one at once. Pure logic: a stub producer stands in for
Kafka's dead-letter topic (the Kafka paths: tests/events/test_lead_flow.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from sales_graph.worker.consumer import Consumer, Rejected

pytestmark = pytest.mark.asyncio


class StubProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, bytes]]] = []

    async def send_and_wait(self, topic: str, *args: Any, **kwargs: Any) -> None:
        self.sent.append((topic, dict(kwargs.get("headers") or [])))


def _record(offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "sales.leads", 0, offset, 0, 0, b"k", b'{"event_id": "e1"}', None, 1, 18, []
    )


def _consumer(
    handler: Any, producer: StubProducer, *, backoff_s: float = 0.0, **fields: Any
) -> Consumer:
    return Consumer(
        "test",
        "sales.leads",
        handler,
        bootstrap_servers="127.0.0.1:1",
        group_id="test",
        producer=producer,  # type: ignore[arg-type]
        backoff_s=backoff_s,
        **fields,
    )


def _failing(times: int, error: BaseException) -> tuple[Any, list[int]]:
    calls: list[int] = []

    async def handler(message: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error

    return handler, calls


DATABASE_DOWN = OperationalError(
    "SELECT 1", {}, asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
)


@pytest.mark.parametrize(
    "error", [DATABASE_DOWN, RedisConnectionError("Connection refused")], ids=["database", "redis"]
)
async def test_our_infrastructure_away_is_waited_out(error: BaseException) -> None:
    producer = StubProducer()
    handler, calls = _failing(12, error)  # more failures than max_attempts
    consumer = _consumer(handler, producer, max_attempts=3)
    await consumer._handle(_record())
    assert len(calls) == 13
    assert producer.sent == []
    assert consumer.stats.handled == 1


async def test_the_wait_ends_at_its_deadline_in_the_dead_letters() -> None:
    producer = StubProducer()
    handler, calls = _failing(10_000, DATABASE_DOWN)
    consumer = _consumer(
        handler, producer, backoff_s=0.01, max_attempts=3, unavailable_deadline_s=0.2
    )
    await consumer._handle(_record())
    assert len(calls) > 3
    assert [topic for topic, _ in producer.sent] == ["sales.leads.dlq"]


async def test_a_messages_own_failure_is_dead_lettered_after_max_attempts() -> None:
    producer = StubProducer()
    handler, calls = _failing(10, ValueError("the handler's own bug"))
    consumer = _consumer(handler, producer, max_attempts=3)
    await consumer._handle(_record())
    assert len(calls) == 3
    assert [topic for topic, _ in producer.sent] == ["sales.leads.dlq"]

    producer.sent.clear()
    handler, calls = _failing(1, Rejected("not a lead"))
    await _consumer(handler, producer, max_attempts=3)._handle(_record(1))
    assert len(calls) == 1
    assert producer.sent[0][1]["dlq_error"].startswith(b"Rejected")
