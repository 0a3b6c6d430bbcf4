"""Forecast generation: the recalculation after opportunity changes and the daily run.

The handler of our opportunity events invalidates the cached forecasts of the territories an
event touches and queues their (territory, quarter) pairs for a refresh ``forecast_debounce_s``
later; :class:`ForecastRefresher` recomputes each queued pair once, however many events queued
it, and records ``forecast.updated``. :func:`daily_generation` runs every active territory for
the current and next quarter at each slot of ``forecast_cron``. docs/events.md tells the story.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.cache.forecasts import Pair
from sales_graph.correlation import RequestContext, enter_request, leave_request
from sales_graph.domain.periods import Period, parse_period, quarter_of
from sales_graph.errors import SalesGraphError
from sales_graph.logs import get_logger
from sales_graph.services.forecast_generation import (
    GenerationSummary,
    generate,
    quarters_from,
    regenerate,
)
from sales_graph.timeutil import utcnow
from sales_graph.worker.consumer import MessageHandler, Rejected
from sales_graph.worker.schedule import ScheduledJob

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime
    from sales_graph.worker.service import Service

_log = get_logger(__name__)

DAILY_JOB = "forecast.daily"
OPPORTUNITY_EVENTS = frozenset(
    {
        "opportunity.created",
        "opportunity.updated",
        "opportunity.stage_changed",
        "opportunity.won",
        "opportunity.lost",
    }
)
# The tracked changes of an opportunity.updated that move a forecast (a rename, the owner or the
# product lines do not; a stage arrives as opportunity.stage_changed, which always moves one).
FORECAST_FIELDS = frozenset({"amount", "expected_close_date", "deal_score"})
# A pair whose refresh failed is tried again this much later.
RETRY_S = 5.0

T = TypeVar("T")


def _parsed(value: Any, parse: Callable[[str], T], what: str) -> T | None:
    """None stays None; a value ``parse`` refuses rejects the message."""
    if value is None:
        return None
    try:
        return parse(str(value))
    except ValueError:
        raise Rejected(f"not a {what}: {value!r}") from None


def affected(
    envelope: dict[str, Any], fiscal_year_start_month: int
) -> tuple[set[uuid.UUID], set[Pair]]:
    """The territories whose cached forecasts an opportunity event outdates, and the
    (territory, fiscal quarter) pairs to refresh: where the opportunity is now and, when a
    change moved its close date, where it was."""
    if envelope.get("event_type") not in OPPORTUNITY_EVENTS:
        return set(), set()
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise Rejected("the event has no payload object")
    territory, close = payload.get("territory_id"), payload.get("expected_close_date")
    places = [(territory, close)]
    changes = payload.get("changes")
    if isinstance(changes, dict):
        if not changes.keys() & FORECAST_FIELDS:
            return set(), set()
        before = {
            name: change.get("from") for name, change in changes.items() if isinstance(change, dict)
        }
        places.append((territory, before.get("expected_close_date", close)))
    territories: set[uuid.UUID] = set()
    pairs: set[Pair] = set()
    for raw_territory, raw_close in places:
        territory_id = _parsed(raw_territory, uuid.UUID, "territory id")
        day = _parsed(raw_close, date.fromisoformat, "date")
        if territory_id is None:
            continue
        territories.add(territory_id)
        if day is not None:
            pairs.add(Pair(territory_id, quarter_of(day, fiscal_year_start_month).name))
    return territories, pairs


def refresh_handler(runtime: Runtime) -> MessageHandler:
    """Invalidates at once, refreshes later: the cache never serves a forecast an event
    outdated, and a burst of events costs one refresh per pair."""
    cache = runtime.forecast_cache
    fiscal = runtime.settings.fiscal_year_start_month
    debounce_s = runtime.settings.events.forecast_debounce_s

    async def handle(message: dict[str, Any]) -> None:
        # No inbox row: invalidating and queueing twice changes nothing.
        territories, pairs = affected(message, fiscal)
        if territories:
            await cache.invalidate(territories)
            await cache.schedule_refresh(pairs, time.time() + debounce_s)

    return handle


@contextlib.contextmanager
def _system_run(kind: str) -> Iterator[str]:
    """The events of one system run share a correlation id (and its logs carry it)."""
    run_id = f"{kind}:{uuid.uuid4().hex}"
    token = enter_request(RequestContext(request_id=run_id, correlation_id=run_id))
    try:
        with structlog.contextvars.bound_contextvars(request_id=run_id, correlation_id=run_id):
            yield run_id
    finally:
        leave_request(token)


class ForecastRefresher:
    """Refreshes the queued pairs once due; several workers share the queue (in Redis)."""

    def __init__(self, runtime: Runtime, *, batch_size: int = 100) -> None:
        self.runtime = runtime
        self.cache = runtime.forecast_cache
        self.batch_size = batch_size
        debounce_s = runtime.settings.events.forecast_debounce_s
        self.poll_s = min(max(debounce_s / 4, 0.05), 0.5)
        # Refreshes this instance made, by pair.
        self.refreshed: Counter[Pair] = Counter()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                taken = await self.run_once()
            except Exception:
                _log.exception("forecast.refresh_failed")
                taken = 0
            if taken < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)
        # Stopping: what is queued now is refreshed now rather than lost with the process.
        try:
            await self.run_once(now=math.inf)
        except Exception:
            _log.exception("forecast.refresh_failed")

    async def run_once(self, *, now: float | None = None) -> int:
        """Refreshes the pairs due by ``now``; how many there were."""
        pairs = await self.cache.due_refreshes(time.time() if now is None else now, self.batch_size)
        for pair in sorted(pairs):
            await self.refresh(pair)
        return len(pairs)

    async def refresh(self, pair: Pair) -> None:
        try:
            period = parse_period(pair.period, self.runtime.settings.fiscal_year_start_month)
        except SalesGraphError:
            _log.error("forecast.refresh_bad_period", pair=str(pair))
            return
        try:
            with _system_run("forecast-refresh"):
                async with self.runtime.db.session() as session:
                    await regenerate(session, self.cache, pair.territory_id, period)
        except Exception:
            _log.exception("forecast.refresh_failed", pair=str(pair))
            await self.cache.schedule_refresh([pair], time.time() + RETRY_S)
            return
        self.refreshed[pair] += 1


async def generate_now(
    runtime: Runtime, periods: Sequence[Period], session: AsyncSession | None = None
) -> GenerationSummary:
    """Generates every active territory's forecasts for ``periods`` as one system run, in
    ``session``'s transaction (else in a transaction of its own)."""
    with _system_run("forecast-generation"):
        if session is not None:
            return await generate(session, runtime.forecast_cache, periods, store=True)
        async with runtime.db.session() as own:
            return await generate(own, runtime.forecast_cache, periods, store=True)


def daily_generation(runtime: Runtime, *, clock: Callable[[], datetime] = utcnow) -> ScheduledJob:
    """The daily run: every active territory, the current and next quarter of the slot's day in
    the configured time zone; forecasts stored as generated rows, cached and published."""
    settings = runtime.settings
    events = settings.events

    async def job(session: AsyncSession | None, slot: datetime) -> dict[str, Any]:
        day = slot.astimezone(ZoneInfo(events.forecast_timezone)).date()
        periods = quarters_from(day, settings.fiscal_year_start_month)
        return (await generate_now(runtime, periods, session)).as_dict()

    return ScheduledJob(
        DAILY_JOB, events.forecast_cron, events.forecast_timezone, runtime.db, job, clock=clock
    )


def services(runtime: Runtime) -> list[Service]:
    return [ForecastRefresher(runtime), daily_generation(runtime)]
