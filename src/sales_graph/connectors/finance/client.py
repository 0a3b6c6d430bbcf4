"""The Finance system: forecasts and actual revenue per period, commission calculations.

Finance names a quarter as we do (``Q1_2026``) and a month ``2026-03`` (ours: ``M03_2026``):
:func:`wire_period` translates, so callers pass our names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sales_graph.connectors.finance.models import (
    CommissionCalculation,
    CommissionDeal,
    CommissionRequest,
    Forecast,
    Revenue,
)
from sales_graph.connectors.system_client import SystemClient
from sales_graph.connectors.wire import segment

_MONTH = re.compile(r"^M(0[1-9]|1[0-2])_([0-9]{4})\Z")


def finance_period(period: str) -> str | None:
    """Our period name as Finance spells it: ``Q1_2026`` as is, ``M03_2026`` as ``2026-03``;
    Finance has no fiscal years (None)."""
    if match := _MONTH.match(period):
        return f"{match.group(2)}-{match.group(1)}"
    return period if period.startswith("Q") else None


def wire_period(period: str) -> str:
    """Our period name as Finance's API takes it (ValueError for a fiscal year)."""
    name = finance_period(period)
    if name is None:
        raise ValueError(f"Finance has no period {period!r}")
    return name


class FinanceClient(SystemClient):
    SYSTEM = "finance"
    DEFAULT_TTLS = {"forecast": 300.0, "revenue": 900.0}

    async def forecast(self, period: str, territory_id: str | None = None) -> Forecast:
        """Finance's forecast for ``period`` (``Q1_2026`` or ``2026-03``), for reconciliation."""
        params = {"territory_id": territory_id} if territory_id else None
        path = f"/api/v1/forecasts/{segment(wire_period(period))}"
        return await self.upstream.read("forecast", path, Forecast, params=params)

    async def revenue(self, period: str) -> Revenue:
        return await self.upstream.read(
            "revenue", f"/api/v1/revenue/{segment(wire_period(period))}", Revenue
        )

    async def calculate_commissions(
        self,
        period: str,
        deals: Sequence[CommissionDeal],
        *,
        plan_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CommissionCalculation:
        """A POST: repeated on failure only when ``idempotency_key`` is given."""
        body = CommissionRequest(period=wire_period(period), deals=list(deals), plan_id=plan_id)
        return await self.upstream.request(
            "POST",
            "/api/v1/commissions/calculate",
            CommissionCalculation,
            json=body,
            idempotency_key=idempotency_key,
        )
