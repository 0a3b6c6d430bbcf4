"""The figures of a pipeline and of a forecast: computed by the services, carried by events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sales_graph.domain import ForecastType, OpportunityStage


@dataclass(frozen=True, slots=True)
class StageLine:
    stage: OpportunityStage
    count: int
    total_amount: Decimal
    probability: int
    weighted_amount: Decimal


@dataclass(frozen=True, slots=True)
class Pipeline:
    period: str
    owner_id: uuid.UUID
    total_count: int
    total_amount: Decimal
    weighted_amount: Decimal
    by_stage: list[StageLine]


@dataclass(frozen=True, slots=True)
class ComputedForecast:
    """The ``forecast.updated`` payload of the spec, plus the AI-predicted amount."""

    period: str
    territory_id: uuid.UUID
    forecast_type: ForecastType
    amount: Decimal
    probability_weighted_amount: Decimal
    ai_predicted_amount: Decimal
    breakdown: list[StageLine]
    generated_at: datetime
