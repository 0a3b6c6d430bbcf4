"""Kafka topics of the test run: each test that needs topics gets names of its own, and the run
deletes them when it ends, so a long-lived local broker does not pile up partitions (each holds
open files; at the open-file limit the broker gives up its log directory)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiokafka.admin import AIOKafkaAdminClient

from sales_graph.settings import TopicSettings

CREATED: set[str] = set()


def unique_topics() -> TopicSettings:
    """Topic names no other test uses (the broker is shared by the whole run and by other runs)."""
    suffix = uuid.uuid4().hex[:10]
    names = {key: f"{value}.{suffix}" for key, value in TopicSettings().model_dump().items()}
    CREATED.update(names.values())
    CREATED.update(f"{name}.dlq" for name in names.values())
    return TopicSettings(**names)


async def delete_created(bootstrap: str, *, timeout_s: float = 30.0) -> int:
    """Deletes the run's topics that exist; returns how many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        doomed = sorted(CREATED & existing)
        for start in range(0, len(doomed), 200):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.delete_topics(doomed[start : start + 200]), timeout_s)
        return len(doomed)
    finally:
        await admin.close()
