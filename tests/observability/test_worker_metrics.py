"""The worker's metrics after events flow through Kafka: the outbox backlog and its relay's
throughput, consumer lag, dead letters, and the forecast job's last success."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from sales_graph.db.repositories import scheduled_runs
from sales_graph.telemetry.metrics import exposition
from sales_graph.worker.forecasts import DAILY_JOB
from sales_graph.worker.monitor import BacklogMonitor
from tests.events.conftest import produce, until
from tests.events.flow_conftest import CREATE_LEAD, Flow, lead_qualified, only_flow_consumers
from tests.observability.test_metrics import Sample, parse, total

NOT_JSON = b'{"event_type": "lead.qualified", '


def scraped() -> list[Sample]:
    return parse(exposition()[0].decode())


async def test_outbox_relay_consumer_and_job_metrics(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_flow_consumers(monkeypatch)
    gateway = flow.gateway
    org = gateway.org
    monitor = BacklogMonitor(gateway.runtime.db, [DAILY_JOB], interval_s=0.1)
    topics = gateway.topics
    before = scraped()

    # An event waits in the outbox: the backlog shows it.
    created = await gateway.data(
        org.admin,
        CREATE_LEAD,
        input={"email": f"m-{uuid.uuid4().hex[:8]}@example.com", "country": "US"},
    )
    assert created["createLead"]["id"]
    await monitor.sample()
    waiting = scraped()
    assert total(waiting, "sales_graph_outbox_pending_rows") >= 1
    assert total(waiting, "sales_graph_outbox_oldest_pending_age_seconds") >= 0

    # The relay publishes it; a consumer dead-letters one message and handles the next.
    await flow.start()
    published = "sales_graph_events_published_total"

    async def relayed() -> bool:
        now = scraped()
        # Counted by the catalog's topic; the settings map it to Kafka's.
        return total(now, published, topic="leads") > total(before, published, topic="leads")

    await until(relayed)
    await produce(gateway.bootstrap, topics.marketing_leads, NOT_JSON, key="k")
    await produce(gateway.bootstrap, topics.marketing_leads, lead_qualified(), key="k")
    dead = "sales_graph_dead_letters_total"

    async def dead_lettered() -> bool:
        now = scraped()
        grown = total(now, dead, topic=topics.marketing_leads) - total(
            before, dead, topic=topics.marketing_leads
        )
        return grown == 1

    await until(dead_lettered)
    lag = "sales_graph_consumer_lag_messages"

    async def caught_up() -> list[Sample]:
        now = scraped()
        partitions = [s for s in now if s[0] == lag and s[1]["topic"] == topics.marketing_leads]
        return partitions if partitions and all(s[2] == 0 for s in partitions) else []

    partitions = await until(caught_up)
    assert {s[1]["consumer"] for s in partitions} == {"marketing-leads"}

    async def drained() -> bool:
        await monitor.sample()
        return total(scraped(), "sales_graph_outbox_pending_rows") == 0

    await until(drained)
    assert total(scraped(), "sales_graph_outbox_oldest_pending_age_seconds") == 0

    # The forecast job's last success is what the database says.
    slot = datetime(2026, 1, 5, 6, tzinfo=UTC)
    async with gateway.runtime.db.session() as session:
        assert await scheduled_runs.claim(session, DAILY_JOB, slot)
        await scheduled_runs.finish(session, DAILY_JOB, slot, {"ok": True})
    async with gateway.runtime.db.session() as session:
        finished = await scheduled_runs.last_finished(session, DAILY_JOB)
    assert finished is not None
    await monitor.sample()
    name = "sales_graph_scheduled_job_last_success_timestamp_seconds"
    assert total(scraped(), name, task=DAILY_JOB) == pytest.approx(finished.timestamp())
