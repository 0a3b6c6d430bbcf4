"""The Finance connector: the only code that talks to the Finance system."""

from __future__ import annotations

from sales_graph.connectors.finance.client import FinanceClient
from sales_graph.connectors.finance.models import (
    CommissionCalculation,
    CommissionDeal,
    CommissionLine,
    CommissionRequest,
    Forecast,
    MonthlyRevenue,
    Revenue,
    StageBreakdown,
)

__all__ = [
    "CommissionCalculation",
    "CommissionDeal",
    "CommissionLine",
    "CommissionRequest",
    "FinanceClient",
    "Forecast",
    "MonthlyRevenue",
    "Revenue",
    "StageBreakdown",
]
