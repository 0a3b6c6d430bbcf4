"""The scheduled sync with Finance (docs/finance.md), against the Finance simulator over HTTP:
a month and a quarter closing with figures computed by hand, a repeated run that sends nothing,
corrections as new versions, Finance down for a run and back, and the reads under the access
rules (GraphQL and REST)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select, update

from sales_graph.db.engine import Database
from sales_graph.db.models import (
    Account,
    CommissionBatch,
    CommissionLine,
    FinanceRun,
    Opportunity,
    OutboxEvent,
    Quota,
)
from sales_graph.domain.periods import parse_period
from sales_graph.errors import UpstreamError, ValidationError
from sales_graph.events.schemas import validate_event
from sales_graph.services.finance_sync import due
from sales_graph.settings import FinanceSyncSettings
from sales_graph.simulators.runner import RunningSimulators
from sales_graph.worker.finance import SYNC_JOB, finance_sync, scheduled_sync
from tests.gateways import gateway_settings
from tests.graphql.conftest import Gateway

pytestmark = pytest.mark.asyncio

MONTH = parse_period("M09_2026")
QUARTER = parse_period("Q3_2026")


class Deals:
    """The deals of the quarter (ids by letter), made as rows the way the API leaves them."""

    def __init__(self, ids: dict[str, uuid.UUID]) -> None:
        self.ids = ids

    def __getitem__(self, key: str) -> str:
        return str(self.ids[key])


async def make_deals(gateway: Gateway) -> Deals:
    org = gateway.org
    account = Account(name="Acme", name_normalized="acme", owner_id=org.r1.id)
    rows = {
        # key: (owner, territory, stage, amount, probability, expected close)
        "A": (org.r1, org.t1, "closed_won", 100_000, 100, date(2026, 9, 10)),
        "B": (org.r2, org.t1, "closed_won", 50_000, 100, date(2026, 9, 20)),
        "C": (org.r4, org.t2, "closed_won", 80_000, 100, date(2026, 9, 5)),
        "D": (org.r1, org.t1, "negotiation", 200_000, 90, date(2026, 9, 25)),
        "E": (org.r1, org.t1, "closed_won", 40_000, 100, date(2026, 8, 15)),
        "F": (org.r2, org.t1, "closed_lost", 30_000, 0, date(2026, 9, 12)),
        # Outside the quarter: in no report of it.
        "G": (org.r1, org.t1, "closed_won", 999_000, 100, date(2026, 10, 2)),
    }
    ids = {}
    async with gateway.runtime.db.session() as session:
        session.add(account)
        await session.flush()
        for key, (owner, territory, stage, amount, probability, close) in rows.items():
            closed = stage.startswith("closed")
            row = Opportunity(
                name=f"Deal {key}",
                account_id=account.id,
                stage=stage,
                amount=Decimal(amount),
                probability=probability,
                forecast_category={"closed_won": "closed", "closed_lost": "omitted"}.get(
                    stage, "commit"
                ),
                expected_close_date=close,
                owner_id=owner.id,
                territory_id=territory.id,
                closed_at=datetime(close.year, close.month, close.day, 12, tzinfo=UTC)
                if closed
                else None,
                contract_id=f"ctr_{key}" if stage == "closed_won" else None,
            )
            session.add(row)
            ids[key] = row.id
        session.add(Quota(period="Q3_2026", territory_id=org.t1.id, amount=Decimal(500_000)))
    return Deals(ids)


async def _rows(gateway: Gateway, statement: Any) -> list[Any]:
    async with gateway.runtime.db.session() as session:
        return list((await session.exec(statement)).all())


async def _lines(gateway: Gateway, current_only: bool = True) -> list[CommissionLine]:
    statement = select(CommissionLine).where(col(CommissionLine.period) == MONTH.name)
    if current_only:
        statement = statement.where(col(CommissionLine.superseded_at).is_(None))
    return await _rows(gateway, statement)


def _calculations(sims: RunningSimulators) -> list[dict[str, Any]]:
    calculations: list[dict[str, Any]] = sims["finance"].state()["calculations"]
    return calculations


def _posts(sims: RunningSimulators) -> list[Any]:
    return sims["finance"].requests_to("/api/v1/commissions/calculate", "POST")


async def _events(gateway: Gateway, event_type: str) -> list[dict[str, Any]]:
    rows = await _rows(
        gateway,
        select(OutboxEvent)
        .where(OutboxEvent.event_type == event_type)
        .order_by(col(OutboxEvent.id)),
    )
    for row in rows:
        validate_event(row.envelope)
    return [row.envelope["payload"] for row in rows]


# ----------------------------------------------------------------- a month and a quarter


async def test_a_month_closes_commissions_by_hand(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    deals = await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    summary = await sync.run("commissions", MONTH, trigger="manual")

    # C (Sep 5), A (Sep 10), B (Sep 20): two batches of at most two deals, in close-date order.
    assert summary["batches_sent"] == 2
    assert summary["new_deals"] == 3
    posts = _posts(sims)
    assert len(posts) == 2
    bodies = [p.body for p in posts]
    assert [[d["opportunity_id"] for d in b["deals"]] for b in bodies] == [
        [deals["C"], deals["A"]],
        [deals["B"]],
    ]
    assert all(b["period"] == "2026-09" and b["plan_id"] == "standard" for b in bodies)
    first = bodies[0]["deals"][1]
    assert first["owner_id"] == str(gateway.org.r1.id)
    assert first["amount"] == 100_000
    assert first["contract_id"] == "ctr_A"
    assert first["territory_id"] == str(gateway.org.t1.id)
    assert first["eligible"] is True
    keys = [p.headers.get("idempotency-key") for p in posts]
    assert all(k and k.startswith("sales-graph-commissions-") for k in keys)
    assert len(set(keys)) == 2

    lines = {str(line.opportunity_id): line for line in await _lines(gateway)}
    # The standard plan pays 10 %: 8,000 + 10,000 + 5,000.
    assert {k: lines[deals[k]].commission for k in "ABC"} == {
        "A": Decimal("10000.00"),
        "B": Decimal("5000.00"),
        "C": Decimal("8000.00"),
    }
    assert all(line.rate == Decimal("0.1") and line.version == 1 for line in lines.values())
    batches = await _rows(gateway, select(CommissionBatch).order_by(col(CommissionBatch.position)))
    assert [b.status for b in batches] == ["sent", "sent"]
    assert [b.total_commission for b in batches] == [Decimal("18000.00"), Decimal("5000.00")]
    assert sum(b.total_commission for b in batches) == Decimal("23000.00")


async def test_a_repeated_run_sends_nothing(gateway: Gateway, sims: RunningSimulators) -> None:
    await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    await sync.run("commissions", MONTH, trigger="manual")
    for kind in ("pipeline_report", "territory_performance"):
        await sync.run(kind, QUARTER, trigger="manual")
    await sync.run("revenue_forecast", MONTH, trigger="manual")
    posts, calculations = len(_posts(sims)), len(_calculations(sims))
    outbox = len(await _rows(gateway, select(OutboxEvent.id)))

    again = await sync.run("commissions", MONTH, trigger="manual")
    assert again["batches_sent"] == 0
    assert again["version"] is None
    for kind, period in (
        ("pipeline_report", QUARTER),
        ("territory_performance", QUARTER),
        ("revenue_forecast", MONTH),
    ):
        result = await sync.run(kind, period, trigger="manual")
        assert result["changed"] is False
        assert result["version"] == 1
    assert len(_posts(sims)) == posts
    assert len(_calculations(sims)) == calculations
    assert len(await _rows(gateway, select(OutboxEvent.id))) == outbox


async def test_a_quarter_closes_reports_by_hand(gateway: Gateway) -> None:
    deals = await make_deals(gateway)
    org = gateway.org
    sync = finance_sync(gateway.runtime)
    await sync.run("territory_performance", QUARTER, trigger="manual")
    await sync.run("pipeline_report", QUARTER, trigger="manual")

    (performance,) = await _events(gateway, "report.territory_performance")
    assert performance["period"] == "Q3_2026"
    assert performance["version"] == 1
    by_territory = {line["territory_id"]: line for line in performance["lines"]}
    # T1: quota 500,000; won A + B + E = 190,000; commit = won + D = 390,000; open D = 200,000;
    # attainment 190,000 / 500,000; coverage 200,000 / (500,000 - 190,000) = 0.645... -> 0.65.
    assert by_territory[str(org.t1.id)] == {
        "territory_id": str(org.t1.id),
        "quota": 500_000.0,
        "closed_won": 190_000.0,
        "forecast": 390_000.0,
        "open_pipeline": 200_000.0,
        "attainment": 0.38,
        "coverage": 0.65,
    }
    # T2: no quota; won C.
    assert by_territory[str(org.t2.id)] == {
        "territory_id": str(org.t2.id),
        "quota": None,
        "closed_won": 80_000.0,
        "forecast": 80_000.0,
        "open_pipeline": 0.0,
        "attainment": None,
        "coverage": None,
    }

    (pipeline,) = await _events(gateway, "report.pipeline")
    got = {
        (line["territory_id"], line["owner_id"], line["stage"]): (
            line["count"],
            line["total_amount"],
            line["weighted_amount"],
        )
        for line in pipeline["lines"]
    }
    t1, t2 = str(org.t1.id), str(org.t2.id)
    r1, r2, r4 = str(org.r1.id), str(org.r2.id), str(org.r4.id)
    assert got == {
        (t1, r1, "negotiation"): (1, 200_000.0, 180_000.0),
        (t1, r1, "closed_won"): (2, 140_000.0, 140_000.0),
        (t1, r2, "closed_won"): (1, 50_000.0, 50_000.0),
        (t1, r2, "closed_lost"): (1, 30_000.0, 0.0),
        (t2, r4, "closed_won"): (1, 80_000.0, 80_000.0),
    }
    assert deals["G"] not in str(pipeline)


async def test_the_monthly_revenue_forecast(gateway: Gateway) -> None:
    await make_deals(gateway)
    org = gateway.org
    await finance_sync(gateway.runtime).run("revenue_forecast", MONTH, trigger="manual")
    (report,) = await _events(gateway, "report.revenue_forecast")
    got = {
        (line["territory_id"], line["forecast_type"]): line["amount"] for line in report["lines"]
    }
    t1, t2 = str(org.t1.id), str(org.t2.id)
    # September: T1 won A + B = 150,000, commit adds D (200,000); T2 won C.
    assert got == {
        (t1, "closed"): 150_000.0,
        (t1, "commit"): 350_000.0,
        (t1, "best_case"): 350_000.0,
        (t1, "pipeline"): 200_000.0,
        (t2, "closed"): 80_000.0,
        (t2, "commit"): 80_000.0,
        (t2, "best_case"): 80_000.0,
        (t2, "pipeline"): 0.0,
    }


# ------------------------------------------------------------------------- corrections


async def test_corrections_are_new_versions_and_the_old_lines_stay(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    deals = await make_deals(gateway)
    org = gateway.org
    sync = finance_sync(gateway.runtime)
    await sync.run("commissions", MONTH, trigger="manual")
    # After the month was calculated: B re-amounted, A reassigned to r2, C reopened and lost.
    async with gateway.runtime.db.session() as session:
        await session.exec(
            update(Opportunity).where(col(Opportunity.id) == deals.ids["B"]).values(amount=60_000)
        )
        await session.exec(
            update(Opportunity)
            .where(col(Opportunity.id) == deals.ids["A"])
            .values(owner_id=org.r2.id)
        )
        await session.exec(
            update(Opportunity)
            .where(col(Opportunity.id) == deals.ids["C"])
            .values(stage="closed_lost")
        )
    summary = await sync.run("commissions", MONTH, trigger="manual")
    assert summary["version"] == 2
    assert (summary["corrected_deals"], summary["withdrawn_deals"], summary["new_deals"]) == (
        2,
        1,
        0,
    )
    assert summary["superseded_lines"] == 3

    current = {str(line.opportunity_id): line for line in await _lines(gateway)}
    assert current[deals["A"]].owner_id == org.r2.id
    assert current[deals["A"]].commission == Decimal("10000.00")
    assert current[deals["B"]].commission == Decimal("6000.00")
    assert current[deals["C"]].eligible is False
    assert current[deals["C"]].commission == 0
    assert {line.version for line in current.values()} == {2}
    everything = await _lines(gateway, current_only=False)
    old = [line for line in everything if line.version == 1]
    assert len(old) == 3
    assert all(line.superseded_by_version == 2 for line in old)
    withdrawn = [d for p in _posts(sims)[2:] for d in p.body["deals"] if not d["eligible"]]
    assert [(d["opportunity_id"], d["amount"]) for d in withdrawn] == [(deals["C"], 0)]

    # Nothing changed since: no third version.
    assert (await sync.run("commissions", MONTH, trigger="manual"))["batches_sent"] == 0


# --------------------------------------------------------------------- Finance down


async def test_finance_down_for_a_run_then_back(gateway: Gateway, sims: RunningSimulators) -> None:
    await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    sims["finance"].set_knobs(outage=True)
    with pytest.raises(UpstreamError):
        await sync.run("commissions", MONTH, trigger="schedule")
    runs = await _rows(gateway, select(FinanceRun))
    assert [(r.kind, r.status) for r in runs] == [("commissions", "failed")]
    assert runs[0].error
    assert "stays pending" in runs[0].error
    assert "Idempotency-Key" in runs[0].error
    pending = await _rows(gateway, select(CommissionBatch))
    assert [b.status for b in pending] == ["pending", "pending"]
    assert _calculations(sims) == []

    sims["finance"].set_knobs(outage=False)
    summary = await sync.run("commissions", MONTH, trigger="schedule")
    assert summary["batches_sent"] == 2
    assert summary["version"] == 1
    batches = await _rows(gateway, select(CommissionBatch))
    assert {b.id for b in batches} == {b.id for b in pending}  # the same batches, resumed
    assert all(b.status == "sent" for b in batches)
    effects = sims["finance"].state()["effects"]
    assert sorted(effects.values()) == [1, 1]
    assert len(await _lines(gateway)) == 3


async def test_a_batch_sent_twice_has_one_effect(gateway: Gateway, sims: RunningSimulators) -> None:
    """What a crash after Finance answered and before the answer was stored leaves: the batch
    pending, sent again with its key; Finance replays its first answer."""
    await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    async with gateway.runtime.db.session() as session:
        from sales_graph.services import commissions

        planned = await commissions.plan(session, MONTH, batch_size=2, plan_id="standard")
    first = await sync.send(planned.batches[0])  # answered, never stored
    summary = await sync.run("commissions", MONTH, trigger="manual")
    assert summary["batches_sent"] == 2
    assert summary["batches"][0]["calculation_id"] == first.calculation_id
    assert sorted(sims["finance"].state()["effects"].values()) == [1, 1]
    replayed = [p for p in _posts(sims) if p.headers.get("idempotency-key") == _key(planned, 0)]
    assert len(replayed) == 2
    assert len(await _lines(gateway)) == 3


def _key(planned: Any, position: int) -> str:
    return f"sales-graph-commissions-{planned.batches[position].id}"


# ------------------------------------------------------------------------- the schedule


async def test_what_a_slot_looks_at() -> None:
    work = due(date(2026, 10, 1), 3, 1)
    assert [(k, p.name) for k, p in work] == [
        ("revenue_forecast", "M07_2026"),
        ("commissions", "M07_2026"),
        ("revenue_forecast", "M08_2026"),
        ("commissions", "M08_2026"),
        ("revenue_forecast", "M09_2026"),
        ("commissions", "M09_2026"),
        ("pipeline_report", "Q3_2026"),
        ("territory_performance", "Q3_2026"),
    ]
    # A fiscal year from February: its Q3 is August to October.
    assert [p.name for _, p in due(date(2026, 11, 3), 1, 2)] == ["M10_2026"] * 2 + ["Q3_2026"] * 2


async def test_scheduled_slots_run_once_and_readiness_shows_them(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    await make_deals(gateway)
    job = scheduled_sync(gateway.runtime)
    slot = datetime(2026, 10, 1, 0, 15, tzinfo=UTC)
    assert await job.run_slot(slot)
    assert not await job.run_slot(slot)  # taken: one run per slot
    runs = await _rows(gateway, select(FinanceRun))
    assert len(runs) == 8
    assert {r.status for r in runs} == {"succeeded"}
    assert len(_posts(sims)) == 3  # E (August) in one batch; September's three in two
    assert await job.run_slot(datetime(2026, 10, 1, 1, 15, tzinfo=UTC))
    assert len(_posts(sims)) == 3  # the next slot: nothing changed, nothing sent

    ready = (await gateway.client.get("/readyz")).json()
    assert set(ready["finance_sync"]) == {
        "revenue_forecast",
        "commissions",
        "pipeline_report",
        "territory_performance",
    }
    assert all(ready["finance_sync"].values())
    _ = SYNC_JOB


# ------------------------------------------------------------------------------ reads

LINES = """query($period: String!, $ownerId: ID, $all: Boolean) {
    commissions(period: $period, ownerId: $ownerId, includeSuperseded: $all) {
        id period version eligible amount rate commission currency opportunityId
        owner { id } territory { id } supersededByVersion
    }
}"""


async def test_who_reads_which_commission_lines(gateway: Gateway) -> None:
    deals = await make_deals(gateway)
    org = gateway.org
    await finance_sync(gateway.runtime).run("commissions", MONTH, trigger="manual")

    async def deals_of(user: Any, **variables: Any) -> set[str]:
        data = await gateway.data(user, LINES, period=MONTH.name, **variables)
        return {line["opportunityId"] for line in data["commissions"]}

    assert await deals_of(org.r1) == {deals["A"]}
    assert await deals_of(org.r2) == {deals["B"]}
    assert await deals_of(org.m1) == {deals["A"], deals["B"]}  # m1's team: r1 r2 r3
    assert await deals_of(org.m2) == {deals["C"]}
    assert await deals_of(org.admin) == {deals["A"], deals["B"], deals["C"]}
    # Another rep's lines are not the rep's to read: filtered, not an error.
    assert await deals_of(org.r1, ownerId=str(org.r2.id)) == set()
    # A quarter holds its months' lines.
    data = await gateway.data(org.admin, LINES, period="Q3_2026")
    assert len(data["commissions"]) == 3

    # REST: the same lines.
    token = gateway.token(org.r1)
    response = await gateway.client.get(
        f"/api/v1/commissions/{MONTH.name}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["data"] if isinstance(body, dict) and "data" in body else body
    assert [row["commission"] for row in rows] == [10_000.0]


async def test_territory_performance_and_pipeline_report_reads(gateway: Gateway) -> None:
    await make_deals(gateway)
    org = gateway.org
    sync = finance_sync(gateway.runtime)
    await sync.run("territory_performance", QUARTER, trigger="manual")
    await sync.run("pipeline_report", QUARTER, trigger="manual")
    performance = "query($p: String!) { territoryPerformance(period: $p) { territory { id } attainment coverage } }"
    assert [
        row["territory"]["id"]
        for row in (await gateway.data(org.m1, performance, p="Q3_2026"))["territoryPerformance"]
    ] == [str(org.t1.id)]
    assert (await gateway.data(org.r1, performance, p="Q3_2026"))["territoryPerformance"] == []
    assert (
        len((await gateway.data(org.admin, performance, p="Q3_2026"))["territoryPerformance"]) == 2
    )
    pipeline = "query($p: String!) { pipelineReport(period: $p) { owner { id } stage count } }"
    own = (await gateway.data(org.r1, pipeline, p="Q3_2026"))["pipelineReport"]
    assert {row["owner"]["id"] for row in own} == {str(org.r1.id)}
    assert len(own) == 2
    assert len((await gateway.data(org.m1, pipeline, p="Q3_2026"))["pipelineReport"]) == 4


async def test_what_a_sync_by_hand_accepts() -> None:
    from sales_graph.services.finance_sync import work_for

    today = date(2026, 10, 1)
    assert [k for k, _ in work_for(MONTH, [], today)] == ["revenue_forecast", "commissions"]
    assert [k for k, _ in work_for(QUARTER, ["pipeline_report"], today)] == ["pipeline_report"]
    refused = [
        (MONTH, ["pipeline_report"], today, "a month takes"),
        (QUARTER, ["commissions"], today, "a quarter takes"),
        (parse_period("FY2026"), [], date(2027, 6, 1), "months (M03_2026) and quarters"),
        (parse_period("M10_2026"), [], today, "has not closed yet"),
        (MONTH, [], date(2026, 9, 30), "has not closed yet"),
    ]
    for period, kinds, day, message in refused:
        with pytest.raises(ValidationError) as caught:
            work_for(period, kinds, day)
        assert message in str(caught.value.details), (period.name, kinds, caught.value.details)


async def test_a_failed_kind_is_retried_by_the_next_slot(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    await make_deals(gateway)
    job = scheduled_sync(gateway.runtime)
    sims["finance"].set_knobs(outage=True)
    assert await job.run_slot(datetime(2026, 10, 1, 0, 15, tzinfo=UTC))
    runs = await _rows(gateway, select(FinanceRun))
    failed = sorted(r.period for r in runs if r.status == "failed")
    # July has no won deal: nothing to send, so it succeeds; the reports went out too.
    assert failed == ["M08_2026", "M09_2026"]
    assert all(r.kind == "commissions" for r in runs if r.status == "failed")
    assert _calculations(sims) == []

    sims["finance"].set_knobs(outage=False)
    assert await job.run_slot(datetime(2026, 10, 1, 1, 15, tzinfo=UTC))
    effects = sims["finance"].state()["effects"]
    assert sorted(effects.values()) == [1, 1, 1]  # August's batch and September's two
    assert len(await _lines(gateway)) == 3
    latest = await _rows(
        gateway,
        select(FinanceRun).where(FinanceRun.kind == "commissions", FinanceRun.period == "M09_2026"),
    )
    assert sorted(r.status for r in latest) == ["failed", "succeeded"]


async def test_a_batch_finance_refuses_is_not_sent_again(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    """An unknown plan is a 422: no retries, the batch is marked rejected, and once the
    setting is fixed the next run plans its deals afresh."""
    await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    sync.settings = sync.settings.model_copy(update={"commission_plan_id": "no-such-plan"})
    with pytest.raises(UpstreamError):
        await sync.run("commissions", MONTH, trigger="manual")
    assert len(_posts(sims)) == 1  # refused at once: not retried
    batches = await _rows(gateway, select(CommissionBatch))
    assert [b.status for b in batches] == ["rejected", "rejected"]  # the version's both

    sync.settings = sync.settings.model_copy(update={"commission_plan_id": "standard"})
    summary = await sync.run("commissions", MONTH, trigger="manual")
    assert summary["version"] == 2
    assert summary["batches_sent"] == 2
    assert len(await _lines(gateway)) == 3


async def test_without_finance_a_run_fails_at_once(gateway: Gateway) -> None:
    from sales_graph.services.finance_sync import FinanceSync, reconcile

    await make_deals(gateway)
    runtime = gateway.runtime
    sync = FinanceSync(
        runtime.db, None, runtime.settings.finance_sync.model_copy(update={"deadline_s": 60})
    )
    with pytest.raises(UpstreamError, match="not configured"):
        await sync.run("commissions", MONTH, trigger="manual")  # not 60 s of retries
    assert runtime.connectors is not None
    with pytest.raises(ValidationError):
        await reconcile(runtime.db, runtime.connectors.finance, parse_period("FY2026"))


async def test_the_worker_schedules_the_sync_only_with_finance(tmp_path: Path) -> None:
    from sales_graph.runtime import build_runtime
    from sales_graph.settings import UpstreamSettings
    from sales_graph.worker.finance import services

    def scheduled(**fields: Any) -> list[str]:
        fields.setdefault("finance_sync", FinanceSyncSettings())
        settings = gateway_settings(tmp_path, **fields)
        return [s.name for s in services(build_runtime(settings))]

    assert scheduled() == []
    finance = UpstreamSettings(base_url="http://127.0.0.1:9")
    assert scheduled(finance=finance) == [SYNC_JOB]
    assert scheduled(finance=finance, finance_sync=FinanceSyncSettings(enabled=False)) == []


async def test_one_run_of_a_kind_and_period_at_a_time(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    """A second run of the same kind and period (another process holding its lock) is skipped,
    sends nothing and marks nothing interrupted; other kinds and periods run."""
    from sales_graph.db.locks import exclusive
    from sales_graph.services.finance_sync import RunInProgress

    await make_deals(gateway)
    sync = finance_sync(gateway.runtime)
    other = Database(gateway.runtime.db.url)
    try:
        async with exclusive(other, f"finance:commissions:{MONTH.name}") as held:
            assert held
            with pytest.raises(RunInProgress, match="in progress"):
                await sync.run("commissions", MONTH, trigger="manual")
            results = await sync.run_all(
                [("commissions", MONTH), ("revenue_forecast", MONTH)], trigger="manual"
            )
    finally:
        await other.dispose()
    assert [r["status"] for r in results] == ["skipped", "succeeded"]
    assert _posts(sims) == []
    assert [r.kind for r in await _rows(gateway, select(FinanceRun))] == ["revenue_forecast"]
    assert (await sync.run("commissions", MONTH, trigger="manual"))["batches_sent"] == 2
