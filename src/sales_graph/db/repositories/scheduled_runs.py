"""Runs of scheduled jobs: one row per job and slot, so that of several workers exactly one
runs a slot — the one whose insert wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import ScheduledRun
from sales_graph.timeutil import utcnow


async def claim(session: AsyncSession, job: str, slot: datetime) -> bool:
    """Inserts the run of ``job`` at ``slot`` in the caller's transaction; False when it exists.

    A competing insert waits for the transaction that inserted first and wins only if that one
    rolls back: a run that fails is left to the next worker in line.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(ScheduledRun)
        .values(job=job, slot=slot, started_at=utcnow())
        .on_conflict_do_nothing(index_elements=["job", "slot"])
    )
    result = await session.exec(statement)
    return int(result.rowcount) == 1


async def finish(
    session: AsyncSession, job: str, slot: datetime, result: dict[str, Any] | None
) -> None:
    await session.exec(
        update(ScheduledRun)
        .where(col(ScheduledRun.job) == job, col(ScheduledRun.slot) == slot)
        .values(finished_at=utcnow(), result=result)
    )


async def runs_of(session: AsyncSession, job: str, limit: int = 100) -> list[ScheduledRun]:
    """The job's latest runs, newest first."""
    statement = (
        select(ScheduledRun)
        .where(col(ScheduledRun.job) == job)
        .order_by(col(ScheduledRun.slot).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def last_finished(session: AsyncSession, job: str) -> datetime | None:
    """When the job's latest successful run finished (a failed run leaves no row)."""
    statement = select(func.max(col(ScheduledRun.finished_at))).where(col(ScheduledRun.job) == job)
    finished: datetime | None = (await session.exec(statement)).one()
    return finished
