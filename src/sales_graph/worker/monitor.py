"""Samples what the database knows of the event machinery into the metrics: the outbox backlog
(pending rows, the oldest one's age, parked rows) and when each scheduled job last succeeded.

One of the worker's background services (and the embedded gateway's); each worker samples the
same database, so the values agree (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sales_graph.db.engine import Database
from sales_graph.db.repositories import finance as finance_repo
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.db.repositories import scheduled_runs
from sales_graph.logs import get_logger
from sales_graph.telemetry import metrics
from sales_graph.timeutil import utcnow

_log = get_logger(__name__)


@dataclass(eq=False)
class BacklogMonitor:
    db: Database
    jobs: Sequence[str]
    interval_s: float = 15.0

    async def sample(self) -> None:
        async with self.db.session() as session:
            backlog = await outbox_repo.backlog(session)
            finished: dict[str, datetime | None] = {
                job: await scheduled_runs.last_finished(session, job) for job in self.jobs
            }
            # Each kind of Finance sync on its own: a slot finishes even when a kind failed.
            for kind, succeeded in (await finance_repo.last_successes(session)).items():
                finished[f"finance.sync.{kind}"] = succeeded
        now = utcnow()
        oldest = backlog.oldest_pending_at
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        metrics.outbox_backlog(backlog.pending, age, backlog.parked)
        for job, at in finished.items():
            if at is not None:
                metrics.job_succeeded(job, at.timestamp())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample()
            except Exception:
                _log.warning("metrics.sample_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
