"""What the deal-score model reads about one opportunity: built by storage, read by scoring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sales_graph.domain import OpportunityStage as S


@dataclass(frozen=True, slots=True)
class Signals:
    """What the model reads about one opportunity."""

    stage: S
    stage_changed_at: datetime
    close_date_slips: int = 0
    amount: Decimal | None = None
    account_annual_revenue: Decimal | None = None
    lead_score: int | None = None
    lead_source: str | None = None
    account_health: int | None = None
    nps: int | None = None
    critical_tickets: int | None = None
    escalations: int | None = None
    next_step: str | None = None
    competitors: int = 0


class OpportunityFacts(Protocol):
    stage: str
    stage_changed_at: datetime
    close_date_slips: int
    amount: Decimal | None
    next_step: str | None
    opportunity_metadata: dict[str, Any]


class AccountFacts(Protocol):
    annual_revenue: Decimal | None
    health_score: int | None
    nps: int | None
    open_critical_tickets: int | None
    escalations: int | None


class LeadFacts(Protocol):
    score: int | None
    source: str | None


def competitors(metadata: Mapping[str, Any]) -> int:
    """How many competitors the opportunity's ``metadata.competition`` lists."""
    competition = metadata.get("competition")
    return len(competition) if isinstance(competition, list) else 0


def signals_of(
    opportunity: OpportunityFacts,
    account: AccountFacts | None,
    lead: LeadFacts | None,
    *,
    stage: S | None = None,
) -> Signals:
    """The signals of a stored opportunity (``stage``: another stage than its own, as when
    training on the stage a closed deal was in before it closed)."""
    return Signals(
        stage=stage or S(opportunity.stage),
        stage_changed_at=opportunity.stage_changed_at,
        close_date_slips=opportunity.close_date_slips,
        amount=opportunity.amount,
        account_annual_revenue=account.annual_revenue if account else None,
        lead_score=lead.score if lead else None,
        lead_source=lead.source if lead else None,
        account_health=account.health_score if account else None,
        nps=account.nps if account else None,
        critical_tickets=account.open_critical_tickets if account else None,
        escalations=account.escalations if account else None,
        next_step=opportunity.next_step,
        competitors=competitors(opportunity.opportunity_metadata),
    )
