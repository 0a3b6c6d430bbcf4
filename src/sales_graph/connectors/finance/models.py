"""Finance payloads (``docs/upstreams.md#finance``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from sales_graph.connectors.models import Money, UpstreamModel, UpstreamRequest


class StageBreakdown(UpstreamModel):
    stage: str
    count: int = Field(ge=0)
    total_amount: Money
    weighted_amount: Money


class Forecast(UpstreamModel):
    period: str
    territory_id: str | None = None
    currency: str
    closed_won: Money
    commit: Money
    best_case: Money
    pipeline: Money
    probability_weighted_amount: Money
    breakdown: list[StageBreakdown] = Field(default_factory=list)
    generated_at: datetime


class MonthlyRevenue(UpstreamModel):
    month: str
    recognized_revenue: Money


class Revenue(UpstreamModel):
    period: str
    currency: str
    recognized_revenue: Money
    booked_revenue: Money
    billed_revenue: Money
    by_month: list[MonthlyRevenue] = Field(default_factory=list)
    as_of: datetime


class CommissionProduct(UpstreamRequest):
    product_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: Money = Field(ge=0)
    discount: Money = Field(ge=0)


class CommissionDeal(UpstreamRequest):
    opportunity_id: str = Field(min_length=1)
    owner_id: str = Field(min_length=1)
    amount: Money = Field(ge=0)
    closed_at: date | None = None
    territory_id: str | None = None
    contract_id: str | None = None
    products: list[CommissionProduct] = Field(default_factory=list)
    # False: a deal calculated before that is no longer closed-won in the period (a
    # correction), sent with amount 0 so that Finance's new line replaces the old one.
    eligible: bool = True


class CommissionRequest(UpstreamRequest):
    period: str
    deals: list[CommissionDeal]
    plan_id: str | None = None


class CommissionLine(UpstreamModel):
    opportunity_id: str
    owner_id: str
    amount: Money
    rate: Decimal
    commission: Money


class CommissionCalculation(UpstreamModel):
    calculation_id: str
    period: str
    plan_id: str | None = None
    currency: str
    total_commission: Money
    lines: list[CommissionLine]
    calculated_at: datetime
