"""Customer Experience payloads (``docs/upstreams.md#customer-experience``)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from sales_graph.connectors.models import UpstreamModel


class HealthDriver(UpstreamModel):
    name: str
    score: int = Field(ge=0, le=100)


class AccountHealth(UpstreamModel):
    account_id: str
    score: int = Field(ge=0, le=100)
    status: str
    trend: str | None = None
    drivers: list[HealthDriver] = Field(default_factory=list)
    calculated_at: datetime


class FeatureAdoption(UpstreamModel):
    feature: str
    adoption_rate: float = Field(ge=0, le=1)


class AccountUsage(UpstreamModel):
    account_id: str
    period_start: date
    period_end: date
    licensed_seats: int = Field(ge=0)
    monthly_active_users: int = Field(ge=0)
    daily_active_users: int = Field(ge=0)
    seat_utilization: float = Field(ge=0)
    api_calls: int = Field(default=0, ge=0)
    feature_adoption: list[FeatureAdoption] = Field(default_factory=list)
    last_active_at: datetime | None = None


class CustomerTicket(UpstreamModel):
    ticket_id: str
    subject: str
    status: str
    priority: str
    channel: str | None = None
    opened_at: datetime
    closed_at: datetime | None = None


class AccountTickets(UpstreamModel):
    account_id: str
    items: list[CustomerTicket]


class AccountNps(UpstreamModel):
    account_id: str
    score: int = Field(ge=-100, le=100)
    respondents: int = Field(ge=0)
    promoters: int = Field(ge=0)
    passives: int = Field(ge=0)
    detractors: int = Field(ge=0)
    survey_date: date | None = None
    latest_comment: str | None = None
