"""Jobs on a cron schedule in a time zone, each slot run by exactly one of the workers.

Every worker wakes at the slot and inserts the slot's ``scheduled_runs`` row in the transaction
that runs the job; the insert that wins runs it, the others find the row and go back to sleep
(docs/events.md, "Forecast generation").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.engine import Database
from sales_graph.db.repositories import scheduled_runs
from sales_graph.logs import get_logger
from sales_graph.timeutil import utcnow

_log = get_logger(__name__)

# A job: what runs in the slot's transaction (None: ``own_transactions``); its result is kept
# with the run.
Job = Callable[[AsyncSession | None, datetime], Awaitable[dict[str, Any] | None]]

# Sleeps are cut into pieces of at most this long, so that a clock set forward (or a machine
# waking from suspend) is noticed.
MAX_SLEEP_S = 60.0


def next_slot(cron: str, timezone: str, after: datetime) -> datetime:
    """The first slot of ``cron``, read in ``timezone``, strictly after ``after``; in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    slot: datetime = croniter(cron, local).get_next(datetime)
    return slot.astimezone(UTC)


def check_schedule(cron: str, timezone: str) -> None:
    """Raises ValueError for a cron expression or time zone that cannot be used."""
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a time zone: {timezone!r}") from exc


@dataclass(eq=False)
class ScheduledJob:
    name: str
    cron: str
    timezone: str
    db: Database
    job: Job
    _: KW_ONLY
    clock: Callable[[], datetime] = utcnow
    # A job that opens its own transactions (it calls other systems, or commits in steps):
    # the slot is claimed and committed first, and the job gets no session. A process killed
    # meanwhile leaves the slot claimed and unfinished; such a job picks up at its next slot.
    own_transactions: bool = False
    # Slots this instance ran, and slots it found taken by another worker.
    ran: list[datetime] = field(default_factory=list, init=False)
    skipped: list[datetime] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        check_schedule(self.cron, self.timezone)

    def next_slot(self, after: datetime) -> datetime:
        return next_slot(self.cron, self.timezone, after)

    async def run_slot(self, slot: datetime) -> bool:
        """Runs the slot unless another worker did or does; True when this one ran it."""
        if self.own_transactions:
            return await self._run_claimed_first(slot)
        async with self.db.session() as session:
            if not await scheduled_runs.claim(session, self.name, slot):
                _log.info("schedule.slot_taken", job=self.name, slot=slot.isoformat())
                self.skipped.append(slot)
                return False
            result = await self.job(session, slot)
            await scheduled_runs.finish(session, self.name, slot, result)
        self.ran.append(slot)
        _log.info("schedule.slot_ran", job=self.name, slot=slot.isoformat(), result=result)
        return True

    async def _run_claimed_first(self, slot: datetime) -> bool:
        async with self.db.session() as session:
            claimed = await scheduled_runs.claim(session, self.name, slot)
        if not claimed:
            _log.info("schedule.slot_taken", job=self.name, slot=slot.isoformat())
            self.skipped.append(slot)
            return False
        result = await self.job(None, slot)
        async with self.db.session() as session:
            await scheduled_runs.finish(session, self.name, slot, result)
        self.ran.append(slot)
        _log.info("schedule.slot_ran", job=self.name, slot=slot.isoformat(), result=result)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        slot = self.next_slot(self.clock())
        while not stop.is_set():
            if not await self._sleep_until(slot, stop):
                return
            try:
                await self.run_slot(slot)
            except Exception:
                # Rolled back: a worker waiting on the slot's row takes it over.
                _log.exception("schedule.slot_failed", job=self.name, slot=slot.isoformat())
            slot = self.next_slot(max(slot, self.clock()))

    async def _sleep_until(self, slot: datetime, stop: asyncio.Event) -> bool:
        """False when stopped first."""
        while not stop.is_set():
            left = (slot - self.clock()).total_seconds()
            if left <= 0:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(left, MAX_SLEEP_S))
        return False
