"""Quotas per user or territory and period; attainment = closed-won amount / quota."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Quota
from sales_graph.db.repositories import forecasts as quota_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import Role
from sales_graph.domain.periods import Period, parse_period
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, Forbidden
from sales_graph.events import payloads
from sales_graph.events.models import EventPayload
from sales_graph.events.outbox import record as record_event
from sales_graph.services.validation import Input, check_version, found
from sales_graph.timeutil import utcnow

Amount = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]


class NewQuota(Input):
    period: str
    user_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    amount: Amount

    @model_validator(mode="after")
    def _one_target(self) -> NewQuota:
        if (self.user_id is None) == (self.territory_id is None):
            raise ValueError("a quota is for a user or for a territory (one of them)")
        return self


class QuotaChanges(Input):
    amount: Amount
    expected_version: Annotated[int, Field(ge=1)] | None = None


@dataclass(frozen=True, slots=True)
class Attainment:
    quota: Quota
    won_amount: Decimal
    ratio: Decimal  # 1.00 = 100 %


async def attainment(
    session: AsyncSession, scope: AccessScope, quota: Quota, period: Period
) -> Attainment:
    """The quota's closed-won amount over the opportunities the scope sees."""
    won = await opportunity_repo.won_amount(
        session,
        scope,
        start=period.start,
        end=period.end,
        owner_id=quota.user_id,
        territory_id=quota.territory_id,
    )
    ratio = (won / quota.amount).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return Attainment(quota, won, ratio)


async def _may_set(session: AsyncSession, scope: AccessScope, data: NewQuota) -> None:
    scope.require_scope("quotas:write")
    if not scope.is_partner:
        scope.require_role(Role.SALES_MANAGER, Role.ADMIN)
    if data.user_id is not None:
        user = found(await user_repo.get(session, scope, data.user_id), "User", "user_id")
        if data.user_id == scope.actor_id:
            raise Forbidden("Nobody sets their own quota", details={"user_id": str(user.id)})
        if not scope.unrestricted and data.user_id not in scope.owner_ids:
            raise Forbidden("A manager sets quotas for their team")
    if data.territory_id is not None:
        territory = found(
            await territory_repo.get(session, scope, data.territory_id), "Territory", "territory_id"
        )
        if scope.actor_id is not None and territory.owner_id == scope.actor_id:
            raise Forbidden(
                "Nobody sets the quota of a territory they own",
                details={"territory_id": str(territory.id)},
            )
        if not scope.unrestricted and data.territory_id not in scope.territory_ids:
            raise Forbidden("A manager sets quotas for the territories they own")


async def set_quota(
    session: AsyncSession, scope: AccessScope, data: NewQuota, period: Period
) -> Quota:
    await _may_set(session, scope, data)
    existing = await quota_repo.quota_for(
        session,
        AccessScope.as_system("one quota per target"),
        period.name,
        data.user_id,
        data.territory_id,
    )
    if existing is not None:
        shown = await quota_repo.quota_visible(session, scope, existing.id)
        raise Conflict(
            "A quota for this period and target exists; update it instead",
            details={"existing_quota_id": str(shown.id)} if shown else {},
        )
    quota = Quota(
        **data.model_dump(exclude={"period"}), period=period.name, set_by_id=scope.actor_id
    )
    try:
        async with session.begin_nested():
            await quota_repo.add_quota(session, quota)
    except IntegrityError as exc:
        # Another request set it between our check and our insert.
        raise Conflict("A quota for this period and target exists; update it instead") from exc
    await record_event(
        session, "quota.set", quota.id, payloads.quota(quota), actor_id=scope.actor_id
    )
    await check_attained(session, [quota], period, actor_id=scope.actor_id)
    return quota


async def _save(
    session: AsyncSession,
    quota: Quota,
    event: str,
    payload: EventPayload,
    actor_id: uuid.UUID | None,
) -> None:
    """Writes the changed quota and the event saying so, in the same unit of work."""
    await save(session, quota)
    await record_event(session, event, quota.id, payload, actor_id=actor_id)


async def check_attained(
    session: AsyncSession, quotas: list[Quota], period: Period, *, actor_id: uuid.UUID | None
) -> None:
    """Marks each quota of ``period`` whose closed-won amount reached it, once: quota.attained.
    Attainment is a fact of the organisation, not of the caller: counted as the system."""
    system = AccessScope.as_system("quota attainment")
    for quota in quotas:
        if quota.attained_at is not None or quota.period != period.name:
            continue
        result = await attainment(session, system, quota, period)
        if result.won_amount >= quota.amount:
            quota.attained_at = utcnow()
            payload = payloads.quota_attained(quota, attained_amount=result.won_amount)
            await _save(session, quota, "quota.attained", payload, actor_id)


async def check_attained_on(
    session: AsyncSession,
    day: date,
    *,
    user_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    fiscal_year_start_month: int,
) -> None:
    """After a win closing on ``day``: the owner's and the territory's quotas of every period
    containing that day."""
    system = AccessScope.as_system("quota attainment")
    for quota in await quota_repo.unattained_for(session, system, user_id, territory_id):
        period = parse_period(quota.period, fiscal_year_start_month)
        if period.contains(day):
            await check_attained(session, [quota], period, actor_id=actor_id)


async def update_quota(
    session: AsyncSession,
    scope: AccessScope,
    quota_id: uuid.UUID,
    changes: QuotaChanges,
    *,
    fiscal_year_start_month: int = 1,
) -> Quota:
    scope.require_scope("quotas:write")
    if not scope.is_partner:
        scope.require_role(Role.SALES_MANAGER, Role.ADMIN)
    quota = found(
        await quota_repo.quota_visible(session, scope, quota_id, for_update=True),
        "Quota",
        "quota_id",
    )
    target = NewQuota(
        period=quota.period,
        user_id=quota.user_id,
        territory_id=quota.territory_id,
        amount=changes.amount,
    )
    await _may_set(session, scope, target)
    check_version("quota", changes.expected_version, quota.version)
    previous = quota.amount
    quota.amount = changes.amount
    quota.version += 1
    quota.updated_at = utcnow()
    payload = payloads.quota(quota, previous_amount=previous)
    await _save(session, quota, "quota.updated", payload, scope.actor_id)
    period = parse_period(quota.period, fiscal_year_start_month)
    await check_attained(session, [quota], period, actor_id=scope.actor_id)
    return quota


# Quotas are read as the repository reads them: the scope's visibility is the only rule.
list_quotas = quota_repo.quotas
