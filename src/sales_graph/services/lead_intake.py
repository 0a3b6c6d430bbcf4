"""IngestQualifiedLead: Marketing's ``lead.qualified`` creates the lead or brings it up to date,
qualifies it and has it assigned, with the events a user's commands would emit (DESIGN.md,
Leads; docs/events.md, "Inbound: Marketing lead.qualified").

The actor is the system: events carry ``user_id`` null, and the system scope sees every lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, EmailStr, Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import LeadStatus
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict
from sales_graph.events import payloads
from sales_graph.events.models import EventPayload
from sales_graph.events.outbox import outbox_values
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
    if _campaign_given(lead, data):
        await save(session, lead)
    return lead


def _campaign_given(lead: Lead, data: QualifiedLead) -> bool:
    """The campaign and attribution Marketing sent, set on the lead; False when it sent none."""
    if data.campaign_id is None and data.attribution is None:
        return False
    if data.campaign_id is not None:
        lead.campaign_id = data.campaign_id
    if data.attribution is not None:
        lead.attribution = data.attribution.model_dump()
    lead.updated_at = utcnow()
    return True


class IntakeBatch:
    """:func:`ingest_qualified_lead` for many events in one transaction, with the statements
    of a batch: the leads looked up once (by id and by email, locked), the routing read once
    (``assignment.BatchAssigner``), each event's changes made in memory, then written at once
    by :meth:`write` (changed leads, new leads, assignment records, outbox rows in order).

    Each event sees the leads as the events before it left them, so the rows written are the
    ones event-by-event ingestion would write. An event that our rules refuse
    (``ValidationError``) is refused before it changes anything, so the batch goes on without
    it; any failure once it began changing leads is raised as :class:`BatchBroken`.
    """

    def __init__(
        self, session: AsyncSession, found: Sequence[Lead], assigner: assignment.BatchAssigner
    ) -> None:
        self._session = session
        self._assigner = assigner
        self._by_id = {lead.id: lead for lead in found}
        self._by_email = {lead.email_normalized: lead for lead in found}
        self._created: list[Lead] = []
        self._records: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    @classmethod
    async def read(cls, session: AsyncSession, batch: Sequence[QualifiedLead]) -> IntakeBatch:
        found = await lead_repo.by_ids_or_emails_for_update(
            session,
            SYSTEM_SCOPE,
            [data.lead_id for data in batch],
            [data.profile.email for data in batch],
        )
        return cls(session, found, await assignment.BatchAssigner.read(session))

    async def ingest(self, data: QualifiedLead) -> Intake:
        lead = self._by_id.get(data.lead_id) or self._by_email.get(data.profile.email.lower())
        if lead is None:
            new = _new_lead(data)
            self._email_free(new.email, None)
            try:
                return Intake(await self._create(new, data.lead_id), created=True)
            except Exception as exc:
                raise BatchBroken(f"lead {data.lead_id} half ingested") from exc
        values = self._update_values(lead, data)
        try:
            return Intake(await self._update(lead, data, values), created=False)
        except Exception as exc:
            raise BatchBroken(f"lead {lead.id} half ingested") from exc

    def _email_free(self, email: str, own_id: uuid.UUID | None) -> None:
        existing = self._by_email.get(email.lower())
        if existing is not None and existing.id != own_id:
            raise Conflict("A lead with this email already exists", details={"field": "email"})

    async def _create(self, new: NewLead, lead_id: uuid.UUID) -> Lead:
        lead = leads.new_lead_row(new, lead_id)
        self._by_id[lead.id] = lead
        self._by_email[lead.email_normalized] = lead
        self._created.append(lead)
        self._event("lead.created", lead.id, payloads.lead(lead))
        await self._assign(lead, SYSTEM_SCOPE.actor_id)
        self._qualify(lead)
        return lead

    def _update_values(self, lead: Lead, data: QualifiedLead) -> dict[str, Any]:
        """What ``_update`` sets, checked, before anything changes."""
        values = data.fields()
        email = values.get("email")
        if email is not None and email.lower() != lead.email_normalized:
            other = self._by_email.get(email.lower())
            if other is not None and other.id != lead.id:
                del values["email"]
        checked = leads.update_values(lead, LeadChanges(**values))
        if checked.get("email"):
            self._email_free(checked["email"], lead.id)
        return checked

    async def _update(self, lead: Lead, data: QualifiedLead, values: dict[str, Any]) -> Lead:
        email_before = lead.email_normalized
        leads.apply_update(lead, values)
        if lead.email_normalized != email_before:
            if self._by_email.get(email_before) is lead:
                del self._by_email[email_before]
            self._by_email[lead.email_normalized] = lead
        _campaign_given(lead, data)
        self._qualify(lead)
        if lead.territory_id is None and lead.status not in _KEPT_STATUSES:
            await self._assign(lead, None)
        return lead

    def _qualify(self, lead: Lead) -> None:
        if lead.status in (LeadStatus.NEW.value, LeadStatus.WORKING.value):
            leads.move(lead, LeadStatus.QUALIFIED, disqualified_reason=None)
            self._event("lead.qualified", lead.id, payloads.lead(lead), SYSTEM_SCOPE.actor_id)

    async def _assign(self, lead: Lead, actor_id: uuid.UUID | None) -> None:
        assigned = await self._assigner.assign_automatically(self._session, lead, actor_id=actor_id)
        if assigned is not None:
            record, payload = assigned
            self._records.append(record)
            self._event("lead.assigned", lead.id, payload, actor_id)

    def _event(
        self,
        name: str,
        key: uuid.UUID,
        payload: EventPayload,
        actor_id: uuid.UUID | None = SYSTEM_SCOPE.actor_id,
    ) -> None:
        self._events.append(outbox_values(name, key, payload, actor_id=actor_id))

    async def write(self) -> None:
        """The batch's rows: the leads found (changed in place), then the new ones, their
        assignments and events, the territories' turns."""
        session = self._session
        session.add_all(self._created)
        await session.flush()
        await lead_repo.record_assignments(session, self._records)
        await outbox_repo.add_all(session, self._events)
        await self._assigner.write(session)


class BatchBroken(RuntimeError):
    """An event of a batch failed half way: the batch cannot be written."""
