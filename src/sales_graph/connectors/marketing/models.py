"""Marketing payloads (``docs/upstreams.md#marketing``)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from sales_graph.connectors.models import Money, UpstreamModel, UpstreamRequest


class Campaign(UpstreamModel):
    campaign_id: str
    name: str
    channel: str
    status: str
    start_date: date
    end_date: date | None = None
    budget: Money | None = None
    spend: Money | None = None
    currency: str = "USD"
    leads_generated: int = Field(default=0, ge=0)
    opportunities_influenced: int = Field(default=0, ge=0)


class ScoreFactor(UpstreamModel):
    name: str
    points: int


class LeadScore(UpstreamModel):
    lead_id: str
    score: int = Field(ge=0, le=100)
    grade: str
    factors: list[ScoreFactor] = Field(default_factory=list)
    model_version: str | None = None
    scored_at: datetime


class Attribution(UpstreamModel):
    first_touch: str | None = None
    last_touch: str | None = None
    touches: list[str] = Field(default_factory=list)


class LeadProfile(UpstreamModel):
    first_name: str
    last_name: str
    email: str
    company: str | None = None
    title: str | None = None
    phone: str | None = None


class Firmographic(UpstreamModel):
    industry: str | None = None
    employee_count: int | None = Field(default=None, ge=0)
    annual_revenue: Money | None = None


class LeadSyncUpdate(UpstreamRequest):
    """What we tell Marketing about a lead when syncing it; all optional."""

    status: str | None = None
    owner_id: str | None = None
    opportunity_id: str | None = None


class LeadSync(UpstreamModel):
    """Marketing's current view of the lead, as returned by the sync."""

    lead_id: str
    score: int = Field(ge=0, le=100)
    source: str | None = None
    campaign_id: str | None = None
    attribution: Attribution = Field(default_factory=Attribution)
    profile: LeadProfile
    firmographic: Firmographic | None = None
    sales_status: str | None = None
    synced_at: datetime
