"""The Finance system: forecasts and actual revenue per period, commission calculations."""

from __future__ import annotations

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


class FinanceClient(SystemClient):
    SYSTEM = "finance"
    DEFAULT_TTLS = {"forecast": 300.0, "revenue": 900.0}

    async def forecast(self, period: str, territory_id: str | None = None) -> Forecast:
        """Finance's forecast for ``period`` (``Q1_2026`` or ``2026-03``), for reconciliation."""
        params = {"territory_id": territory_id} if territory_id else None
        path = f"/api/v1/forecasts/{segment(period)}"
        return await self.upstream.read("forecast", path, Forecast, params=params)

    async def revenue(self, period: str) -> Revenue:
        return await self.upstream.read("revenue", f"/api/v1/revenue/{segment(period)}", Revenue)

    async def calculate_commissions(
        self,
        period: str,
        deals: Sequence[CommissionDeal],
        *,
        plan_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CommissionCalculation:
        """A POST: repeated on failure only when ``idempotency_key`` is given."""
        body = CommissionRequest(period=period, deals=list(deals), plan_id=plan_id)
        return await self.upstream.request(
            "POST",
            "/api/v1/commissions/calculate",
            CommissionCalculation,
            json=body,
            idempotency_key=idempotency_key,
        )
