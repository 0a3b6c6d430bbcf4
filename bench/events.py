"""Scenario 5, events: the outbox relay against a raw aiokafka producer, the outbox lag at a
steady rate, and ``lead.qualified`` ingestion against a raw consume loop.

Runs in this process against the services' PostgreSQL and Kafka, on a database of its own.
Every ratio compares two measurements taken one after the other in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlmodel import col, select

from bench.stack import PG, recreate_database
from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.models import OutboxEvent
from sales_graph.events.models import OpportunityStageChanged
from sales_graph.events.outbox import record
from sales_graph.logs import configure_logging
from sales_graph.runtime import build_runtime
from sales_graph.seed import seed_demo
from sales_graph.settings import EventSettings, Settings, TopicSettings
from sales_graph.worker import marketing
from sales_graph.worker.consumer import Consumer
from sales_graph.worker.launch import ensure_topics
from sales_graph.worker.relay import Relay
from sales_graph.worker.sinks import KafkaSink

DATABASE = "sales_graph_bench_events"
KAFKA = "127.0.0.1:9092"
_NOW = datetime(2026, 2, 11, 8, 0, tzinfo=UTC)


async def _fresh_database() -> str:
    await recreate_database(DATABASE)
    return f"postgresql+asyncpg://{PG}/{DATABASE}"


def _topics() -> TopicSettings:
    suffix = uuid.uuid4().hex[:8]
    return TopicSettings(
        **{k: f"bench.{v}.{suffix}" for k, v in TopicSettings().model_dump().items()}
    )


def stage_changed(n: int, opportunity_id: uuid.UUID | None = None) -> OpportunityStageChanged:
    """A real opportunity.stage_changed payload (of a new opportunity unless one is named)."""
    return OpportunityStageChanged(
        opportunity_id=opportunity_id or uuid.uuid4(),
        name=f"Deal {n}",
        account_id=uuid.uuid4(),
        lead_id=None,
        owner_id=uuid.uuid4(),
        territory_id=uuid.uuid4(),
        stage="proposal",
        probability=60,
        amount=120000.0,
        expected_close_date="2026-12-31",
        forecast_category="best_case",
        deal_score=None,
        version=n + 1,
        updated_at=_NOW,
        previous_stage="qualification",
        previous_probability=40,
        notes=None,
        changed_at=_NOW,
    )


async def fill_outbox(
    db: Database, count: int, keys: int, *, aggregates: list[uuid.UUID] | None = None
) -> None:
    """``count`` events in transactions of 1,000, keyed ``opp-<n % keys>``; their payloads name
    a new opportunity each, or ``aggregates[n % len(aggregates)]``."""
    batch = 1000
    for start in range(0, count, batch):
        async with db.session() as session:
            for n in range(start, min(count, start + batch)):
                await record(
                    session,
                    "opportunity.stage_changed",
                    f"opp-{n % keys}",
                    stage_changed(n, aggregates[n % len(aggregates)] if aggregates else None),
                    actor_id=None,
                )


async def _relay_once(db: Database, topics: TopicSettings, count: int) -> tuple[float, float]:
    """One round: ``count`` outbox rows through the relay, then the same messages from memory
    through a raw producer with the relay's settings. Returns (relay seconds, raw seconds)."""
    await fill_outbox(db, count, keys=500)
    settings = EventSettings(topics=topics)
    sink = KafkaSink(KAFKA, topics)
    await sink.start()
    try:
        relay = Relay(db, sink, settings)
        began = time.perf_counter()
        while await relay.run_once():
            pass
        relay_s = time.perf_counter() - began
    finally:
        await sink.stop()
    async with db.session() as session:
        rows = list(
            (
                await session.exec(
                    select(OutboxEvent).order_by(col(OutboxEvent.id).desc()).limit(count)
                )
            ).all()
        )
    rows.reverse()
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        began = time.perf_counter()
        futures = [
            await producer.send(
                topics.opportunities + ".raw",
                value=orjson.dumps(r.envelope),
                key=r.key.encode(),
                headers=[("event_id", str(r.event_id).encode())],
            )
            for r in rows
        ]
        await asyncio.gather(*futures)
        raw_s = time.perf_counter() - began
    finally:
        await producer.stop()
    return relay_s, raw_s


async def relay_throughput(
    db: Database, topics: TopicSettings, count: int, rounds: int = 3
) -> dict[str, float]:
    """Relay against raw producer, ``rounds`` times alternately; the median round counts (a
    neighbour's burst hits one round, not the ratio)."""
    rounds_s = sorted(
        [await _relay_once(db, topics, count) for _ in range(rounds)],
        key=lambda times: times[1] / times[0],  # relay / raw, in events per second
    )
    ratios = [raw_s / relay_s for relay_s, raw_s in rounds_s]
    relay_s, raw_s = rounds_s[len(rounds_s) // 2]
    return {
        "events": count,
        "rounds": rounds,
        "relay_batch_size": EventSettings().relay_batch_size,
        "relay_events_per_s": round(count / relay_s),
        "raw_events_per_s": round(count / raw_s),
        "ratio": round(ratios[len(ratios) // 2], 3),
        "ratio_min": round(ratios[0], 3),
        "ratio_max": round(ratios[-1], 3),
    }


async def outbox_lag(
    db: Database, topics: TopicSettings, rate: int, seconds: float
) -> dict[str, float]:
    """One event per transaction at ``rate``/s while a relay runs; lag = published - created."""
    settings = EventSettings(topics=topics)
    sink = KafkaSink(KAFKA, topics)
    await sink.start()
    relay = Relay(db, sink, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    began_at = time.time()
    try:
        total = int(rate * seconds)
        start = time.perf_counter()
        for n in range(total):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with db.session() as session:
                await record(
                    session,
                    "opportunity.stage_changed",
                    f"lag-{n % 200}",
                    stage_changed(n),
                    actor_id=None,
                )
        achieved = total / (time.perf_counter() - start)
        deadline = time.monotonic() + 60
        while relay.published < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"relay published {relay.published} of {total} in 60 s")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await sink.stop()
    async with db.session() as session:
        rows = (
            await session.exec(select(OutboxEvent).where(col(OutboxEvent.key).startswith("lag-")))
        ).all()
    lags = sorted(
        (r.published_at - r.created_at).total_seconds()
        for r in rows
        if r.published_at and r.created_at.timestamp() >= began_at - 1
    )
    return {
        "target_rate": rate,
        "achieved_rate": round(achieved),
        "events": len(lags),
        "lag_p50_ms": round(statistics.median(lags) * 1000, 1),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1),
        "lag_max_ms": round(lags[-1] * 1000, 1),
    }


async def raw_consume(topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen = 0
    try:
        began = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record_ in records:
                    orjson.loads(record_.value or b"{}")
                    seen += 1
        return count / (time.perf_counter() - began)
    finally:
        await consumer.stop()


def _lead_qualified(n: int) -> dict[str, Any]:
    """The spec's Marketing event, one distinct lead each."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "lead.qualified",
        "timestamp": "2026-02-11T08:00:00Z",
        "payload": {
            "lead_id": str(uuid.uuid4()),
            "source": "webinar",
            "score": 85,
            "campaign_id": str(uuid.uuid4()),
            "attribution": {
                "first_touch": "paid_search",
                "last_touch": "webinar",
                "touches": ["paid_search", "email", "webinar"],
            },
            "profile": {
                "first_name": "John",
                "last_name": f"Doe {n}",
                "email": f"john.doe.{n}@example.com",
                "company": f"Acme {n}",
                "title": "VP Engineering",
                "phone": "+1-555-0100",
            },
            "firmographic": {
                "industry": "Technology",
                "employee_count": 500,
                "annual_revenue": 50000000,
                "country": "US",
            },
        },
    }


async def ingestion(
    url: str, topics: TopicSettings, count: int, *, batched: bool = True
) -> dict[str, float]:
    """``lead.qualified`` through the consumer (validate, upsert, assign, inbox, outbox) against
    a raw consume loop over the same messages: a partition's messages of a poll in one
    transaction as the worker runs it, or with ``batched=False`` one by one (its fallback)."""
    db = Database(url)
    async with db.session() as session:
        await seed_demo(session)  # users, territories with rules: the leads get assigned
    await db.dispose()
    settings = Settings(  # type: ignore[call-arg]
        database_url=url,
        kafka_bootstrap_servers=KAFKA,
        log_level="WARNING",
        events=EventSettings(topics=topics),
        _env_file=None,
    )
    runtime = build_runtime(settings)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topics.marketing_leads, orjson.dumps(_lead_qualified(n)))
            for n in range(count)
        ]
        await asyncio.gather(*futures)
        consumer = Consumer(
            "bench-marketing",
            topics.marketing_leads,
            marketing.lead_qualified_handler(runtime),
            bootstrap_servers=KAFKA,
            group_id=f"bench-{uuid.uuid4().hex[:8]}",
            producer=producer,
            batch_handler=marketing.lead_qualified_batch_handler(runtime) if batched else None,
        )
        stop = asyncio.Event()
        began = time.perf_counter()
        task = asyncio.create_task(consumer.run(stop))
        while consumer.stats.handled + consumer.stats.dead_lettered < count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        handled_s = time.perf_counter() - began
        stop.set()
        await task
    finally:
        await producer.stop()
        await runtime.close()
    raw = await raw_consume(topics.marketing_leads, count)
    return {
        "messages": count,
        "batched": batched,
        "dead_lettered": consumer.stats.dead_lettered,
        "batch_fallbacks": consumer.stats.batch_fallbacks,
        "ingested_leads_per_s": round(count / handled_s),
        "raw_consume_per_s": round(raw),
        "ratio": round(count / handled_s / raw, 4),
    }


async def run(
    events: int = 20_000, lag_rate: int = 500, lag_seconds: float = 10.0, leads: int = 2_000
) -> dict[str, Any]:
    configure_logging("WARNING", json=False)  # a log line per ingested lead is not the load
    url = await _fresh_database()
    db = Database(url)
    try:
        await upgrade(db.engine)
        topics = _topics()
        await ensure_topics(
            KAFKA, [*topics.model_dump().values(), topics.opportunities + ".raw"], 6
        )
        throughput = await relay_throughput(db, topics, events)
        lag = await outbox_lag(db, topics, lag_rate, lag_seconds)
        intake = await ingestion(url, topics, leads)
        return {"relay": throughput, "lag": lag, "ingestion": intake}
    finally:
        await db.dispose()


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(run()), option=orjson.OPT_INDENT_2).decode())
