"""IngestQualifiedLead: Marketing's ``lead.qualified`` creates the lead or brings it up to date,
qualifies it and has it assigned, with the events a user's commands would emit (DESIGN.md,
Leads; docs/events.md, "Inbound: Marketing lead.qualified").

The actor is the system: events carry ``user_id`` null, and the system scope sees every lead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, EmailStr, Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import LeadStatus
from sales_graph.domain.scope import AccessScope
from sales_graph.services import assignment, leads
from sales_graph.services.leads import Attribution, LeadChanges, NewLead
from sales_graph.services.validation import Input
from sales_graph.timeutil import utcnow

SYSTEM_SCOPE = AccessScope.as_system("marketing lead intake")

Name = Annotated[str, StringConstraints(max_length=100)]
Text200 = Annotated[str, StringConstraints(max_length=200)]

# Marketing's view never changes these statuses: a disqualification is a sales decision and a
# converted lead is final. Their Marketing data (score, source, campaign ...) still follow.
_KEPT_STATUSES = frozenset({LeadStatus.DISQUALIFIED.value, LeadStatus.CONVERTED.value})


class _Inbound(Input):
    # Fields Marketing adds later are ignored: its JSON Schema is the gate, not this model.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class MarketingProfile(_Inbound):
    first_name: Name | None = None
    last_name: Name | None = None
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    company: Text200 | None = None
    title: Text200 | None = None


class Firmographic(_Inbound):
    industry: Name | None = None
    employee_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    annual_revenue: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = None
    # Not in the spec's example; DESIGN.md lets a lead carry them (territory rules use them).
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)] | None = (
        None
    )
    region: Name | None = None


class QualifiedLead(_Inbound):
    """The payload of Marketing's ``lead.qualified`` (the spec's Marketing event schema)."""

    # Marketing's id of the lead, which the lead keeps as its own.
    lead_id: uuid.UUID
    source: Name | None = None
    score: Annotated[int, Field(ge=0, le=100)] | None = None
    campaign_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    attribution: Attribution | None = None
    profile: MarketingProfile
    firmographic: Firmographic = Firmographic()

    def fields(self) -> dict[str, Any]:
        """Profile, firmographics, source and score: the ones Marketing sent (not null)."""
        values = {
            **self.profile.model_dump(exclude_none=True),
            **self.firmographic.model_dump(exclude_none=True),
        }
        values.update(self.model_dump(include={"source", "score"}, exclude_none=True))
        return values


@dataclass(frozen=True, slots=True)
class Intake:
    lead: Lead
    created: bool


async def ingest_qualified_lead(session: AsyncSession, data: QualifiedLead) -> Intake:
    """Creates the lead (with Marketing's id) or updates the one with that id or email; then
    qualifies it and, when an existing lead has no territory yet, assigns it (a new lead was
    assigned on creation)."""
    lead = await _existing(session, data)
    created = lead is None
    if lead is None:
        lead = await leads.create_lead(session, SYSTEM_SCOPE, _new_lead(data), lead_id=data.lead_id)
    else:
        lead = await _update(session, lead, data)
    if lead.status in (LeadStatus.NEW.value, LeadStatus.WORKING.value):
        lead = await leads.qualify_lead(session, SYSTEM_SCOPE, lead.id)
    if not created and lead.territory_id is None and lead.status not in _KEPT_STATUSES:
        await assignment.assign_automatically(session, lead, actor_id=None)
    return Intake(lead, created)


async def _existing(session: AsyncSession, data: QualifiedLead) -> Lead | None:
    found = await lead_repo.get_for_update(session, SYSTEM_SCOPE, data.lead_id)
    return found or await lead_repo.by_email(session, SYSTEM_SCOPE, data.profile.email)


def _new_lead(data: QualifiedLead) -> NewLead:
    return NewLead(**data.fields(), campaign_id=data.campaign_id, attribution=data.attribution)


async def _update(session: AsyncSession, lead: Lead, data: QualifiedLead) -> Lead:
    values = data.fields()
    email = values.get("email")
    if email is not None and email.lower() != lead.email_normalized:
        other = await lead_repo.by_email(session, SYSTEM_SCOPE, email)
        if other is not None and other.id != lead.id:
            # Another lead has the address: this one keeps its own rather than fail the event.
            del values["email"]
    lead = await leads.update_lead(session, SYSTEM_SCOPE, lead.id, LeadChanges(**values))
    if data.campaign_id is not None or data.attribution is not None:
        if data.campaign_id is not None:
            lead.campaign_id = data.campaign_id
        if data.attribution is not None:
            lead.attribution = data.attribution.model_dump()
        lead.updated_at = utcnow()
        await save(session, lead)
    return lead
