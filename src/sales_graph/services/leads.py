"""Leads: one function per command (create, update, qualify, disqualify, assign)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import EmailStr, Field, StringConstraints, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import LeadStatus, Role
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, Forbidden, ValidationError
from sales_graph.events import payloads
from sales_graph.events.outbox import record as record_event
from sales_graph.jsonlimits import JSONObject
from sales_graph.services import assignment
from sales_graph.services.validation import Input, check_version, found, invalid
from sales_graph.timeutil import utcnow

Name = Annotated[str, StringConstraints(max_length=100)]
Text200 = Annotated[str, StringConstraints(max_length=200)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
# Keys of a lead's ``metadata``, besides the limits of every free-form field (jsonlimits).
METADATA_KEYS = 50

# Which status a command may move a lead to, from which status.
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset(
        {LeadStatus.WORKING, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED}
    ),
    LeadStatus.WORKING: frozenset(
        {LeadStatus.NEW, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED}
    ),
    LeadStatus.QUALIFIED: frozenset(
        {LeadStatus.WORKING, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED}
    ),
    LeadStatus.DISQUALIFIED: frozenset({LeadStatus.WORKING}),
    LeadStatus.CONVERTED: frozenset(),
}
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)


class Attribution(Input):
    first_touch: Name | None = None
    last_touch: Name | None = None
    touches: list[Name] = Field(default_factory=list, max_length=50)


class _LeadFields(Input):
    """The fields a lead's creation and its update share, each one optional."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    company: Text200 | None = None
    title: Text200 | None = None
    industry: Name | None = None
    employee_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    annual_revenue: Money | None = None
    country: Country | None = None
    region: Name | None = None
    source: Name | None = None
    score: Annotated[int, Field(ge=0, le=100)] | None = None


class LeadProfile(_LeadFields):
    email: Email


class NewLead(LeadProfile):
    campaign_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    attribution: Attribution | None = None
    metadata: JSONObject = Field(
        default_factory=dict, json_schema_extra={"maxProperties": METADATA_KEYS}
    )

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > METADATA_KEYS:
            raise ValueError(f"at most {METADATA_KEYS} keys")
        return value


class LeadChanges(_LeadFields):
    """What ``updateLead`` may change: not the assignee or territory (assignTerritory does)."""

    status: LeadStatus | None = None
    expected_version: Annotated[int, Field(ge=1)] | None = None


class TerritoryAssignmentRequest(Input):
    lead_id: uuid.UUID
    territory_id: uuid.UUID
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    assigned_to_id: uuid.UUID | None = None


async def visible_lead(session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID) -> Lead:
    return found(await lead_repo.get(session, scope, lead_id), "Lead", "lead_id")


# Lists and counts are read as the repository reads them: the scope's visibility is the only rule.
list_leads = lead_repo.page
count_leads = lead_repo.count


async def _ensure_email_free(
    session: AsyncSession, scope: AccessScope, email: str, own_id: uuid.UUID | None
) -> None:
    """Addresses are unique across the organisation; the answer names the existing lead only
    to a caller who sees it."""
    existing = await lead_repo.by_email(session, AccessScope.as_system("unique lead email"), email)
    if existing is None or existing.id == own_id:
        return
    details = {"field": "email"}
    if scope.has_scope("leads:read") and await lead_repo.get(session, scope, existing.id):
        details["existing_lead_id"] = str(existing.id)
    raise Conflict("A lead with this email already exists", details=details)


def new_lead_row(data: NewLead, lead_id: uuid.UUID | None) -> Lead:
    """The row a new lead is stored as (status new, not assigned yet)."""
    metadata = dict(data.metadata)
    campaign_id = data.campaign_id or metadata.get("campaign_id")
    now = utcnow()
    return Lead(
        id=lead_id or uuid.uuid4(),
        **data.model_dump(exclude={"campaign_id", "attribution", "metadata"}),
        email_normalized=data.email.lower(),
        status=LeadStatus.NEW.value,
        campaign_id=str(campaign_id) if campaign_id is not None else None,
        attribution=data.attribution.model_dump() if data.attribution else None,
        lead_metadata=metadata,
        created_at=now,
        updated_at=now,
    )


async def create_lead(
    session: AsyncSession, scope: AccessScope, data: NewLead, *, lead_id: uuid.UUID | None = None
) -> Lead:
    """CreateLead: stores the lead and assigns it a territory and a rep. ``lead_id`` keeps the
    id another system gave the lead (Marketing's), else the lead gets a new one."""
    scope.require_scope("leads:write")
    await _ensure_email_free(session, scope, data.email, None)
    lead = new_lead_row(data, lead_id)
    try:
        async with session.begin_nested():
            await lead_repo.add(session, lead)
    except IntegrityError as exc:
        # Another request took the address between our check and our insert.
        raise Conflict("A lead with this email already exists", details={"field": "email"}) from exc
    await record_event(
        session, "lead.created", lead.id, payloads.lead(lead), actor_id=scope.actor_id
    )
    await assignment.assign_automatically(session, lead, actor_id=scope.actor_id)
    return lead


def _check_transition(lead: Lead, target: LeadStatus) -> None:
    current = LeadStatus(lead.status)
    allowed = TRANSITIONS[current]
    if target != current and target not in allowed:
        raise ValidationError(
            "Invalid lead status transition",
            details={
                "current_status": current.value,
                "requested_status": target.value,
                "allowed_statuses": sorted(s.value for s in allowed if s != LeadStatus.CONVERTED),
            },
        )


def _may_edit(scope: AccessScope, lead: Lead) -> None:
    # Visible is editable for managers and admins; a rep edits the leads assigned to them.
    if scope.role is Role.SALES_REP and lead.assigned_to_id != scope.actor_id:
        raise Forbidden("A rep may change only the leads assigned to them")


async def _editable(session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID) -> Lead:
    scope.require_scope("leads:write")
    lead = found(await lead_repo.get_for_update(session, scope, lead_id), "Lead", "lead_id")
    _may_edit(scope, lead)
    return lead


async def editable_lead(session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID) -> Lead:
    """The lead, locked, when the caller may change it: NOT_FOUND unless visible, FORBIDDEN for
    a rep on a lead not assigned to them."""
    return await _editable(session, scope, lead_id)


def _touch(lead: Lead) -> None:
    lead.updated_at = utcnow()
    lead.version += 1


async def update_lead(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID, changes: LeadChanges
) -> Lead:
    lead = await _editable(session, scope, lead_id)
    check_version("lead", changes.expected_version, lead.version)
    values = update_values(lead, changes)
    if values.get("email"):
        await _ensure_email_free(session, scope, values["email"], lead.id)
    apply_update(lead, values)
    await save(session, lead)
    return lead


def update_values(lead: Lead, changes: LeadChanges) -> dict[str, Any]:
    """The columns an update sets, once checked (all but the email's uniqueness)."""
    values = changes.model_dump(exclude_unset=True, exclude={"expected_version"})
    if "status" in values:
        target = LeadStatus(values["status"])
        if target not in (LeadStatus.NEW, LeadStatus.WORKING):
            raise invalid(
                "status", "use qualifyLead, disqualifyLead or convertLead for that status"
            )
        _check_transition(lead, target)
        values["status"] = target.value
    if values.get("email"):
        values["email_normalized"] = values["email"].lower()
    if "email" in values and values["email"] is None:
        raise invalid("email", "a lead needs an email")
    return values


def apply_update(lead: Lead, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(lead, name, value)
    _touch(lead)


async def qualify_lead(session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID) -> Lead:
    lead = await _move(session, scope, lead_id, LeadStatus.QUALIFIED, disqualified_reason=None)
    await record_event(
        session, "lead.qualified", lead.id, payloads.lead(lead), actor_id=scope.actor_id
    )
    return lead


async def disqualify_lead(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID, reason: str
) -> Lead:
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise invalid("reason", "a reason of 1 to 2000 characters is required")
    return await _move(session, scope, lead_id, LeadStatus.DISQUALIFIED, disqualified_reason=reason)


async def _move(
    session: AsyncSession,
    scope: AccessScope,
    lead_id: uuid.UUID,
    target: LeadStatus,
    *,
    disqualified_reason: str | None,
) -> Lead:
    """Moves an editable lead to ``target`` when the transition is allowed."""
    lead = await _editable(session, scope, lead_id)
    move(lead, target, disqualified_reason=disqualified_reason)
    await save(session, lead)
    return lead


def move(lead: Lead, target: LeadStatus, *, disqualified_reason: str | None) -> None:
    """The lead moved to ``target`` in memory, when the transition is allowed."""
    _check_transition(lead, target)
    lead.status = target.value
    lead.disqualified_reason = disqualified_reason
    _touch(lead)


async def assign_territory(
    session: AsyncSession, scope: AccessScope, request: TerritoryAssignmentRequest
) -> assignment.Assignment:
    """AssignTerritory: a manager or admin overrides the assignment, with a reason."""
    scope.require_scope("leads:write")
    scope.require_role(Role.SALES_MANAGER, Role.ADMIN)
    lead = found(await lead_repo.get_for_update(session, scope, request.lead_id), "Lead", "lead_id")
    if lead.status == LeadStatus.CONVERTED.value:
        raise Conflict("A converted lead is not reassigned", details={"lead_id": str(lead.id)})
    territory = found(
        await territory_repo.get(session, scope, request.territory_id), "Territory", "territory_id"
    )
    if not territory.is_active:
        raise invalid("territory_id", "the territory is not active")
    if request.assigned_to_id is not None:
        if not await territory_repo.is_member(session, territory.id, request.assigned_to_id):
            raise invalid("assigned_to", "the user is not a member of the territory")
        rep_id: uuid.UUID | None = request.assigned_to_id
    else:
        rep_id = await assignment.next_rep(session, territory.id)
    return await assignment.assign(
        session,
        lead,
        territory=territory,
        rep_id=rep_id,
        actor_id=scope.actor_id,
        method="manual",
        reason=request.reason,
    )
