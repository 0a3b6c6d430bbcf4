"""The scheduled sync with Finance (docs/finance.md): which closed periods are due, one run per
kind and period recorded with its status, Finance's failures retried until a deadline, and the
reconciliation of our forecasts with Finance's.

| kind                    | period  | how it goes to Finance                                |
|-------------------------|---------|-------------------------------------------------------|
| revenue_forecast        | month   | event ``report.revenue_forecast`` (forecasts topic)   |
| commissions             | month   | ``POST /api/v1/commissions/calculate``, in batches    |
| pipeline_report         | quarter | event ``report.pipeline``                             |
| territory_performance   | quarter | event ``report.territory_performance``                |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from sales_graph.connectors.errors import CircuitOpen, UpstreamRejected
from sales_graph.connectors.finance import (
    CommissionCalculation,
    CommissionDeal,
    FinanceClient,
    finance_period,
)
from sales_graph.db.engine import Database
from sales_graph.db.locks import exclusive
from sales_graph.db.models import CommissionBatch
from sales_graph.db.repositories import finance as finance_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.domain import ForecastType
from sales_graph.domain.periods import Period, parse_period, quarter_of
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, UpstreamError, ValidationError
from sales_graph.logs import get_logger
from sales_graph.services import commissions
from sales_graph.services.finance_reports import ReportKind, publish
from sales_graph.services.forecasting import compute_forecast
from sales_graph.settings import FinanceSyncSettings

_log = get_logger(__name__)

COMMISSIONS = "commissions"
MONTHLY = (ReportKind.REVENUE_FORECAST.value, COMMISSIONS)
QUARTERLY = (ReportKind.PIPELINE.value, ReportKind.TERRITORY_PERFORMANCE.value)
KINDS = (*MONTHLY, *QUARTERLY)


def month(day: date) -> Period:
    return parse_period(f"M{day.month:02d}_{day.year}")


def kinds_of(period: Period) -> tuple[str, ...]:
    """The kinds a period takes: a month's or a quarter's."""
    if period.name.startswith("M"):
        return MONTHLY
    if period.name.startswith("Q"):
        return QUARTERLY
    return ()


def due(
    today: date, lookback_months: int, fiscal_year_start_month: int
) -> list[tuple[str, Period]]:
    """What a scheduled run looks at on ``today``: every kind of the last ``lookback_months``
    closed months, and of the quarters that ended in them; oldest first."""
    work: list[tuple[str, Period]] = []
    first_of_month = today.replace(day=1)
    months = []
    for _ in range(lookback_months):
        first_of_month = (first_of_month - timedelta(days=1)).replace(day=1)
        months.append(month(first_of_month))
    for period in reversed(months):
        work += [(kind, period) for kind in MONTHLY]
        quarter = quarter_of(period.start, fiscal_year_start_month)
        if quarter.end == period.end:
            work += [(kind, quarter) for kind in QUARTERLY]
    return work


class RunInProgress(Conflict):
    default_message = "Another run of this kind and period is in progress"


def worth_retrying(error: BaseException) -> bool:
    """Finance failing (down, slow, 5xx, its breaker open) is retried; Finance refusing the
    request (a 4xx: a plan it does not know, our credentials) or no Finance at all is not."""
    if not isinstance(error, UpstreamError) or isinstance(error, UpstreamRejected):
        return False
    return (error.details or {}).get("reason") != "not_configured"


@dataclass
class FinanceSync:
    db: Database
    finance: FinanceClient | None
    settings: FinanceSyncSettings

    async def send(self, batch: CommissionBatch) -> CommissionCalculation:
        """Posts a batch with its Idempotency-Key, retried with backoff until the deadline."""
        if self.finance is None:
            raise UpstreamError(
                "Finance is not configured",
                details={"system": "finance", "reason": "not_configured"},
            )
        finance = self.finance
        deals = [CommissionDeal.model_validate(d) for d in batch.deals]
        retrying = AsyncRetrying(
            retry=retry_if_exception(worth_retrying),
            wait=wait_random_exponential(
                multiplier=self.settings.retry_base_backoff_s, max=self.settings.retry_max_backoff_s
            ),
            stop=stop_after_delay(self.settings.deadline_s),
            reraise=True,
        )
        # What Finance did, as opposed to our breaker refusing calls once it opened.
        cause: UpstreamError | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    if number > 1:
                        _log.warning(
                            "finance.batch_retry",
                            batch_id=str(batch.id),
                            attempt=number,
                            error=repr(cause),
                        )
                    try:
                        return await finance.calculate_commissions(
                            batch.period,
                            deals,
                            plan_id=batch.plan_id,
                            idempotency_key=commissions.idempotency_key(batch),
                        )
                    except CircuitOpen:
                        raise
                    except UpstreamError as exc:
                        cause = exc
                        raise
        except UpstreamError as exc:
            if not worth_retrying(exc):
                raise
            raise type(exc)(
                f"Finance did not take batch {batch.id} within {self.settings.deadline_s:g} s "
                f"(last: {cause or exc!r}); it stays pending, and the next run sends it again "
                "with the same Idempotency-Key",
                details={**(exc.details or {}), "batch_id": str(batch.id)},
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def run(self, kind: str, period: Period, *, trigger: str) -> dict[str, Any]:
        """One kind for one period, recorded as a run; raises (after recording the run as
        failed) when it could not finish, and :class:`RunInProgress` when another process
        runs the same kind and period (one at a time: their batches are the same)."""
        async with exclusive(self.db, f"finance:{kind}:{period.name}") as held:
            if not held:
                raise RunInProgress(
                    f"another run of {kind} {period.name} is in progress",
                    details={"kind": kind, "period": period.name},
                )
            return await self._recorded(kind, period, trigger=trigger)

    async def _recorded(self, kind: str, period: Period, *, trigger: str) -> dict[str, Any]:
        async with self.db.session() as session:
            run = await finance_repo.start_run(session, kind, period.name, trigger)
        try:
            summary = await self._run(kind, period)
        except Exception as exc:
            async with self.db.session() as session:
                await finance_repo.finish_run(session, run.id, "failed", None, repr(exc)[:4000])
            _log.warning("finance.run_failed", kind=kind, period=period.name, error=repr(exc))
            raise
        async with self.db.session() as session:
            await finance_repo.finish_run(session, run.id, "succeeded", summary)
        _log.info("finance.run_succeeded", kind=kind, period=period.name, summary=summary)
        return summary

    async def _run(self, kind: str, period: Period) -> dict[str, Any]:
        if kind == COMMISSIONS:
            sent = await commissions.sync_period(
                self.db.session,
                period,
                self.send,
                batch_size=self.settings.commission_batch_size,
                plan_id=self.settings.commission_plan_id,
            )
            return sent.as_dict()
        async with self.db.session() as session:
            return (await publish(session, ReportKind(kind), period)).as_dict()

    async def run_all(
        self, work: Sequence[tuple[str, Period]], *, trigger: str
    ) -> list[dict[str, Any]]:
        """Each (kind, period) in turn; a failure is recorded and the others still run."""
        results = []
        for kind, period in work:
            try:
                summary = await self.run(kind, period, trigger=trigger)
            except RunInProgress as exc:
                results.append(
                    {"kind": kind, "period": period.name, "status": "skipped", "error": exc.message}
                )
            except Exception as exc:
                results.append(
                    {"kind": kind, "period": period.name, "status": "failed", "error": repr(exc)}
                )
            else:
                results.append(
                    {"kind": kind, "period": period.name, "status": "succeeded", **summary}
                )
        return results


def work_for(period: Period, kinds: Sequence[str], today: date) -> list[tuple[str, Period]]:
    """What ``sales-graph finance sync`` runs: the kinds asked for (all of the period's by
    default), each checked against the period's length; only a period closed by ``today``."""
    allowed = kinds_of(period)
    if not allowed:
        raise ValidationError.of("period", "Finance syncs months (M03_2026) and quarters (Q1_2026)")
    if period.end >= today:
        raise ValidationError.of(
            "period", f"{period.name} has not closed yet (its last day is {period.end})"
        )
    wanted = list(dict.fromkeys(kinds)) or list(allowed)
    wrong = [k for k in wanted if k not in allowed]
    if wrong:
        raise ValidationError.of(
            "kind",
            f"{', '.join(wrong)}: a {'month' if period.name.startswith('M') else 'quarter'} "
            f"takes {', '.join(allowed)}",
        )
    return [(kind, period) for kind in wanted]


# ------------------------------------------------------------------------ reconciliation

# Finance's forecast field for each of our forecast types.
_FINANCE_FIELD = {
    ForecastType.CLOSED: "closed_won",
    ForecastType.COMMIT: "commit",
    ForecastType.BEST_CASE: "best_case",
    ForecastType.PIPELINE: "pipeline",
}
_SYSTEM = AccessScope.as_system("finance reconciliation")


async def reconcile(db: Database, finance: FinanceClient, period: Period) -> list[dict[str, Any]]:
    """Our forecast of each active territory against Finance's ``GET /forecasts/:period``:
    one row per territory and type, with the difference (ours - Finance's)."""
    if finance_period(period.name) is None:
        raise ValidationError.of("period", "Finance has forecasts of months and quarters")
    async with db.session() as session:
        territories = await territory_repo.active_in_order(session, _SYSTEM)
        ours = {
            (t.id, kind): await compute_forecast(session, _SYSTEM, t.id, period, kind)
            for t in territories
            for kind in ForecastType
        }
    rows = []
    for territory in territories:
        theirs = await finance.forecast(period.name, str(territory.id))
        for kind in ForecastType:
            mine = ours[(territory.id, kind)].amount
            other = Decimal(str(getattr(theirs, _FINANCE_FIELD[kind])))
            rows.append(
                {
                    "territory_id": str(territory.id),
                    "territory": territory.name,
                    "forecast_type": kind.value,
                    "ours": float(mine),
                    "finance": float(other),
                    "difference": float(mine - other),
                }
            )
    return rows
