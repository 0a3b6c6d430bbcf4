"""A run killed between two batches (``sales-graph finance sync`` as a real process, SIGKILL)
resumes where it stopped: the batch stored stays sent once, the one left pending is sent with
its own Idempotency-Key, and Finance calculates each batch once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import col, select

from sales_graph.db.models import CommissionBatch, CommissionLine
from sales_graph.simulators.runner import RunningSimulators
from sales_graph.worker.finance import finance_sync
from tests.finance.test_sync import MONTH, _rows, make_deals
from tests.graphql.conftest import Gateway

pytestmark = pytest.mark.asyncio

CLI = "from sales_graph.cli import main; main()"
DEADLINE_S = 120.0


def _env(database_url: str, data_dir: Path, sims: RunningSimulators) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALES_GRAPH_", "OTEL_"))}
    return (
        env
        | sims.env()
        | {
            "SALES_GRAPH_DATABASE_URL": database_url,
            "SALES_GRAPH_DATA_DIR": str(data_dir),
            "SALES_GRAPH_LOG_LEVEL": "WARNING",
            "SALES_GRAPH_FINANCE_SYNC__COMMISSION_BATCH_SIZE": "2",
            "SALES_GRAPH_FINANCE_SYNC__COMMISSION_PLAN_ID": "standard",
            # Each answer takes 3 s: the process is killed while it waits for the second.
            "SALES_GRAPH_FINANCE__READ_TIMEOUT_S": "20",
            "SALES_GRAPH_FINANCE__DEADLINE_S": "20",
        }
    )


async def test_a_run_killed_between_two_batches_resumes(
    gateway: Gateway, sims: RunningSimulators, fresh_postgres: str, tmp_path: Path
) -> None:
    await make_deals(gateway)
    finance = sims["finance"]
    finance.set_knobs(latency_ms=3000)
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command, polled below
        [
            sys.executable,
            "-c",
            CLI,
            "finance",
            "sync",
            "--period",
            MONTH.name,
            "--kind",
            "commissions",
        ],
        env=_env(fresh_postgres, tmp_path, sims),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        end = time.monotonic() + DEADLINE_S
        while True:
            batches = await _rows(
                gateway, select(CommissionBatch).order_by(col(CommissionBatch.position))
            )
            if batches and batches[0].status == "sent":
                break
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < end, "the first batch was never stored"
            await asyncio.sleep(0.05)
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -9
    batches = await _rows(gateway, select(CommissionBatch).order_by(col(CommissionBatch.position)))
    assert [b.status for b in batches] == ["sent", "pending"]
    assert len(await _rows(gateway, select(CommissionLine))) == 2
    posts = finance.requests_to("/api/v1/commissions/calculate", "POST")
    assert len(posts) == 2  # the second reached Finance, which was still waiting to answer

    finance.set_knobs(latency_ms=0)
    summary = await finance_sync(gateway.runtime).run("commissions", MONTH, trigger="manual")
    assert summary["batches_sent"] == 1
    assert summary["batches"][0]["batch_id"] == str(batches[1].id)
    posts = finance.requests_to("/api/v1/commissions/calculate", "POST")
    keys = [p.headers["idempotency-key"] for p in posts]
    assert keys == [
        f"sales-graph-commissions-{batches[0].id}",
        f"sales-graph-commissions-{batches[1].id}",
        f"sales-graph-commissions-{batches[1].id}",
    ]
    assert sorted(finance.state()["effects"].values()) == [1, 1]
    assert len(finance.state()["calculations"]) == 2
    assert len(await _rows(gateway, select(CommissionLine))) == 3
    # The killed run is shown as interrupted; the one that finished it as succeeded.
    listed = subprocess.run(  # noqa: S603, ASYNC221 - our own command, short
        [sys.executable, "-c", CLI, "finance", "runs"],
        env=_env(fresh_postgres, tmp_path, sims),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=True,
    ).stdout.splitlines()
    assert [line.split()[-1] for line in listed] == ["succeeded", "interrupted"]
    assert all("commissions" in line and "M09_2026" in line for line in listed)
