"""Territories: create and update (name, owner, members, ordered rules, active)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Territory, TerritoryRule
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import Role
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, Forbidden, NotFound
from sales_graph.events import payloads
from sales_graph.events.outbox import record as record_event
from sales_graph.services.validation import Input, check_version, found, invalid
from sales_graph.timeutil import utcnow

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RuleInput(Input):
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)] | None = (
        None
    )
    region: Short | None = None
    industry: Short | None = None
    employee_count_min: Annotated[int, Field(ge=0)] | None = None
    employee_count_max: Annotated[int, Field(ge=0)] | None = None
    annual_revenue_min: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = (
        None
    )
    annual_revenue_max: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = (
        None
    )

    @model_validator(mode="after")
    def _ranges(self) -> RuleInput:
        for low, high in (
            (self.employee_count_min, self.employee_count_max),
            (self.annual_revenue_min, self.annual_revenue_max),
        ):
            if low is not None and high is not None and low > high:
                raise ValueError("a range's minimum is above its maximum")
        return self

    def to_row(self) -> TerritoryRule:
        return TerritoryRule(territory_id=uuid.UUID(int=0), **self.model_dump())


class NewTerritory(Input):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    owner_id: uuid.UUID
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    rules: list[RuleInput] = Field(default_factory=list, max_length=50)
    is_active: bool = True
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100


class TerritoryChanges(Input):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    owner_id: uuid.UUID | None = None
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    rules: list[RuleInput] | None = Field(default=None, max_length=50)
    is_active: bool | None = None
    priority: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    expected_version: Annotated[int, Field(ge=1)] | None = None


async def visible_territory(
    session: AsyncSession, scope: AccessScope, territory_id: uuid.UUID
) -> Territory:
    return found(
        await territory_repo.get(session, scope, territory_id), "Territory", "territory_id"
    )


get_territory = visible_territory
# Territories are the organisation's map: every user reads them all, as the repository does.
list_territories = territory_repo.listing


async def _check_owner(session: AsyncSession, scope: AccessScope, owner_id: uuid.UUID) -> None:
    owner = found(await user_repo.get(session, scope, owner_id), "User", "owner_id")
    if not owner.is_active:
        raise invalid("owner_id", "the user is not active")
    if owner.role not in (Role.SALES_MANAGER.value, Role.ADMIN.value):
        raise invalid("owner_id", "a territory's owner is a sales manager or an admin")


async def _check_members(
    session: AsyncSession, scope: AccessScope, member_ids: list[uuid.UUID]
) -> None:
    if len(set(member_ids)) != len(member_ids):
        raise invalid("member_ids", "a member is listed twice")
    found = {u.id: u for u in await user_repo.by_ids(session, scope, member_ids)}
    missing = [str(m) for m in member_ids if m not in found]
    if missing:
        raise NotFound.of("User", "member_ids")
    inactive = [str(m) for m in member_ids if not found[m].is_active]
    if inactive:
        raise invalid("member_ids", f"not active: {', '.join(inactive)}")


async def _check_name_free(
    session: AsyncSession, scope: AccessScope, name: str, own_id: uuid.UUID | None
) -> None:
    existing = await territory_repo.get_by_name(session, scope, name)
    if existing is not None and existing.id != own_id:
        raise Conflict(
            "A territory with this name already exists",
            details={"field": "name", "existing_territory_id": str(existing.id)},
        )


async def create_territory(
    session: AsyncSession, scope: AccessScope, data: NewTerritory
) -> Territory:
    scope.require_scope("territories:write")
    scope.require_role(Role.ADMIN)
    await _check_name_free(session, scope, data.name, None)
    await _check_owner(session, scope, data.owner_id)
    await _check_members(session, scope, data.member_ids)
    territory = Territory(**data.model_dump(exclude={"member_ids", "rules"}))
    await _save_name(session, territory)
    await territory_repo.replace_members(session, territory.id, data.member_ids)
    await territory_repo.replace_rules(session, territory.id, [r.to_row() for r in data.rules])
    await _record(session, "territory.created", territory, scope)
    return territory


async def _save_name(session: AsyncSession, territory: Territory) -> None:
    """Flushes the territory in a savepoint: a name taken by a concurrent request between our
    check and this write is the same CONFLICT as one taken before."""
    try:
        async with session.begin_nested():
            await save(session, territory)
    except IntegrityError as exc:
        raise Conflict(
            "A territory with this name already exists", details={"field": "name"}
        ) from exc


async def _record(
    session: AsyncSession, name: str, territory: Territory, scope: AccessScope
) -> None:
    # The event carries the whole territory, whatever the caller may read of it.
    system = AccessScope.as_system("territory events")
    members = await territory_repo.members_of(session, system, [territory.id])
    rules = await territory_repo.rules_of(session, system, [territory.id])
    await record_event(
        session,
        name,
        territory.id,
        payloads.territory(territory, [user.id for _, user in members], rules),
        actor_id=scope.actor_id,
    )


def _routing_changes(territory: Territory, changes: TerritoryChanges) -> bool:
    sent = changes.model_fields_set
    return changes.rules is not None or any(
        name in sent and getattr(changes, name) != getattr(territory, name)
        for name in ("priority", "is_active")
    )


async def update_territory(
    session: AsyncSession, scope: AccessScope, territory_id: uuid.UUID, changes: TerritoryChanges
) -> Territory:
    scope.require_scope("territories:write")
    scope.require_role(Role.ADMIN, Role.SALES_MANAGER)
    territory = await visible_territory(session, scope, territory_id)
    if scope.role is Role.SALES_MANAGER and territory.owner_id != scope.actor_id:
        raise Forbidden("A manager may change only the territories they own")
    if _routing_changes(territory, changes):
        # Rules, priority and being active decide where every new lead of the organisation
        # goes, into whose territory: the routing is the admins' to change.
        scope.require_role(Role.ADMIN)
    if changes.owner_id is not None and changes.owner_id != territory.owner_id:
        # The owner decides who sees the territory's records: only an admin moves it.
        scope.require_role(Role.ADMIN)
        await _check_owner(session, scope, changes.owner_id)
        territory.owner_id = changes.owner_id
    check_version("territory", changes.expected_version, territory.version)
    if changes.name is not None:
        await _check_name_free(session, scope, changes.name, territory.id)
        territory.name = changes.name
        await _save_name(session, territory)
    for field in ("description", "is_active", "priority"):
        if field in changes.model_fields_set:
            value = getattr(changes, field)
            if value is None and field != "description":
                raise invalid(field, "may not be null")
            setattr(territory, field, value)
    if changes.member_ids is not None:
        await _check_members(session, scope, changes.member_ids)
        await territory_repo.replace_members(session, territory.id, changes.member_ids)
    if changes.rules is not None:
        await territory_repo.replace_rules(
            session, territory.id, [r.to_row() for r in changes.rules]
        )
    territory.updated_at = utcnow()
    territory.version += 1
    await save(session, territory)
    await _record(session, "territory.updated", territory, scope)
    return territory
