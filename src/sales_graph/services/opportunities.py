"""Opportunities: create, change stage, update, reassign — one function per command.

The stage table (probabilities, categories, transitions) is ``services.stages``; every change
of stage, amount, probability, close date or owner leaves a history row; a write based on a
stale ``version`` is a CONFLICT.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Opportunity, OpportunityHistory, OpportunityProduct
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import (
    BillingFrequency,
    OnboardingPriority,
    OpportunityStage,
    PaymentTerms,
    Role,
)
from sales_graph.domain.scope import AccessScope
from sales_graph.domain.signals import signals_of
from sales_graph.errors import Conflict, Forbidden, NotFound, ValidationError
from sales_graph.events import payloads
from sales_graph.events.models import OpportunityPayload, TrackedChanges
from sales_graph.events.outbox import record as record_event
from sales_graph.jsonlimits import JSONObject
from sales_graph.services import closing
from sales_graph.services.scoring import Model
from sales_graph.services.stages import STAGES, OpenStage
from sales_graph.services.validation import Input, check_version, found, invalid
from sales_graph.timeutil import utcnow

Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
Text = Annotated[str, StringConstraints(max_length=2000)]


class ProductLine(Input):
    product_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    product_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    quantity: Annotated[int, Field(ge=1, le=10_000_000)]
    unit_price: Money
    discount: Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)] = Decimal(0)
    configuration: JSONObject = Field(default_factory=dict)

    def to_row(self) -> OpportunityProduct:
        return OpportunityProduct(opportunity_id=uuid.UUID(int=0), **self.model_dump())


class NewOpportunity(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    account_id: uuid.UUID
    lead_id: uuid.UUID | None = None
    stage: OpenStage = OpportunityStage.DISCOVERY
    amount: Money | None = None
    expected_close_date: date | None = None
    probability: Annotated[int, Field(ge=0, le=100)] | None = None
    owner_id: uuid.UUID | None = None
    products: list[ProductLine] = Field(default_factory=list, max_length=100)
    metadata: JSONObject = Field(default_factory=dict)
    next_step: Text | None = None
    notes: Annotated[str, StringConstraints(max_length=10000)] | None = None


class StageChange(Input):
    stage: OpportunityStage
    probability: Annotated[int, Field(ge=0, le=100)] | None = None
    next_step: Text | None = None
    notes: Annotated[str, StringConstraints(max_length=10000)] | None = None
    expected_version: Annotated[int, Field(ge=1)] | None = None
    contract_term: Annotated[int, Field(ge=1, le=120)] | None = None
    start_date: date | None = None
    payment_terms: PaymentTerms | None = None
    billing_frequency: BillingFrequency | None = None
    loss_reason: Text | None = None
    # For Operations' onboarding.trigger when the deal is won.
    special_requirements: Text | None = None
    onboarding_priority: OnboardingPriority | None = None


class OpportunityChanges(Input):
    """What ``updateOpportunity`` may change: not the owner or territory."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    amount: Money | None = None
    expected_close_date: date | None = None
    products: list[ProductLine] | None = Field(default=None, max_length=100)
    next_step: Text | None = None
    notes: Annotated[str, StringConstraints(max_length=10000)] | None = None
    expected_version: Annotated[int, Field(ge=1)] | None = None


async def visible_opportunity(
    session: AsyncSession,
    scope: AccessScope,
    opportunity_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Opportunity:
    return found(
        await opportunity_repo.get(session, scope, opportunity_id, for_update=for_update),
        "Opportunity",
        "opportunity_id",
    )


get_opportunity = visible_opportunity
# Lists and counts are read as the repository reads them: the scope's visibility is the only rule.
list_opportunities = opportunity_repo.page
count_opportunities = opportunity_repo.count


async def rescore(session: AsyncSession, opportunity: Opportunity, model: Model) -> None:
    """Deal score from locally stored signals only: it never waits on an upstream system. The
    signals are read as the system: only the score, never the records, reaches the caller."""
    system = AccessScope.as_system("deal score signals")
    account = await account_repo.get(session, system, opportunity.account_id)
    lead = (
        await lead_repo.get(session, system, opportunity.lead_id) if opportunity.lead_id else None
    )
    signals = signals_of(opportunity, account, lead)
    score, factors = model.score(signals, utcnow())
    opportunity.deal_score = score
    opportunity.deal_score_factors = [
        {
            "feature": f.feature,
            "direction": f.direction,
            "weight": f.weight,
            "explanation": f.explanation,
        }
        for f in factors
    ]
    opportunity.deal_score_model_version = model.version


async def check_owner(session: AsyncSession, scope: AccessScope, owner_id: uuid.UUID) -> None:
    """Who may own what the caller creates or hands over: a rep themselves, a manager their
    team, an admin anyone active."""
    owner = found(await user_repo.get(session, scope, owner_id), "User", "owner_id")
    if not owner.is_active:
        raise invalid("owner_id", "the user is not active")
    if scope.unrestricted:
        return
    if owner_id not in scope.owner_ids:
        raise Forbidden(
            "The owner is outside the caller's team", details={"owner_id": str(owner_id)}
        )


def _history(
    opportunity: Opportunity,
    field: str,
    old: object,
    new: object,
    actor: uuid.UUID | None,
    note: str | None,
) -> OpportunityHistory:
    return OpportunityHistory(
        opportunity_id=opportunity.id,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        actor_id=actor,
        note=note,
    )


# The fields of a NewOpportunity that create_opportunity decides on; every other one is stored
# as sent.
_DECIDED_ON_CREATE = frozenset(
    {"account_id", "stage", "probability", "owner_id", "products", "metadata"}
)
# The fields of OpportunityChanges that update_opportunity decides on; every other one sent is
# stored as sent.
_DECIDED_ON_UPDATE = frozenset(
    {"name", "amount", "expected_close_date", "products", "expected_version"}
)


async def create_opportunity(
    session: AsyncSession, scope: AccessScope, data: NewOpportunity, model: Model
) -> Opportunity:
    scope.require_scope("opportunities:write")
    account = found(
        await account_repo.get(session, scope, data.account_id), "Account", "account_id"
    )
    check_opening_stage(data.stage)
    owner_id = data.owner_id or scope.actor_id
    if owner_id is None:
        raise invalid("owner_id", "a partner names the owner")
    await check_owner(session, scope, owner_id)
    if data.lead_id is not None and await lead_repo.get(session, scope, data.lead_id) is None:
        raise NotFound.of("Lead", "lead_id")
    opportunity = await opened(
        session,
        model,
        data.stage,
        data.probability,
        utcnow(),
        account_id=account.id,
        owner_id=owner_id,
        territory_id=account.territory_id,
        opportunity_metadata=dict(data.metadata),
        # The rest is stored as sent (name, lead, amount, close date, next step, notes, ...).
        **data.model_dump(exclude=set(_DECIDED_ON_CREATE)),
    )
    await opportunity_repo.replace_products(
        session, opportunity.id, [p.to_row() for p in data.products]
    )
    await record_event(
        session,
        "opportunity.created",
        opportunity.id,
        payloads.opportunity(opportunity),
        actor_id=scope.actor_id,
    )
    return opportunity


def check_opening_stage(stage: OpportunityStage) -> None:
    if STAGES[stage].is_closed:
        raise invalid("stage", "a new opportunity starts in an open stage")


async def opened(
    session: AsyncSession,
    model: Model,
    stage: OpportunityStage,
    probability: int | None,
    now: datetime,
    **fields: Any,
) -> Opportunity:
    """A new opportunity, scored and flushed: its forecast category, and its probability unless
    given, are the stage's."""
    rule = STAGES[stage]
    opportunity = Opportunity(
        stage=stage.value,
        probability=probability if probability is not None else rule.default_probability,
        forecast_category=rule.forecast_category.value,
        stage_changed_at=now,
        created_at=now,
        updated_at=now,
        **fields,
    )
    await rescore(session, opportunity, model)
    await save(session, opportunity)
    return opportunity


def _may_edit(scope: AccessScope, opportunity: Opportunity) -> None:
    if scope.role is Role.SALES_REP and opportunity.owner_id != scope.actor_id:
        raise Forbidden("A rep may change only the opportunities they own")


def _check_open(opportunity: Opportunity) -> None:
    """A closed deal is final: its owner, amount and dates are what quotas and commissions
    were counted on."""
    if STAGES[OpportunityStage(opportunity.stage)].is_closed:
        raise Conflict("A closed opportunity is final", details={"stage": opportunity.stage})


def _first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


async def update_stage(
    session: AsyncSession,
    scope: AccessScope,
    opportunity_id: uuid.UUID,
    change: StageChange,
    model: Model,
    *,
    fiscal_year_start_month: int = 1,
) -> Opportunity:
    """UpdateOpportunityStage; a close also emits won/lost, and a win the Billing and
    Operations events and any quota it makes attained."""
    scope.require_scope("opportunities:write")
    opportunity = await visible_opportunity(session, scope, opportunity_id, for_update=True)
    _may_edit(scope, opportunity)
    check_version("opportunity", change.expected_version, opportunity.version)
    current = OpportunityStage(opportunity.stage)
    target = change.stage
    rule = STAGES[current]
    if target not in rule.allowed_next and not (target == current and not rule.is_closed):
        raise ValidationError(
            "Invalid opportunity stage transition",
            details={
                "current_stage": current.value,
                "requested_stage": target.value,
                "allowed_stages": [s.value for s in rule.allowed_next],
            },
        )
    target_rule = STAGES[target]
    probability = (
        change.probability if change.probability is not None else target_rule.default_probability
    )
    if target_rule.is_closed and probability != target_rule.default_probability:
        raise invalid(
            "probability",
            f"a {target.value} opportunity has probability {target_rule.default_probability}",
        )
    now = utcnow()
    if target is OpportunityStage.CLOSED_WON:
        if not await opportunity_repo.has_products(session, opportunity.id):
            raise invalid("products", "closing won needs at least one product line")
        opportunity.contract_term = change.contract_term or opportunity.contract_term or 12
        opportunity.start_date = (
            change.start_date or opportunity.start_date or _first_of_next_month(now.date())
        )
        opportunity.payment_terms = change.payment_terms or opportunity.payment_terms or "net_30"
        opportunity.billing_frequency = (
            change.billing_frequency or opportunity.billing_frequency or "monthly"
        )
    if target is OpportunityStage.CLOSED_LOST:
        if not change.loss_reason:
            raise invalid("loss_reason", "closing lost needs a loss reason")
        opportunity.loss_reason = change.loss_reason
    actor, note = scope.actor_id, change.notes
    previous_probability = opportunity.probability
    if target != current:
        session.add(_history(opportunity, "stage", current.value, target.value, actor, note))
        opportunity.stage = target.value
        opportunity.stage_changed_at = now
        opportunity.forecast_category = target_rule.forecast_category.value
    if probability != opportunity.probability:
        session.add(
            _history(opportunity, "probability", opportunity.probability, probability, actor, note)
        )
        opportunity.probability = probability
    if target_rule.is_closed:
        opportunity.closed_at = now
        if opportunity.expected_close_date is None:
            opportunity.expected_close_date = now.date()
    if change.next_step is not None:
        opportunity.next_step = change.next_step
    if change.notes is not None:
        opportunity.notes = change.notes
    if change.special_requirements is not None:
        opportunity.special_requirements = change.special_requirements
    if change.onboarding_priority is not None:
        opportunity.priority = change.onboarding_priority
    await _save(session, opportunity, model)
    if target != current or probability != previous_probability:
        await record_event(
            session,
            "opportunity.stage_changed",
            opportunity.id,
            payloads.stage_changed(
                opportunity,
                previous_stage=current.value,
                previous_probability=previous_probability,
                notes=note,
            ),
            actor_id=actor,
        )
    if target != current and target_rule.is_closed:
        await closing.record_close(
            session, opportunity, actor_id=actor, fiscal_year_start_month=fiscal_year_start_month
        )
    return opportunity


async def _save(session: AsyncSession, opportunity: Opportunity, model: Model) -> None:
    await rescore(session, opportunity, model)
    opportunity.version += 1
    opportunity.updated_at = utcnow()
    await save(session, opportunity)


async def update_opportunity(
    session: AsyncSession,
    scope: AccessScope,
    opportunity_id: uuid.UUID,
    changes: OpportunityChanges,
    model: Model,
) -> Opportunity:
    scope.require_scope("opportunities:write")
    opportunity = await visible_opportunity(session, scope, opportunity_id, for_update=True)
    _may_edit(scope, opportunity)
    check_version("opportunity", changes.expected_version, opportunity.version)
    _check_open(opportunity)
    actor = scope.actor_id
    sent = changes.model_fields_set
    before = payloads.opportunity(opportunity)
    if "name" in sent and changes.name is None:
        raise invalid("name", "may not be null")
    if changes.name is not None:
        opportunity.name = changes.name
    if "amount" in sent and changes.amount != opportunity.amount:
        session.add(
            _history(opportunity, "amount", opportunity.amount, changes.amount, actor, None)
        )
        opportunity.amount = changes.amount
    if (
        "expected_close_date" in sent
        and changes.expected_close_date != opportunity.expected_close_date
    ):
        old = opportunity.expected_close_date
        new = changes.expected_close_date
        session.add(_history(opportunity, "expected_close_date", old, new, actor, None))
        if old is not None and (new is None or new > old):
            opportunity.close_date_slips += 1
        opportunity.expected_close_date = new
    for field in sent - _DECIDED_ON_UPDATE:
        setattr(opportunity, field, getattr(changes, field))
    if changes.products is not None:
        await opportunity_repo.replace_products(
            session, opportunity.id, [p.to_row() for p in changes.products]
        )
    await _save(session, opportunity, model)
    await _record_update(session, opportunity, before, actor, products=changes.products is not None)
    return opportunity


# The fields opportunity.updated tracks by comparing the opportunity before and after.
_TRACKED = tuple(name for name in TrackedChanges.model_fields if name != "products")


async def _record_update(
    session: AsyncSession,
    opportunity: Opportunity,
    before: OpportunityPayload,
    actor: uuid.UUID | None,
    *,
    products: bool = False,
) -> None:
    """opportunity.updated with what changed (nothing changed: no event)."""
    after = payloads.opportunity(opportunity)
    changed = {
        f: (getattr(before, f), getattr(after, f))
        for f in _TRACKED
        if getattr(before, f) != getattr(after, f)
    }
    if products:
        changed["products"] = (None, None)
    if changed.keys() - {"deal_score"}:
        await record_event(
            session,
            "opportunity.updated",
            opportunity.id,
            payloads.opportunity_changed(opportunity, changed),
            actor_id=actor,
        )


async def reassign_opportunity(
    session: AsyncSession,
    scope: AccessScope,
    opportunity_id: uuid.UUID,
    owner_id: uuid.UUID,
    reason: str | None,
    model: Model,
) -> Opportunity:
    scope.require_scope("opportunities:write")
    scope.require_role(Role.SALES_MANAGER, Role.ADMIN)
    opportunity = await visible_opportunity(session, scope, opportunity_id, for_update=True)
    _check_open(opportunity)
    await check_owner(session, scope, owner_id)
    before = payloads.opportunity(opportunity)
    if owner_id != opportunity.owner_id:
        session.add(
            _history(opportunity, "owner", opportunity.owner_id, owner_id, scope.actor_id, reason)
        )
        opportunity.owner_id = owner_id
    await _save(session, opportunity, model)
    await _record_update(session, opportunity, before, scope.actor_id)
    return opportunity
