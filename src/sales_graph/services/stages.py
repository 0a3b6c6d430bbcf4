"""The opportunity stage table of DESIGN.md: probabilities, forecast categories, transitions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import WithJsonSchema

from sales_graph.domain import ForecastCategory, OpportunityStage

S = OpportunityStage


@dataclass(frozen=True, slots=True)
class StageRule:
    default_probability: int
    forecast_category: ForecastCategory
    allowed_next: tuple[OpportunityStage, ...]

    @property
    def is_closed(self) -> bool:
        return not self.allowed_next


STAGES: dict[OpportunityStage, StageRule] = {
    S.DISCOVERY: StageRule(20, ForecastCategory.PIPELINE, (S.QUALIFICATION, S.PROPOSAL)),
    S.QUALIFICATION: StageRule(
        40, ForecastCategory.PIPELINE, (S.DISCOVERY, S.PROPOSAL, S.NEGOTIATION, S.CLOSED_LOST)
    ),
    S.PROPOSAL: StageRule(
        60, ForecastCategory.BEST_CASE, (S.QUALIFICATION, S.NEGOTIATION, S.CLOSED_LOST)
    ),
    S.NEGOTIATION: StageRule(
        90, ForecastCategory.COMMIT, (S.PROPOSAL, S.CLOSED_WON, S.CLOSED_LOST)
    ),
    S.CLOSED_WON: StageRule(100, ForecastCategory.CLOSED, ()),
    S.CLOSED_LOST: StageRule(0, ForecastCategory.OMITTED, ()),
}

# Pipeline order: the order stages appear in pipeline and forecast breakdowns.
PIPELINE_ORDER: tuple[OpportunityStage, ...] = tuple(STAGES)
OPEN_STAGES: tuple[OpportunityStage, ...] = tuple(s for s, r in STAGES.items() if not r.is_closed)

# The stage a new opportunity (created or converted) starts in: an open one. The services check
# it; the input models say it in their JSON Schema, which the REST document is read from.
OpenStage = Annotated[
    OpportunityStage, WithJsonSchema({"type": "string", "enum": [s.value for s in OPEN_STAGES]})
]
