"""What a subscriber sees of a committed event (GraphQL subscriptions, docs/real-time.md).

Each event is read again when it is delivered, under the subscriber's scope as it is then,
through the same repositories as a query: a record the subscriber does not see (any more) is
not delivered, and filters apply to the record as it is now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, Opportunity
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Forbidden, NotFound
from sales_graph.events.fanout import LiveEvent


class OpportunityChangeKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    STAGE_CHANGED = "STAGE_CHANGED"
    WON = "WON"
    LOST = "LOST"


class LeadChangeKind(Enum):
    CREATED = "CREATED"
    ASSIGNED = "ASSIGNED"
    QUALIFIED = "QUALIFIED"
    CONVERTED = "CONVERTED"


class Assignee(Enum):
    ME = "ME"
    MY_TEAM = "MY_TEAM"


OPPORTUNITY_CHANGES = {
    "opportunity.created": OpportunityChangeKind.CREATED,
    "opportunity.updated": OpportunityChangeKind.UPDATED,
    "opportunity.stage_changed": OpportunityChangeKind.STAGE_CHANGED,
    "opportunity.won": OpportunityChangeKind.WON,
    "opportunity.lost": OpportunityChangeKind.LOST,
}
LEAD_CHANGES = {
    "lead.created": LeadChangeKind.CREATED,
    "lead.assigned": LeadChangeKind.ASSIGNED,
    "lead.qualified": LeadChangeKind.QUALIFIED,
    "lead.converted": LeadChangeKind.CONVERTED,
}


@dataclass(frozen=True, slots=True)
class OpportunityWatch:
    owner_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    stage: str | None = None


@dataclass(frozen=True, slots=True)
class LeadWatch:
    assigned_to_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    status: str | None = None
    assignee: Assignee | None = None


def check_opportunity_watch(scope: AccessScope) -> None:
    scope.require_scope("opportunities:read")


def check_lead_watch(scope: AccessScope) -> None:
    scope.require_scope("leads:read")


def check_forecast_watch(scope: AccessScope, territory_id: uuid.UUID | None) -> None:
    """As ``forecasts(territoryId:)``: NOT_FOUND for a territory whose forecasts the caller
    does not read."""
    scope.require_scope("forecasts:read")
    readable = scope.unrestricted or territory_id in scope.forecast_territory_ids
    if territory_id is not None and not readable:
        raise NotFound.of("Territory", "territoryId")


def _event_id(event: LiveEvent, field: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.payload.get(field)))
    except ValueError:
        return None


async def changed_opportunity(
    session: AsyncSession, scope: AccessScope, event: LiveEvent, watch: OpportunityWatch
) -> tuple[OpportunityChangeKind, Opportunity] | None:
    """The opportunity an event is about, as the subscriber sees it now; None when it is not
    an opportunity change, not visible, or outside the watch's filters."""
    kind = OPPORTUNITY_CHANGES.get(event.event_type)
    opportunity_id = _event_id(event, "opportunity_id")
    if kind is None or opportunity_id is None:
        return None
    try:
        row = await opportunity_repo.get(session, scope, opportunity_id)
    except Forbidden:
        return None
    if row is None:
        return None
    if watch.owner_id is not None and row.owner_id != watch.owner_id:
        return None
    if watch.territory_id is not None and row.territory_id != watch.territory_id:
        return None
    if watch.stage is not None and row.stage != watch.stage:
        return None
    return kind, row


async def changed_lead(
    session: AsyncSession, scope: AccessScope, event: LiveEvent, watch: LeadWatch
) -> tuple[LeadChangeKind, Lead] | None:
    """The lead an event is about, as the subscriber sees it now; None when it is not a lead
    change, not visible, or outside the watch's filters."""
    kind = LEAD_CHANGES.get(event.event_type)
    lead_id = _event_id(event, "lead_id")
    if kind is None or lead_id is None:
        return None
    try:
        row = await lead_repo.get(session, scope, lead_id)
    except Forbidden:
        return None
    if row is None:
        return None
    if watch.assigned_to_id is not None and row.assigned_to_id != watch.assigned_to_id:
        return None
    if watch.territory_id is not None and row.territory_id != watch.territory_id:
        return None
    if watch.status is not None and row.status != watch.status:
        return None
    if watch.assignee is not None and not await _assigned_to_caller(session, scope, row, watch):
        return None
    return kind, row


async def _assigned_to_caller(
    session: AsyncSession, scope: AccessScope, row: Lead, watch: LeadWatch
) -> bool:
    """ME: assigned to the subscriber; MY_TEAM: to them or anyone reporting to them."""
    user_id = scope.actor_id
    if user_id is None or row.assigned_to_id is None:
        return False
    if watch.assignee is Assignee.ME:
        return row.assigned_to_id == user_id
    return row.assigned_to_id in await user_repo.team_of(session, user_id)


def touches_owner(event: LiveEvent, owner_id: uuid.UUID) -> bool:
    """Whether an opportunity event may change ``owner_id``'s pipeline: the deal is theirs, or
    was theirs before a reassignment."""
    if event.event_type not in OPPORTUNITY_CHANGES:
        return False
    owners = {str(event.payload.get("owner_id"))}
    changes = event.payload.get("changes")
    if isinstance(changes, dict) and isinstance(changes.get("owner_id"), dict):
        owners.add(str(changes["owner_id"].get("from")))
    return str(owner_id) in owners


async def pipeline_change_visible(
    session: AsyncSession, scope: AccessScope, event: LiveEvent, owner_id: uuid.UUID
) -> bool:
    """Whether a subscriber to ``owner_id``'s pipeline may learn of this change: the deal is
    visible to them now, or the pipeline is their own (a deal reassigned away from them)."""
    if scope.actor_id == owner_id:
        return True
    opportunity_id = _event_id(event, "opportunity_id")
    if opportunity_id is None:
        return False
    try:
        return await opportunity_repo.get(session, scope, opportunity_id) is not None
    except Forbidden:
        return False


def touches_forecast(event: LiveEvent, period: str, territory_id: uuid.UUID | None) -> bool:
    """Whether a ``forecast.updated`` event is of ``period`` (and ``territory_id`` if given)."""
    if event.event_type != "forecast.updated" or event.payload.get("period") != period:
        return False
    return territory_id is None or event.payload.get("territory_id") == str(territory_id)


def reads_forecast_of(scope: AccessScope, event: LiveEvent) -> bool:
    """Whether the subscriber reads the forecasts of the event's territory."""
    if scope.unrestricted:
        return True
    territory = _event_id(event, "territory_id")
    return territory is not None and territory in scope.forecast_territory_ids
