"""Support payloads (``docs/upstreams.md#support``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sales_graph.connectors.models import UpstreamModel


class CriticalTicket(UpstreamModel):
    ticket_id: str
    title: str
    severity: str
    status: str
    product_area: str | None = None
    opened_at: datetime
    sla_due_at: datetime | None = None
    assignee: str | None = None


class CriticalTickets(UpstreamModel):
    account_id: str
    items: list[CriticalTicket]


class Escalation(UpstreamModel):
    escalation_id: str
    ticket_id: str | None = None
    level: int = Field(ge=1)
    reason: str
    status: str
    escalated_at: datetime
    resolved_at: datetime | None = None


class Escalations(UpstreamModel):
    account_id: str
    items: list[Escalation]


class FeatureRequest(UpstreamModel):
    request_id: str
    title: str
    status: str
    product_area: str | None = None
    votes: int = Field(default=0, ge=0)
    requested_at: datetime


class FeatureRequests(UpstreamModel):
    account_id: str
    items: list[FeatureRequest]
