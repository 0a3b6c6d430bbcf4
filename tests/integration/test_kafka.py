from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def test_message_round_trips_through_the_real_kafka(kafka_bootstrap: str) -> None:
    topic = f"test.foundation.{uuid.uuid4().hex[:8]}"
    group = f"test-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        metadata = await producer.send_and_wait(
            topic, b'{"event_type":"lead.created"}', key=b"lead-1", headers=[("event_id", b"e1")]
        )
    finally:
        await producer.stop()
    assert metadata.offset == 0

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(message.topic, message.partition))
    finally:
        await consumer.stop()
    assert message.key == b"lead-1"
    assert message.value == b'{"event_type":"lead.created"}'
    assert dict(message.headers)["event_id"] == b"e1"
    assert committed == message.offset + 1
