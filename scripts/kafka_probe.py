#!/usr/bin/env python3
"""Check that the local Kafka broker works with the project's client, aiokafka.

Usage: python scripts/kafka_probe.py [--bootstrap 127.0.0.1:9092] [--messages 30]

Runs, against a fresh topic: admin create/describe, an idempotent producer (acks=all),
a consumer group that reads everything back and commits, committed-offset read-back,
transactional produce (commit and abort, read with read_committed), offsets sent in a
transaction, and topic auto-creation. Prints one line per step; exits 1 if any failed.
Only needs aiokafka. Used to choose the Kafka version (docs/kafka-version.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

STEP_TIMEOUT = 60.0
PARTITIONS = 3


class Probe:
    def __init__(self, bootstrap: str, messages: int) -> None:
        self.bootstrap = bootstrap
        self.messages = messages
        run = uuid.uuid4().hex[:10]
        self.topic = f"probe-{run}"
        self.tx_topic = f"probe-tx-{run}"
        self.auto_topic = f"probe-auto-{run}"
        self.group = f"probe-group-{run}"
        self.failures: list[str] = []

    async def step(self, name: str, fn: Callable[[], Awaitable[str]]) -> None:
        t0 = time.monotonic()
        try:
            detail = await asyncio.wait_for(fn(), STEP_TIMEOUT)
            print(f"PASS {name} ({time.monotonic() - t0:.2f}s): {detail}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure
            self.failures.append(name)
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc(limit=3, file=sys.stdout)

    # -- steps -----------------------------------------------------------------------

    async def admin(self) -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(self.topic, num_partitions=PARTITIONS, replication_factor=1),
                    NewTopic(self.tx_topic, num_partitions=1, replication_factor=1),
                ]
            )
            topics = await admin.list_topics()
            missing = {self.topic, self.tx_topic} - set(topics)
            if missing:
                raise AssertionError(f"created topics not listed: {missing}")
            described = await admin.describe_topics([self.topic])
            parts = len(described[0]["partitions"])
            if parts != PARTITIONS:
                raise AssertionError(f"{self.topic} has {parts} partitions, expected {PARTITIONS}")
            cluster = await admin.describe_cluster()
            return f"created {self.topic} ({parts} partitions) and {self.tx_topic}; cluster {cluster.get('cluster_id')}"
        finally:
            await admin.close()

    async def produce_idempotent(self) -> str:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            metas = []
            for i in range(self.messages):
                fut = await producer.send(self.topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
                metas.append(fut)
            results = [await m for m in metas]
            parts = sorted({r.partition for r in results})
            return f"{len(results)} messages acked (acks=all, idempotent) on partitions {parts}"
        finally:
            await producer.stop()

    async def consume_and_commit(self) -> str:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: dict[TopicPartition, int] = {}
            values: set[bytes] = set()
            while len(values) < self.messages:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, records in batch.items():
                    for r in records:
                        values.add(r.value)
                        got[tp] = r.offset + 1
            await consumer.commit()
            committed = {tp: await consumer.committed(tp) for tp in got}
            if committed != got:
                raise AssertionError(f"committed {committed} != consumed up to {got}")
            total = sum(committed.values())
            if total != self.messages:
                raise AssertionError(f"committed offsets sum to {total}, expected {self.messages}")
            return f"group {self.group} read {len(values)} messages, committed and read back {total} offsets"
        finally:
            await consumer.stop()

    async def committed_from_new_member(self) -> str:
        # A fresh consumer in the same group sees the committed offsets (coordinator round trip).
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            committed = {tp.partition: await consumer.committed(tp) for tp in tps}
            total = sum(v or 0 for v in committed.values())
            if total != self.messages:
                raise AssertionError(f"committed offsets {committed} sum to {total}, expected {self.messages}")
            return f"committed offsets per partition {committed}"
        finally:
            await consumer.stop()

    async def transactions(self) -> str:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, transactional_id=f"probe-tx-{uuid.uuid4().hex[:8]}"
        )
        await producer.start()
        try:
            async with producer.transaction():
                for i in range(3):
                    await producer.send(self.tx_topic, value=f"committed-{i}".encode())
            await producer.begin_transaction()
            await producer.send(self.tx_topic, value=b"aborted")
            await producer.abort_transaction()
            async with producer.transaction():
                await producer.send(self.tx_topic, value=b"committed-last")
                # consume-transform-produce: offsets committed inside the transaction
                await producer.send_offsets_to_transaction(
                    {TopicPartition(self.topic, 0): 0}, f"{self.group}-tx"
                )
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            self.tx_topic,
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            seen: list[bytes] = []
            while b"committed-last" not in seen:
                batch = await consumer.getmany(timeout_ms=1000)
                seen += [r.value for records in batch.values() for r in records]
            if b"aborted" in seen:
                raise AssertionError("read_committed consumer saw an aborted message")
            return f"commit/abort/send_offsets_to_transaction ok; read_committed saw {len(seen)} messages, none aborted"
        finally:
            await consumer.stop()

    async def auto_create(self) -> str:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            meta = await producer.send_and_wait(self.auto_topic, b"x")
            parts = producer.client.cluster.partitions_for_topic(self.auto_topic)
            return f"{self.auto_topic} auto-created with {len(parts or ())} partitions (offset {meta.offset})"
        finally:
            await producer.stop()

    async def run(self) -> int:
        print(f"aiokafka {aiokafka.__version__} -> {self.bootstrap}", flush=True)
        await self.step("admin create/describe topics", self.admin)
        await self.step("idempotent producer acks=all", self.produce_idempotent)
        await self.step("consumer group read + commit + committed()", self.consume_and_commit)
        await self.step("committed() from a new group member", self.committed_from_new_member)
        await self.step("transactional producer", self.transactions)
        await self.step("topic auto-creation", self.auto_create)
        if self.failures:
            print(f"kafka probe: FAILED {len(self.failures)} step(s): {', '.join(self.failures)}")
            return 1
        print("kafka probe: all steps passed")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    )
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    return asyncio.run(Probe(args.bootstrap, args.messages).run())


if __name__ == "__main__":
    sys.exit(main())
