"""The Finance system: forecasts and actual revenue per period, and commission calculations.

Periods are ``Q1_2026`` (the spec's form) or ``2026-03`` (a month); anything else is a 422.
``POST /api/v1/commissions/calculate`` honours ``Idempotency-Key`` as Billing does: a repeat with
the same key and body answers the first calculation again (``Idempotent-Replayed: true``) and
calculates nothing; the same key with another body is a 422.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sales_graph.simulators.core import SeededApi, error_response, read_body
from sales_graph.simulators.seeded import EPOCH, iso, money, rng_for

SYSTEM = "finance"
_PERIOD = re.compile(
    r"^(?:Q(?P<quarter>[1-4])_(?P<qyear>\d{4})|(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2]))$"
)
_STAGES = (
    ("discovery", 0.2),
    ("qualification", 0.4),
    ("proposal", 0.6),
    ("negotiation", 0.9),
)
_RATES = (Decimal("0.08"), Decimal("0.10"), Decimal("0.12"))
# Named plans pay one rate to everybody; without a plan, each owner's rate is drawn from _RATES.
PLANS = {"standard": Decimal("0.10"), "accelerated": Decimal("0.12")}
_CENT = Decimal("0.01")


class CommissionProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(ge=0)
    discount: Decimal = Field(ge=0)


class CommissionDeal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity_id: str = Field(min_length=1)
    owner_id: str = Field(min_length=1)
    amount: Decimal = Field(ge=0)
    closed_at: date | None = None
    territory_id: str | None = None
    contract_id: str | None = None
    products: list[CommissionProduct] = Field(default_factory=list, max_length=1000)
    eligible: bool = True


class CommissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str
    deals: list[CommissionDeal] = Field(max_length=10_000)
    plan_id: str | None = None


def months_of(period: str) -> list[str] | None:
    """The months (``YYYY-MM``) a period covers, or None when it is not a period."""
    match = _PERIOD.match(period)
    if match is None:
        return None
    if match["quarter"]:
        first = (int(match["quarter"]) - 1) * 3 + 1
        return [f"{match['qyear']}-{m:02d}" for m in range(first, first + 3)]
    return [f"{match['year']}-{match['month']}"]


def _bad_period(period: str) -> Response:
    return error_response(422, "VALIDATION_ERROR", f"period {period!r} is not Q<n>_YYYY or YYYY-MM")


@dataclass(eq=False)
class FinanceApi(SeededApi):
    calculations: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    # Idempotency-Key -> (body fingerprint, calculation id); and how many calculations each
    # key caused (a test of "never twice to effect" reads it).
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict, init=False)
    effects: dict[str, int] = field(default_factory=dict, init=False)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/api/v1/forecasts/{period}", self.forecast, methods=["GET"]),
            Route("/api/v1/commissions/calculate", self.calculate, methods=["POST"]),
            Route("/api/v1/revenue/{period}", self.revenue, methods=["GET"]),
        ]

    def state(self) -> dict[str, Any]:
        return {
            "calculations": list(self.calculations.values()),
            "idempotency_keys": sorted(self.idempotency),
            "effects": dict(self.effects),
        }

    def forecast_payload(self, period: str, territory_id: str | None) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "forecast", period, territory_id or "")
        totals = [money(rng, 100_000, 3_000_000) for _ in _STAGES]
        weighted = [round(t * p, 2) for t, (_, p) in zip(totals, _STAGES, strict=True)]
        breakdown = [
            {"stage": stage, "count": rng.randint(1, 40), "total_amount": t, "weighted_amount": w}
            for (stage, _), t, w in zip(_STAGES, totals, weighted, strict=True)
        ]
        return {
            "period": period,
            "territory_id": territory_id,
            "currency": "USD",
            "closed_won": money(rng, 50_000, 2_000_000),
            "commit": totals[-1],
            "best_case": round(totals[-1] + totals[-2], 2),
            "pipeline": round(sum(totals), 2),
            "probability_weighted_amount": round(sum(weighted), 2),
            "breakdown": breakdown,
            "generated_at": iso(EPOCH),
        }

    def revenue_payload(self, period: str, months: list[str]) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "revenue", period)
        amounts = [money(rng, 200_000, 1_500_000) for _ in months]
        recognized = round(sum(amounts), 2)
        return {
            "period": period,
            "currency": "USD",
            "recognized_revenue": recognized,
            "booked_revenue": round(recognized * rng.uniform(1.0, 1.4), 2),
            "billed_revenue": round(recognized * rng.uniform(0.8, 1.1), 2),
            "by_month": [
                {"month": m, "recognized_revenue": a} for m, a in zip(months, amounts, strict=True)
            ],
            "as_of": iso(EPOCH),
        }

    async def forecast(self, request: Request) -> Response:
        period = request.path_params["period"]
        if months_of(period) is None:
            return _bad_period(period)
        territory_id = request.query_params.get("territory_id")
        return JSONResponse(self.forecast_payload(period, territory_id))

    async def revenue(self, request: Request) -> Response:
        period = request.path_params["period"]
        months = months_of(period)
        if months is None:
            return _bad_period(period)
        return JSONResponse(self.revenue_payload(period, months))

    async def calculate(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(await request.body()).hexdigest()
        if key is not None and key in self.idempotency:
            seen, calculation_id = self.idempotency[key]
            if seen != fingerprint:
                return error_response(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "Idempotency-Key was used with a different request body",
                )
            return JSONResponse(
                self.calculations[calculation_id], headers={"Idempotent-Replayed": "true"}
            )
        body = await read_body(request, CommissionRequest)
        if isinstance(body, Response):
            return body
        if months_of(body.period) is None:
            return _bad_period(body.period)
        if body.plan_id is not None and body.plan_id not in PLANS:
            return error_response(422, "VALIDATION_ERROR", f"no commission plan {body.plan_id!r}")
        canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(f"{self.seed}:".encode() + canonical).hexdigest()
        lines = []
        total = Decimal(0)
        for deal in body.deals:
            rate = PLANS.get(body.plan_id or "") or rng_for(
                self.seed, SYSTEM, "rate", deal.owner_id
            ).choice(_RATES)
            commission = (deal.amount * rate).quantize(_CENT, ROUND_HALF_UP)
            total += commission
            lines.append(
                {
                    "opportunity_id": deal.opportunity_id,
                    "owner_id": deal.owner_id,
                    "amount": float(deal.amount),
                    "rate": float(rate),
                    "commission": float(commission),
                }
            )
        calculation_id = f"cc_{digest[:16]}"
        calculation = {
            "calculation_id": calculation_id,
            "period": body.period,
            "plan_id": body.plan_id,
            "currency": "USD",
            "total_commission": float(total),
            "lines": lines,
            "calculated_at": iso(datetime.now(UTC)),
        }
        self.calculations[calculation_id] = calculation
        if key is not None:
            self.idempotency[key] = (fingerprint, calculation_id)
            self.effects[key] = self.effects.get(key, 0) + 1
        return JSONResponse(calculation)
