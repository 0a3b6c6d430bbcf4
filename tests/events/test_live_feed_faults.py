"""The subscriptions' Kafka feed (worker/live.py) while Kafka is away: it backs off instead of
restarting every second, says so once per outage instead of a traceback per attempt, and reads
again when Kafka is back. Kafka goes away through a toxiproxy proxy in front of it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from structlog.testing import capture_logs

from sales_graph.events.fanout import Fanout
from sales_graph.worker.backoff import Backoff
from sales_graph.worker.launch import EventRuntime
from sales_graph.worker.live import KafkaFeed
from tests.events.conftest import until
from tests.kafka_topics import unique_topics
from tests.services import ServiceUrls


class RecordedBackoff(Backoff):
    """The waits it hands out, kept."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.waits: list[float] = []

    def next(self) -> float:
        wait = super().next()
        self.waits.append(wait)
        return wait


async def test_the_feed_backs_off_while_kafka_is_away_and_reads_when_it_is_back(
    services: ServiceUrls, kafka_proxy: tuple[httpx.AsyncClient, str]
) -> None:
    api, proxy = kafka_proxy
    # Kafka away before the gateway's feed starts: the proxy refuses every connection.
    (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
    fanout = Fanout()
    backoff = RecordedBackoff(base_s=0.05, cap_s=0.4, rng=random.Random(1))
    feed = KafkaFeed(services.kafka_proxied, unique_topics(), fanout, partitions=1, backoff=backoff)
    events = EventRuntime(relays=[], services=[feed])
    with capture_logs() as logs:
        events.start()
        try:

            async def tried_often() -> bool:
                return backoff.failures >= 6

            await until(tried_often, deadline_s=30, every_s=0.05)
            assert not fanout.ready.is_set()
            # Waits that grow (with jitter) up to the cap, not a restart a second.
            assert backoff.waits[0] <= 0.05
            assert all(0.2 <= wait <= 0.4 for wait in backoff.waits[4:])
            # One warning for the outage; no crash, no traceback, however many attempts.
            unavailable = [e for e in logs if e["event"] == "live.kafka_unavailable"]
            assert len(unavailable) == 1, logs
            assert unavailable[0]["log_level"] == "warning"
            assert not [e for e in logs if e["event"] == "events.runner_crashed"]
            assert not [e for e in logs if e.get("exc_info")]

            (await api.post(f"/proxies/{proxy}", json={"enabled": True})).raise_for_status()

            async def reading() -> bool:
                return fanout.ready.is_set()

            await until(reading, deadline_s=30, every_s=0.05)
            (available,) = [e for e in logs if e["event"] == "live.kafka_available"]
            assert available["attempts"] >= 7
            assert backoff.failures == 0  # the next outage starts from the first wait

            # Away again while reading, then stopped: the feed ends as asked, not cancelled
            # by what aiokafka's fetcher lets out while it waits for the broker.
            (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
        finally:
            await events.stop()
        (task,) = events._tasks
        assert task.done()
        assert not task.cancelled()
        assert task.exception() is None
    assert not [e for e in logs if e["event"] == "events.runner_crashed"]
    assert len([e for e in logs if e["event"] == "live.kafka_unavailable"]) == 1


async def test_a_stop_during_the_wait_ends_the_feed_at_once(
    services: ServiceUrls, kafka_proxy: tuple[httpx.AsyncClient, str]
) -> None:
    api, proxy = kafka_proxy
    (await api.post(f"/proxies/{proxy}", json={"enabled": False})).raise_for_status()
    backoff = RecordedBackoff(base_s=60.0, cap_s=60.0)
    feed = KafkaFeed(
        services.kafka_proxied, unique_topics(), Fanout(), partitions=1, backoff=backoff
    )
    events = EventRuntime(relays=[], services=[feed])
    events.start()

    async def waiting() -> bool:
        return backoff.failures >= 1

    await until(waiting, deadline_s=30, every_s=0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await events.stop()
    # Well within the minute's wait (EventRuntime.stop gives a runner 10 s).
    assert loop.time() - began < 5
    (task,) = events._tasks
    assert task.done()
    assert not task.cancelled()
