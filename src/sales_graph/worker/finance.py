"""The scheduled sync with Finance: at each slot of ``finance_sync.cron`` (in its time zone),
one worker runs every kind of sync for the closed periods of the look-back window
(docs/finance.md). A kind that fails is recorded as a failed run and tried again at the next
slot; one that changed nothing sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.services.finance_sync import FinanceSync, due
from sales_graph.timeutil import utcnow
from sales_graph.worker.schedule import ScheduledJob

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime
    from sales_graph.worker.service import Service

SYNC_JOB = "finance.sync"


def finance_sync(runtime: Runtime) -> FinanceSync:
    connectors = runtime.connectors
    return FinanceSync(
        runtime.db, connectors.finance if connectors else None, runtime.settings.finance_sync
    )


def scheduled_sync(runtime: Runtime, *, clock: Callable[[], datetime] = utcnow) -> ScheduledJob:
    settings = runtime.settings
    config = settings.finance_sync
    sync = finance_sync(runtime)

    async def job(session: AsyncSession | None, slot: datetime) -> dict[str, Any]:
        today = slot.astimezone(ZoneInfo(config.timezone)).date()
        work = due(today, config.lookback_months, settings.fiscal_year_start_month)
        results = await sync.run_all(work, trigger="schedule")
        failed = [f"{r['kind']}:{r['period']}" for r in results if r["status"] == "failed"]
        changed = [
            f"{r['kind']}:{r['period']}"
            for r in results
            if r["status"] == "succeeded" and (r.get("changed") or r.get("batches_sent"))
        ]
        return {"runs": len(results), "changed": changed, "failed": failed}

    return ScheduledJob(
        SYNC_JOB, config.cron, config.timezone, runtime.db, job, clock=clock, own_transactions=True
    )


def services(runtime: Runtime) -> list[Service]:
    """The scheduled sync, when it is enabled and Finance is configured (without Finance there
    is nobody to send to: ``sales-graph finance sync`` says so when run by hand)."""
    settings = runtime.settings
    if not settings.finance_sync.enabled or not settings.finance.base_url:
        return []
    return [scheduled_sync(runtime)]
