"""GraphQL types of territories, their rules, and lead assignments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from sales_graph.db.models import LeadAssignment as AssignmentRow
from sales_graph.db.models import Territory as TerritoryRow
from sales_graph.db.models import TerritoryRule as RuleRow
from sales_graph.schema.context import Info
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.relations import ToOne
from sales_graph.schema.users import User, user_by

if TYPE_CHECKING:
    from sales_graph.schema.leads import Lead


@strawberry.type(description="One assignment rule; every condition it sets must hold.")
class TerritoryRule:
    position: int
    country: str | None
    region: str | None
    industry: str | None
    employee_count_min: int | None
    employee_count_max: int | None
    annual_revenue_min: float | None
    annual_revenue_max: float | None

    from_row = from_attributes(RuleRow)


_TERRITORY_OWNER = user_by(lambda source: source.owner_id)


@strawberry.type(description="A sales territory: an owner, members, and ordered rules.")
class Territory:
    id: strawberry.ID
    name: str
    description: str | None
    is_active: bool
    priority: int
    version: int
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[uuid.UUID | None]

    from_row = from_attributes(TerritoryRow)

    @strawberry.field(
        description="The manager who owns the territory.", metadata=_TERRITORY_OWNER.metadata
    )
    def owner(self, info: Info) -> User | None:
        return _TERRITORY_OWNER.resolve(self, info)

    @strawberry.field(
        description="The reps leads are assigned to, in round-robin order; null with an error "
        "when the caller may not read users."
    )
    async def members(self, info: Info) -> list[User] | None:
        rows = await info.context.loaders.territory_members.load(uuid.UUID(self.id))
        return [User.from_row(row) for row in rows]

    @strawberry.field(description="Assignment rules, in the order they are tried.")
    async def rules(self, info: Info) -> list[TerritoryRule] | None:
        rows = await info.context.loaders.territory_rules.load(uuid.UUID(self.id))
        return [TerritoryRule.from_row(row) for row in rows]


def territory_by(key: Callable[[Any], uuid.UUID | None]) -> ToOne[Any, TerritoryRow, Territory]:
    """The territory a record names by ``key`` (schema/relations.py)."""
    return ToOne(key, lambda loaders: loaders.territory, lambda row: Territory.from_row(row))


_TERRITORY_ASSIGNMENT_TERRITORY = territory_by(lambda source: source.row.territory_id)
_TERRITORY_ASSIGNMENT_ASSIGNED_TO = user_by(lambda source: source.row.assigned_to_id)
_TERRITORY_ASSIGNMENT_ASSIGNED_BY = user_by(lambda source: source.row.actor_id)


@strawberry.type(description="One assignment of a lead: to which territory and rep, by whom, why.")
class TerritoryAssignment:
    assigned_at: datetime
    reason: str | None
    method: str
    row: strawberry.Private[AssignmentRow]

    from_row = from_attributes(AssignmentRow)

    @strawberry.field
    async def lead(
        self, info: Info
    ) -> Annotated[Lead, strawberry.lazy("sales_graph.schema.leads")] | None:
        from sales_graph.schema.leads import load_lead

        return await load_lead(info, self.row.lead_id)

    @strawberry.field(metadata=_TERRITORY_ASSIGNMENT_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _TERRITORY_ASSIGNMENT_TERRITORY.resolve(self, info)

    @strawberry.field(
        description="The rep the lead went to; null when no member had capacity.",
        metadata=_TERRITORY_ASSIGNMENT_ASSIGNED_TO.metadata,
    )
    def assigned_to(self, info: Info) -> User | None:
        return _TERRITORY_ASSIGNMENT_ASSIGNED_TO.resolve(self, info)

    @strawberry.field(
        description="Who made the assignment; null for automatic ones by a system.",
        metadata=_TERRITORY_ASSIGNMENT_ASSIGNED_BY.metadata,
    )
    def assigned_by(self, info: Info) -> User | None:
        return _TERRITORY_ASSIGNMENT_ASSIGNED_BY.resolve(self, info)


@strawberry.input(description="One assignment rule; leave a condition out to not test it.")
class TerritoryRuleInput:
    country: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    employee_count_min: int | None = strawberry.UNSET
    employee_count_max: int | None = strawberry.UNSET
    annual_revenue_min: float | None = strawberry.UNSET
    annual_revenue_max: float | None = strawberry.UNSET


@strawberry.input
class CreateTerritoryInput:
    name: str
    owner_id: strawberry.ID
    description: str | None = strawberry.UNSET
    member_ids: list[strawberry.ID] | None = strawberry.UNSET
    rules: list[TerritoryRuleInput] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET


@strawberry.input(description="Only the fields sent change; members and rules are replaced whole.")
class UpdateTerritoryInput:
    name: str | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    member_ids: list[strawberry.ID] | None = strawberry.UNSET
    rules: list[TerritoryRuleInput] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET
    expected_version: int | None = strawberry.UNSET
