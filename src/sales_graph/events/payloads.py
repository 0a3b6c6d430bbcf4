"""Event payloads, built from stored rows: one function per payload shape, each returning the
payload's model (``events/models.py``), which says how each value goes on the wire.

A model's field takes the row's attribute of the same name unless the builder gives it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sales_graph.db.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
    OpportunityProduct,
    Quota,
    Territory,
    TerritoryRule,
    User,
    WebhookEndpoint,
)
from sales_graph.domain import AssignmentMethod, OpportunityStage
from sales_graph.events import models as m
from sales_graph.events.models import EventPayload

if TYPE_CHECKING:
    from sales_graph.domain.forecasts import ComputedForecast

# onboarding.trigger priority when the opportunity names none: by deal size.
HIGH_PRIORITY_AMOUNT = Decimal(100_000)
MEDIUM_PRIORITY_AMOUNT = Decimal(25_000)


P = TypeVar("P", bound=EventPayload)


def _from(source: object, model: type[P], **values: Any) -> P:
    """``model`` with ``values``, and its other fields from ``source``'s attributes."""
    fields = {name: getattr(source, name) for name in model.model_fields if name not in values}
    return model(**fields, **values)


def lead(row: Lead) -> m.LeadPayload:
    return _from(row, m.LeadPayload, lead_id=row.id, assigned_to=row.assigned_to_id)


def lead_assigned(
    row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    method: AssignmentMethod,
    reason: str | None,
) -> m.LeadAssigned:
    return _assignment(
        row, m.LeadAssigned, previous_territory_id, previous_assigned_to, reason, method=method
    )


def assignment_changed(
    lead_row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    reason: str | None,
) -> m.TerritoryAssignmentChanged:
    """territory.assignment_changed: a manual assignment, as the territories see it."""
    return _assignment(
        lead_row, m.TerritoryAssignmentChanged, previous_territory_id, previous_assigned_to, reason
    )


def _assignment(
    row: Lead,
    model: type[P],
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    reason: str | None,
    **values: Any,
) -> P:
    """The lead's territory and rep now (and when they were set), the previous ones and why."""
    return _from(
        row,
        model,
        lead_id=row.id,
        assigned_to=row.assigned_to_id,
        previous_territory_id=previous_territory_id,
        previous_assigned_to=previous_assigned_to,
        reason=reason,
        **values,
    )


def lead_converted(
    row: Lead, *, account_id: uuid.UUID, contact_id: uuid.UUID, opportunity_id: uuid.UUID | None
) -> m.LeadConverted:
    return _from(
        row,
        m.LeadConverted,
        lead_id=row.id,
        account_id=account_id,
        contact_id=contact_id,
        opportunity_id=opportunity_id,
    )


def opportunity(row: Opportunity) -> m.OpportunityPayload:
    return _from(row, m.OpportunityPayload, opportunity_id=row.id)


def opportunity_changed(
    row: Opportunity, changes: dict[str, tuple[Any, Any]]
) -> m.OpportunityUpdated:
    """The opportunity now, with ``changes`` as ``{field: {"from": old, "to": new}}``."""
    tracked = {name: {"from": old, "to": new} for name, (old, new) in changes.items()}
    return _from(
        row,
        m.OpportunityUpdated,
        opportunity_id=row.id,
        changes=m.TrackedChanges.model_validate(tracked),
    )


def stage_changed(
    row: Opportunity, *, previous_stage: str, previous_probability: int | None, notes: str | None
) -> m.OpportunityStageChanged:
    return _from(
        row,
        m.OpportunityStageChanged,
        opportunity_id=row.id,
        previous_stage=previous_stage,
        previous_probability=previous_probability,
        notes=notes,
        changed_at=row.stage_changed_at,
    )


def closed(row: Opportunity) -> m.OpportunityWon | m.OpportunityLost:
    """opportunity.won / opportunity.lost, by the row's stage."""
    if row.stage == OpportunityStage.CLOSED_WON:
        return _from(row, m.OpportunityWon, opportunity_id=row.id)
    return _from(row, m.OpportunityLost, opportunity_id=row.id)


def closed_won(
    row: Opportunity, products: Sequence[OpportunityProduct], owner: User
) -> m.OpportunityClosedWon:
    """The spec's Billing event (opportunity.closed_won), field for field."""
    return _from(
        row,
        m.OpportunityClosedWon,
        opportunity_id=row.id,
        amount=row.amount if row.amount is not None else _products_total(products),
        products=[_from(p, m.BilledProduct) for p in products],
        owner=_from(owner, m.DealOwner, user_id=owner.id),
    )


def _products_total(products: Sequence[OpportunityProduct]) -> Decimal:
    return sum(
        (p.unit_price * p.quantity * (1 - p.discount) for p in products), start=Decimal(0)
    ).quantize(Decimal("0.01"))


def priority(row: Opportunity) -> str:
    """The opportunity's own (an ``OnboardingPriority``), else by amount."""
    if row.priority:
        return row.priority
    amount = row.amount or Decimal(0)
    if amount >= HIGH_PRIORITY_AMOUNT:
        return "high"
    return "medium" if amount >= MEDIUM_PRIORITY_AMOUNT else "low"


def _contact_name(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p) or (
        contact.email or ""
    )


def onboarding(
    row: Opportunity,
    account: Account,
    products: Sequence[OpportunityProduct],
    contacts: Sequence[Contact],
) -> m.OnboardingTrigger:
    """The spec's Operations event (onboarding.trigger), field for field."""
    return m.OnboardingTrigger(
        opportunity_id=row.id,
        account_id=account.id,
        account_name=account.name,
        contract_start_date=row.start_date,
        products=[
            _from(
                p,
                m.OnboardedProduct,
                product_name=p.product_name or p.product_id,
                configuration=m.ProductConfiguration.model_validate(p.configuration),
            )
            for p in products
        ],
        contacts=[
            _from(c, m.OnboardingContact, type=c.contact_type, name=_contact_name(c))
            for c in sorted(contacts, key=lambda c: (not c.is_primary, c.created_at))
        ],
        special_requirements=_special_requirements(row),
        priority=priority(row),
    )


def _special_requirements(row: Opportunity) -> str | None:
    """The opportunity's own, else ``metadata.special_requirements`` when that is a text."""
    if row.special_requirements:
        return row.special_requirements
    value = row.opportunity_metadata.get("special_requirements")
    return value if isinstance(value, str) else None


def territory(
    row: Territory, member_ids: Sequence[uuid.UUID], rules: Sequence[TerritoryRule]
) -> m.TerritoryPayload:
    return _from(
        row,
        m.TerritoryPayload,
        territory_id=row.id,
        member_ids=list(member_ids),
        rules=[_from(r, m.AssignmentRule) for r in sorted(rules, key=lambda r: r.position)],
    )


def quota(row: Quota, *, previous_amount: Decimal | None = None) -> m.QuotaSet | m.QuotaUpdated:
    """quota.set, or with the amount before the change quota.updated."""
    if previous_amount is None:
        return _from(row, m.QuotaSet, quota_id=row.id, previous_amount=None)
    return _from(row, m.QuotaUpdated, quota_id=row.id, previous_amount=previous_amount)


def quota_attained(row: Quota, *, attained_amount: Decimal) -> m.QuotaAttained:
    ratio = attained_amount / row.amount if row.amount else Decimal(0)
    return _from(
        row,
        m.QuotaAttained,
        quota_id=row.id,
        attained_amount=attained_amount,
        attainment=round(float(ratio), 4),
    )


def forecast_updated(forecast: ComputedForecast) -> m.ForecastUpdated:
    """The spec's Finance event (forecast.updated), field for field."""
    return _from(
        forecast,
        m.ForecastUpdated,
        breakdown=[_from(line, m.StageTotal) for line in forecast.breakdown],
    )


def webhook_endpoint_disabled(
    row: WebhookEndpoint,
    *,
    client_id: str,
    reason: str,
    delivery_id: int | None,
    event_id: uuid.UUID | None,
) -> m.WebhookEndpointDisabled:
    assert row.disabled_at is not None
    return _from(
        row,
        m.WebhookEndpointDisabled,
        endpoint_id=row.id,
        client_id=client_id,
        reason=reason[:500],
        delivery_id=delivery_id,
        event_id=event_id,
    )
