"""The Finance connector: the only code that talks to the Finance system."""

from __future__ import annotations

from sales_graph.connectors.finance.client import FinanceClient, finance_period, wire_period
from sales_graph.connectors.finance.models import (
    CommissionCalculation,
    CommissionDeal,
    CommissionLine,
    CommissionProduct,
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
    "CommissionProduct",
    "CommissionRequest",
    "FinanceClient",
    "Forecast",
    "MonthlyRevenue",
    "Revenue",
    "StageBreakdown",
    "finance_period",
    "wire_period",
]
