"""GraphQL types and inputs of leads."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from sales_graph.db.models import Lead as LeadRow
from sales_graph.domain import LeadStatus as LeadStatusValue
from sales_graph.schema.common import Connection, load_one, total_count_of
from sales_graph.schema.context import Info, visible_id
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.territories import Territory, TerritoryAssignment, territory_by
from sales_graph.schema.upstream import Campaign, MarketingScore
from sales_graph.schema.users import User, user_by

# Registers the domain enum as the GraphQL enum LeadStatus; annotations use the domain class.
LeadStatus = strawberry.enum(LeadStatusValue, name="LeadStatus")


@strawberry.enum(description="Sort orders of lead lists.")
class LeadOrder(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"
    SCORE_DESC = "SCORE_DESC"


@strawberry.type(description="Marketing attribution of a lead.")
class Attribution:
    first_touch: str | None
    last_touch: str | None
    touches: list[str]


def _attribution(stored: dict[str, Any] | None) -> Attribution | None:
    if not stored:
        return None
    return Attribution(
        first_touch=stored.get("first_touch"),
        last_touch=stored.get("last_touch"),
        touches=list(stored.get("touches") or []),
    )


_LEAD_ASSIGNED_TO = user_by(lambda source: source.row.assigned_to_id)
_LEAD_TERRITORY = territory_by(lambda source: source.row.territory_id)


@strawberry.type(description="A prospective customer, before conversion.")
class Lead:
    id: strawberry.ID
    status: LeadStatusValue
    first_name: str | None
    last_name: str | None
    email: str
    phone: str | None
    company: str | None
    title: str | None
    industry: str | None
    employee_count: int | None
    annual_revenue: float | None
    country: str | None
    region: str | None
    source: str | None
    score: int | None
    campaign_id: str | None
    attribution: Attribution | None
    metadata: JSON | None
    assigned_at: datetime | None
    disqualified_reason: str | None
    converted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[LeadRow]

    from_row = from_attributes(
        LeadRow,
        attribution=lambda row: _attribution(row.attribution),
        metadata=lambda row: row.lead_metadata,
    )

    @strawberry.field(
        description="The rep the lead is assigned to.", metadata=_LEAD_ASSIGNED_TO.metadata
    )
    def assigned_to(self, info: Info) -> User | None:
        return _LEAD_ASSIGNED_TO.resolve(self, info)

    @strawberry.field(
        description="The territory the lead belongs to.", metadata=_LEAD_TERRITORY.metadata
    )
    def territory(self, info: Info) -> Territory | None:
        return _LEAD_TERRITORY.resolve(self, info)

    @strawberry.field(description="Every assignment of this lead, oldest first.")
    async def assignments(self, info: Info) -> list[TerritoryAssignment] | None:
        rows = await info.context.loaders.assignments_by_lead.load(self.row.id)
        return [TerritoryAssignment.from_row(row) for row in rows]

    @strawberry.field(description="The opportunity this lead was converted to, when visible.")
    async def opportunity_id(self, info: Info) -> strawberry.ID | None:
        return await visible_id(info, self.row.opportunity_id, kind="opportunity")

    @strawberry.field(description="Marketing: the lead's campaign (by campaignId).")
    async def campaign(self, info: Info) -> Campaign | None:
        upstream = info.context.loaders.upstream
        return await load_one(upstream.campaign, self.row.campaign_id, Campaign.from_model)

    @strawberry.field(description="Marketing: its current score of the lead.")
    async def marketing_score(self, info: Info) -> MarketingScore | None:
        upstream = info.context.loaders.upstream
        return await load_one(upstream.lead_score, str(self.row.id), MarketingScore.from_model)


async def load_lead(info: Info, lead_id: uuid.UUID | None) -> Lead | None:
    return await load_one(info.context.loaders.lead, lead_id, Lead.from_row)


@strawberry.type(description="A page of leads: offset paging (limit, offset, hasMore) or cursors.")
class LeadConnection(Connection[Lead]):
    total_count: int = total_count_of("leads")


@strawberry.input(description="Marketing attribution.")
class AttributionInput:
    first_touch: str | None = strawberry.UNSET
    last_touch: str | None = strawberry.UNSET
    touches: list[str] | None = strawberry.UNSET


@strawberry.input(description="The spec's Create Lead request.")
class CreateLeadInput:
    email: str
    source: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    employee_count: int | None = strawberry.UNSET
    annual_revenue: float | None = strawberry.UNSET
    score: int | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    campaign_id: str | None = strawberry.UNSET
    attribution: AttributionInput | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input(
    description="Profile changes; the assignee and territory change by assignTerritory."
)
class UpdateLeadInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    employee_count: int | None = strawberry.UNSET
    annual_revenue: float | None = strawberry.UNSET
    score: int | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    status: LeadStatusValue | None = strawberry.UNSET
    expected_version: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The version the change is based on; a stale one is a CONFLICT.",
    )


@strawberry.input(description="Assign a lead to a territory (and rep) by hand, with a reason.")
class AssignTerritoryInput:
    lead_id: strawberry.ID
    territory_id: strawberry.ID
    reason: str
    assigned_to: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="A member of the territory; by default the next in round robin.",
    )
