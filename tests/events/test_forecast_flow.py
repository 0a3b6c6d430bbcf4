"""Forecast generation (docs/events.md, "Forecast generation"): a change publishes its territory's
forecasts within seconds, a burst is refreshed once per pair, the daily run runs each slot once,
and the cache serves what a fresh computation gives."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from redis.asyncio import Redis
from sqlmodel import col, func, select

from sales_graph.app import create_app
from sales_graph.cache.forecasts import (
    ForecastCache,
    InProcessForecastCache,
    Pair,
    RedisForecastCache,
)
from sales_graph.db.models import Account, Forecast, Opportunity, OutboxEvent, Territory, User
from sales_graph.db.repositories import scheduled_runs
from sales_graph.domain import ForecastType, OpportunityStage
from sales_graph.domain.forecasts import ComputedForecast
from sales_graph.domain.periods import parse_period
from sales_graph.events import payloads
from sales_graph.events.models import TrackedChanges
from sales_graph.events.schemas import validate_event
from sales_graph.runtime import build_runtime
from sales_graph.services.forecast_generation import SYSTEM_SCOPE, cached_forecast, quarters_from
from sales_graph.services.forecasting import compute_forecast
from sales_graph.services.stages import STAGES
from sales_graph.settings import EventSettings
from sales_graph.timeutil import utcnow
from sales_graph.worker import launch as events_runtime
from sales_graph.worker.forecasts import (
    DAILY_JOB,
    FORECAST_FIELDS,
    ForecastRefresher,
    affected,
    daily_generation,
)
from sales_graph.worker.schedule import check_schedule, next_slot
from tests.events.conftest import (
    EventGateway,
    Message,
    event_settings,
    read_topic,
    unique_topics,
    until,
)
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

PERIOD = "Q3_2026"
# Closing in Q3_2026; the pipeline forecast is 750,000, weighted 530,000.
DEALS = [
    ("discovery", 100_000, date(2026, 7, 15)),
    ("proposal", 250_000, date(2026, 8, 1)),
    ("negotiation", 400_000, date(2026, 9, 30)),
    ("closed_won", 150_000, date(2026, 8, 20)),
]
PAYLOAD_FIELDS = {
    "period",
    "territory_id",
    "forecast_type",
    "amount",
    "probability_weighted_amount",
    "breakdown",
    "generated_at",
}

STAGE = """mutation($id: ID!, $stage: OpportunityStage!) {
  updateOpportunityStage(opportunityId: $id, stage: $stage) { id stage } }"""
UPDATE = """mutation($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { id version } }"""
FORECASTS = """query($t: ID!, $p: String!) { forecasts(period: $p, territoryId: $t) {
  kind forecastType amount probabilityWeightedAmount aiPredictedAmount } }"""


@pytest.fixture
def only_forecast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forecast refresh is the consumer under test (the others have tests of their own)."""
    wired = events_runtime.subscriptions
    monkeypatch.setattr(
        events_runtime,
        "subscriptions",
        lambda: [s for s in wired() if s.name == "forecast-refresh"],
    )


@pytest.fixture
async def forecast_gateway(
    fresh_postgres: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    only_forecast_refresh: None,
) -> AsyncIterator[EventGateway]:
    """The event gateway of ``conftest.py`` with Redis: production's footprint."""
    org = await seeded_org(fresh_postgres)
    topics = unique_topics()
    settings = event_settings(fresh_postgres, tmp_path, kafka_bootstrap, topics)
    app = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with app_client(app) as client:
        gateway = EventGateway(client, app, org, "postgresql", kafka_bootstrap, topics)
        try:
            yield gateway
        finally:
            for events in gateway._started:
                await events.stop()


async def add_deals(
    gateway: Gateway, territory: Territory, owner: User, deals: list[tuple[str, int, date]]
) -> list[str]:
    async with gateway.runtime.db.session() as session:
        account = Account(
            name=f"Account {uuid.uuid4().hex[:6]}",
            name_normalized=uuid.uuid4().hex,
            owner_id=owner.id,
            territory_id=territory.id,
        )
        session.add(account)
        await session.flush()
        rows = []
        for n, (stage, amount, close) in enumerate(deals):
            rule = STAGES[OpportunityStage(stage)]
            row = Opportunity(
                name=f"Deal {n}",
                account_id=account.id,
                stage=stage,
                amount=Decimal(amount),
                probability=rule.default_probability,
                forecast_category=rule.forecast_category.value,
                expected_close_date=close,
                owner_id=owner.id,
                territory_id=territory.id,
                deal_score=50,
            )
            session.add(row)
            rows.append(row)
        await session.flush()
        return [str(row.id) for row in rows]


async def fresh(
    gateway: Gateway, territory_id: uuid.UUID, period: str, kind: ForecastType
) -> ComputedForecast:
    async with gateway.runtime.db.session() as session:
        return await compute_forecast(
            session, SYSTEM_SCOPE, territory_id, parse_period(period), kind
        )


def numbers(forecast: ComputedForecast) -> dict[str, Any]:
    """Everything but the time of computation."""
    payload = payloads.forecast_updated(forecast).model_dump(mode="json")
    del payload["generated_at"]
    return {**payload, "ai_predicted_amount": forecast.ai_predicted_amount}


def of(territory: Territory, period: str | None = None) -> Any:
    def matches(message: Message) -> bool:
        payload = message.value["payload"]
        return payload["territory_id"] == str(territory.id) and period in (None, payload["period"])

    return matches


async def test_a_stage_change_publishes_its_forecasts_within_seconds_and_caches_them(
    forecast_gateway: EventGateway,
) -> None:
    gateway, org = forecast_gateway, forecast_gateway.org
    ids = await add_deals(gateway, org.t1, org.r1, DEALS)
    events = await gateway.start_events()
    consumer = next(c for c in events.consumers if c.name == "forecast-refresh")
    before = await gateway.data(org.admin, FORECASTS, t=str(org.t1.id), p=PERIOD)
    weighted = {f["forecastType"]: f["probabilityWeightedAmount"] for f in before["forecasts"]}
    assert weighted["PIPELINE"] == 530_000.0  # now cached
    cache = gateway.runtime.forecast_cache
    assert isinstance(cache, RedisForecastCache)
    q3 = parse_period(PERIOD)
    assert await cached_forecast(cache, org.t1.id, q3, ForecastType.PIPELINE) is not None

    loop = asyncio.get_running_loop()
    changed_at = loop.time()
    await gateway.data(org.r1, STAGE, id=ids[0], stage="QUALIFICATION")

    async def handled() -> bool:
        return consumer.stats.handled >= 1

    # Handling the event invalidates at once: the old value is never served again, not even
    # during the debounce before the refresh.
    await until(handled, every_s=0.01)
    meanwhile = await cached_forecast(cache, org.t1.id, q3, ForecastType.PIPELINE)
    if meanwhile is not None:  # the refresh was quicker than this check
        assert meanwhile.probability_weighted_amount == Decimal(550_000)
    messages = await read_topic(
        gateway.bootstrap, gateway.topics.forecasts, count=4, deadline_s=20, where=of(org.t1)
    )
    elapsed = loop.time() - changed_at

    assert len(messages) == 4, messages
    assert elapsed < 10, f"forecast.updated took {elapsed:.1f} s"
    by_type = {m.value["payload"]["forecast_type"]: m.value["payload"] for m in messages}
    assert set(by_type) == {t.value for t in ForecastType}
    for message in messages:
        assert message.value["event_type"] == "forecast.updated"
        assert message.key == f"{org.t1.id}:{PERIOD}"
        assert set(message.value["payload"]) == PAYLOAD_FIELDS
        validate_event(message.value)  # the published contract (schema/events/)
        assert message.value["payload"]["period"] == PERIOD
    pipeline = by_type["pipeline"]
    assert pipeline["amount"] == 750_000.0
    assert pipeline["probability_weighted_amount"] == 550_000.0
    assert pipeline["breakdown"] == [
        {
            "stage": "qualification",
            "count": 1,
            "total_amount": 100_000.0,
            "weighted_amount": 40_000.0,
        },
        {"stage": "proposal", "count": 1, "total_amount": 250_000.0, "weighted_amount": 150_000.0},
        {
            "stage": "negotiation",
            "count": 1,
            "total_amount": 400_000.0,
            "weighted_amount": 360_000.0,
        },
    ]
    assert by_type["closed"]["amount"] == 150_000.0

    # The cache holds exactly what a fresh computation gives, and the read serves it.
    for kind in ForecastType:
        cached = await cached_forecast(cache, org.t1.id, q3, kind)
        assert cached is not None, kind
        assert numbers(cached) == numbers(await fresh(gateway, org.t1.id, PERIOD, kind))
    after = await gateway.data(org.m1, FORECASTS, t=str(org.t1.id), p=PERIOD)
    read = {f["forecastType"]: f for f in after["forecasts"] if f["kind"] == "GENERATED"}
    assert read["PIPELINE"]["probabilityWeightedAmount"] == 550_000.0
    assert read["PIPELINE"]["aiPredictedAmount"] == float(
        (await fresh(gateway, org.t1.id, PERIOD, ForecastType.PIPELINE)).ai_predicted_amount
    )
    # A rep of the territory who owns none of it still gets their own (empty) forecast.
    rep = await gateway.data(org.r2, FORECASTS, t=str(org.t1.id), p=PERIOD)
    assert [f["amount"] for f in rep["forecasts"]] == [0.0] * 4


async def test_a_moved_close_date_refreshes_the_old_and_the_new_quarter(
    forecast_gateway: EventGateway,
) -> None:
    gateway, org = forecast_gateway, forecast_gateway.org
    ids = await add_deals(gateway, org.t1, org.r1, DEALS)
    await gateway.start_events()
    await gateway.data(org.r1, UPDATE, id=ids[1], input={"expectedCloseDate": "2026-10-05"})
    messages = await read_topic(
        gateway.bootstrap, gateway.topics.forecasts, count=8, deadline_s=20, where=of(org.t1)
    )
    assert Counter(m.value["payload"]["period"] for m in messages) == {PERIOD: 4, "Q4_2026": 4}
    pipelines = {
        m.value["payload"]["period"]: m.value["payload"]["amount"]
        for m in messages
        if m.value["payload"]["forecast_type"] == "pipeline"
    }
    assert pipelines == {PERIOD: 500_000.0, "Q4_2026": 250_000.0}


async def test_a_burst_of_changes_is_refreshed_once_per_pair(
    forecast_gateway: EventGateway,
) -> None:
    gateway, org = forecast_gateway, forecast_gateway.org
    t1_deals = await add_deals(gateway, org.t1, org.r1, DEALS[:2])
    t2_deal = (await add_deals(gateway, org.t2, org.r4, [("proposal", 50_000, date(2026, 7, 1))]))[
        0
    ]
    # 20 changes waiting in the outbox: the relay hands them over at once when it starts.
    for n in range(20):
        user, deal = (org.r4, t2_deal) if n % 4 == 0 else (org.r1, t1_deals[n % 2])
        await gateway.data(user, UPDATE, id=deal, input={"amount": 10_000 + n})
    events = await gateway.start_events()
    consumer = next(c for c in events.consumers if c.name == "forecast-refresh")
    refresher = next(s for s in events.services if isinstance(s, ForecastRefresher))
    pairs = {Pair(org.t1.id, PERIOD), Pair(org.t2.id, PERIOD)}

    async def handled_all() -> bool:
        return consumer.stats.handled >= 20

    async def refreshed() -> bool:
        return set(refresher.refreshed) == pairs

    await until(handled_all)
    await until(refreshed)
    messages = await read_topic(gateway.bootstrap, gateway.topics.forecasts, count=8, deadline_s=20)

    assert await refresher.run_once(now=math.inf) == 0  # nothing left queued
    assert refresher.refreshed == Counter(dict.fromkeys(pairs, 1))
    published = Counter(
        (m.value["payload"]["territory_id"], m.value["payload"]["forecast_type"]) for m in messages
    )
    assert len(published) == 8
    assert set(published.values()) == {1}
    async with gateway.runtime.db.session() as session:
        recorded = await session.exec(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event_type == "forecast.updated")
        )
        assert recorded.one() == 8
    t2_pipeline = next(
        m.value["payload"]
        for m in messages
        if m.value["payload"]["territory_id"] == str(org.t2.id)
        and m.value["payload"]["forecast_type"] == "pipeline"
    )
    assert t2_pipeline["amount"] == 10_016.0  # the last of its five changes


async def test_two_schedulers_run_a_due_slot_once(forecast_gateway: EventGateway) -> None:
    gateway, org = forecast_gateway, forecast_gateway.org
    await add_deals(gateway, org.t1, org.r1, [("negotiation", 400_000, utcnow().date())])
    base = gateway.runtime.settings
    # Half-hour offset from UTC: the slot's day and quarters are read in this zone.
    events = base.events.model_copy(update={"forecast_timezone": "Asia/Kolkata"})
    settings = base.model_copy(update={"events": events})
    slot = next_slot(events.forecast_cron, events.forecast_timezone, utcnow())
    assert slot.astimezone(ZoneInfo("Asia/Kolkata")).hour == 6
    # Both workers' clocks say the slot is half a second away.
    offset = slot - utcnow() - timedelta(seconds=0.5)

    def clock() -> datetime:
        return utcnow() + offset

    runtimes = [build_runtime(settings), build_runtime(settings)]
    try:
        jobs = [daily_generation(runtime, clock=clock) for runtime in runtimes]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(job.run(stop)) for job in jobs]

        async def both_done() -> bool:
            return sum(len(j.ran) + len(j.skipped) for j in jobs) == 2

        await until(both_done, deadline_s=30)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        for runtime in runtimes:
            await runtime.close()

    assert [s for j in jobs for s in j.ran] == [slot]
    assert [s for j in jobs for s in j.skipped] == [slot]
    periods = quarters_from(slot.astimezone(ZoneInfo("Asia/Kolkata")).date(), 1)
    async with gateway.runtime.db.session() as session:
        runs = await scheduled_runs.runs_of(session, DAILY_JOB)
        updates = (
            await session.exec(
                select(OutboxEvent.key).where(OutboxEvent.event_type == "forecast.updated")
            )
        ).all()
        generated = (
            await session.exec(select(Forecast).where(col(Forecast.kind) == "generated"))
        ).all()
    assert [(r.slot, r.result) for r in runs] == [
        (slot, {"territories": 2, "periods": [p.name for p in periods], "forecasts": 16})
    ]
    assert runs[0].finished_at is not None
    # 2 territories x 2 quarters x 4 types, each published once.
    assert Counter(updates) == {f"{t.id}:{p.name}": 4 for t in (org.t1, org.t2) for p in periods}
    assert len(generated) == 16
    commit = next(
        g
        for g in generated
        if g.territory_id == org.t1.id
        and g.period == periods[0].name
        and g.forecast_type == "commit"
    )
    assert commit.amount == Decimal(400_000)
    cached = await cached_forecast(
        gateway.runtime.forecast_cache, org.t1.id, periods[0], ForecastType.COMMIT
    )
    assert cached is not None
    assert cached.amount == Decimal(400_000)


async def test_the_embedded_footprint_refreshes_through_the_bus(
    fresh_sqlite: str, tmp_path: Path, only_forecast_refresh: None
) -> None:
    """Same handler and services, fed by the in-process bus; the cache is in process."""
    org = await seeded_org(fresh_sqlite)
    settings = gateway_settings(
        tmp_path,
        fresh_sqlite,
        events=EventSettings(in_process=True, relay_poll_interval_s=0.1, forecast_debounce_s=0.2),
    )
    app = create_app(settings)
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        assert isinstance(gateway.runtime.forecast_cache, InProcessForecastCache)
        assert gateway.runtime.forecast_cache.keep_values
        ids = await add_deals(gateway, org.t1, org.r1, DEALS)
        await gateway.data(org.m1, FORECASTS, t=str(org.t1.id), p=PERIOD)  # cached
        await gateway.data(org.r1, STAGE, id=ids[0], stage="QUALIFICATION")

        async def published() -> list[dict[str, Any]]:
            log = settings.events_log_file
            lines = (
                [orjson.loads(line) for line in log.read_bytes().splitlines()]
                if log.exists()
                else []
            )
            found = [e for e in lines if e["event_type"] == "forecast.updated"]
            return found if len(found) == 4 else []

        updates = await until(published, deadline_s=20)
        assert {e["payload"]["forecast_type"] for e in updates} == {t.value for t in ForecastType}
        after = await gateway.data(org.m1, FORECASTS, t=str(org.t1.id), p=PERIOD)
        read = {f["forecastType"]: f for f in after["forecasts"] if f["kind"] == "GENERATED"}
        assert read["PIPELINE"]["probabilityWeightedAmount"] == 550_000.0
        for kind in ForecastType:
            cached = await cached_forecast(
                gateway.runtime.forecast_cache, org.t1.id, parse_period(PERIOD), kind
            )
            assert cached is not None
            assert numbers(cached) == numbers(await fresh(gateway, org.t1.id, PERIOD, kind))


# --- The cache, on both backends ----------------------------------------------------------


@pytest.fixture(params=["in_process", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ForecastCache]:
    if request.param == "in_process":
        yield InProcessForecastCache(60)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"sales-graph-test:forecast:{uuid.uuid4().hex}:"
    try:
        yield RedisForecastCache(redis, ttl_s=60, prefix=prefix)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_an_invalidation_outdates_what_was_computed_before_it(cache: ForecastCache) -> None:
    pair, other = Pair(uuid.uuid4(), "Q1_2026"), Pair(uuid.uuid4(), "Q1_2026")
    for p in (pair, other):
        version = await cache.version(p.territory_id)
        assert version is not None
        await cache.put(p, "commit", {"amount": "1.00"}, version)
    assert await cache.get(pair, "commit") == {"amount": "1.00"}
    # A reader reads the version and computes; a change is handled meanwhile; the reader's
    # (stale) value lands after the invalidation: it is never served.
    started_with = await cache.version(pair.territory_id)
    assert started_with is not None
    await cache.invalidate([pair.territory_id])
    await cache.put(pair, "commit", {"amount": "stale"}, started_with)
    assert await cache.get(pair, "commit") is None
    assert await cache.get(Pair(pair.territory_id, "M03_2026"), "commit") is None
    assert await cache.get(other, "commit") == {"amount": "1.00"}
    current = await cache.version(pair.territory_id)
    assert current is not None
    assert current != started_with
    await cache.put(pair, "commit", {"amount": "2.00"}, current)
    assert await cache.get(pair, "commit") == {"amount": "2.00"}


async def test_get_many_reads_entries_in_order_and_honours_versions(cache: ForecastCache) -> None:
    first, second = Pair(uuid.uuid4(), "Q1_2026"), Pair(uuid.uuid4(), "Q1_2026")
    for pair in (first, second):
        version = await cache.version(pair.territory_id)
        assert version is not None
        await cache.put(pair, "commit", {"amount": str(pair.territory_id)}, version)
    await cache.invalidate([second.territory_id])
    wanted = [(first, "commit"), (second, "commit"), (first, "pipeline"), (first, "commit")]
    assert await cache.get_many(wanted) == [
        {"amount": str(first.territory_id)},
        None,  # outdated by the invalidation
        None,  # never cached
        {"amount": str(first.territory_id)},
    ]
    assert await cache.get_many([]) == []


async def test_the_refresh_queue_keeps_the_first_time_and_hands_each_pair_out_once(
    cache: ForecastCache,
) -> None:
    first, second = Pair(uuid.uuid4(), "Q1_2026"), Pair(uuid.uuid4(), "Q2_2026")
    await cache.schedule_refresh([first], 100.0)
    await cache.schedule_refresh([first, second], 105.0)
    assert await cache.due_refreshes(99.0, 10) == []
    assert await cache.due_refreshes(101.0, 10) == [first]
    assert await cache.due_refreshes(101.0, 10) == []
    takers = await asyncio.gather(*(cache.due_refreshes(200.0, 10) for _ in range(5)))
    assert [p for taken in takers for p in taken] == [second]


# --- Pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "zone", "after", "expected"),
    [
        (
            "0 6 * * *",
            "UTC",
            datetime(2026, 2, 11, 5, 59, tzinfo=UTC),
            datetime(2026, 2, 11, 6, tzinfo=UTC),
        ),
        # Strictly after: the slot that is now is not the next one.
        (
            "0 6 * * *",
            "UTC",
            datetime(2026, 2, 11, 6, tzinfo=UTC),
            datetime(2026, 2, 12, 6, tzinfo=UTC),
        ),
        # 06:00 in Berlin: 05:00 UTC in winter, 04:00 UTC from the last Sunday of March.
        (
            "0 6 * * *",
            "Europe/Berlin",
            datetime(2026, 1, 10, 5, 30, tzinfo=UTC),
            datetime(2026, 1, 11, 5, tzinfo=UTC),
        ),
        (
            "0 6 * * *",
            "Europe/Berlin",
            datetime(2026, 3, 28, 12, tzinfo=UTC),
            datetime(2026, 3, 29, 4, tzinfo=UTC),
        ),
        # New York leaves daylight saving time at 02:00 on 1 November 2026.
        (
            "0 6 * * *",
            "America/New_York",
            datetime(2026, 11, 1, 9, tzinfo=UTC),
            datetime(2026, 11, 1, 11, tzinfo=UTC),
        ),
        # Weekdays at 05:30 in India (UTC+05:30) is midnight UTC; after Friday's comes Monday's.
        (
            "30 5 * * 1-5",
            "Asia/Kolkata",
            datetime(2026, 2, 13, 0, 0, tzinfo=UTC),
            datetime(2026, 2, 16, 0, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_next_slot_is_read_in_the_configured_time_zone(
    cron: str, zone: str, after: datetime, expected: datetime
) -> None:
    slot = next_slot(cron, zone, after)
    assert slot == expected
    assert slot.tzinfo is not None
    assert slot.utcoffset() == timedelta(0)


def test_a_schedule_that_cannot_be_used_is_refused() -> None:
    check_schedule("0 6 * * *", "Europe/Berlin")
    with pytest.raises(ValueError, match="cron"):
        check_schedule("every day at six", "UTC")
    with pytest.raises(ValueError, match="time zone"):
        check_schedule("0 6 * * *", "Mars/Olympus_Mons")


def test_the_daily_run_covers_the_current_and_next_fiscal_quarter() -> None:
    assert [p.name for p in quarters_from(date(2026, 12, 15), 1)] == ["Q4_2026", "Q1_2027"]
    # A fiscal year starting in April: December is in its third quarter.
    assert [p.name for p in quarters_from(date(2026, 12, 15), 4)] == ["Q3_2026", "Q4_2026"]


def _event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "payload": payload}


def test_an_event_names_the_pairs_it_outdates() -> None:
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    stage = _event(
        "opportunity.stage_changed", territory_id=str(t1), expected_close_date="2026-02-01"
    )
    assert affected(stage, 1) == ({t1}, {Pair(t1, "Q1_2026")})
    moved = _event(
        "opportunity.updated",
        territory_id=str(t2),
        expected_close_date="2026-04-01",
        changes={"expected_close_date": {"from": "2026-03-31", "to": "2026-04-01"}},
    )
    assert affected(moved, 1) == ({t2}, {Pair(t2, "Q1_2026"), Pair(t2, "Q2_2026")})
    renamed = _event(
        "opportunity.updated",
        territory_id=str(t1),
        expected_close_date="2026-02-01",
        changes={"name": {"from": "A", "to": "B"}},
    )
    assert affected(renamed, 1) == (set(), set())
    # What moves a forecast is among what opportunity.updated tracks.
    assert TrackedChanges.model_fields.keys() >= FORECAST_FIELDS
    no_date = _event("opportunity.created", territory_id=str(t1), expected_close_date=None)
    assert affected(no_date, 1) == ({t1}, set())
    assert affected(_event("lead.created", territory_id=str(t1)), 1) == (set(), set())
