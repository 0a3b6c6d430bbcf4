"""Event payloads, built from stored rows: one function per payload shape, each returning the
payload's model (``events/models.py``), which says how each value goes on the wire.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
)
from sales_graph.domain import AssignmentMethod, OpportunityStage
from sales_graph.events import models as m

if TYPE_CHECKING:
    from sales_graph.domain.forecasts import ComputedForecast

# onboarding.trigger priority when the opportunity names none: by deal size.
HIGH_PRIORITY_AMOUNT = Decimal(100_000)
MEDIUM_PRIORITY_AMOUNT = Decimal(25_000)


def lead(row: Lead) -> m.LeadPayload:
    return m.LeadPayload(
        lead_id=row.id,
        status=row.status,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        company=row.company,
        title=row.title,
        industry=row.industry,
        employee_count=row.employee_count,
        annual_revenue=row.annual_revenue,
        source=row.source,
        score=row.score,
        campaign_id=row.campaign_id,
        territory_id=row.territory_id,
        assigned_to=row.assigned_to_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def lead_assigned(
    row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    method: AssignmentMethod,
    reason: str | None,
) -> m.LeadAssigned:
    return m.LeadAssigned(
        lead_id=row.id,
        territory_id=row.territory_id,
        assigned_to=row.assigned_to_id,
        previous_territory_id=previous_territory_id,
        previous_assigned_to=previous_assigned_to,
        method=method,
        reason=reason,
        assigned_at=row.assigned_at,
    )


def lead_converted(
    row: Lead, *, account_id: uuid.UUID, contact_id: uuid.UUID, opportunity_id: uuid.UUID | None
) -> m.LeadConverted:
    return m.LeadConverted(
        lead_id=row.id,
        account_id=account_id,
        contact_id=contact_id,
        opportunity_id=opportunity_id,
        converted_at=row.converted_at,
    )


def _opportunity(row: Opportunity) -> dict[str, Any]:
    """The fields every opportunity payload starts with."""
    return {
        "opportunity_id": row.id,
        "name": row.name,
        "account_id": row.account_id,
        "lead_id": row.lead_id,
        "owner_id": row.owner_id,
        "territory_id": row.territory_id,
        "stage": row.stage,
        "probability": row.probability,
        "amount": row.amount,
        "expected_close_date": row.expected_close_date,
        "forecast_category": row.forecast_category,
        "deal_score": row.deal_score,
        "version": row.version,
        "updated_at": row.updated_at,
    }


def opportunity(row: Opportunity) -> m.OpportunityPayload:
    return m.OpportunityPayload(**_opportunity(row))


def opportunity_changed(
    row: Opportunity, changes: dict[str, tuple[Any, Any]]
) -> m.OpportunityUpdated:
    """The opportunity now, with ``changes`` as ``{field: {"from": old, "to": new}}``."""
    return m.OpportunityUpdated(
        **_opportunity(row),
        changes=m.TrackedChanges.model_validate(
            {name: {"from": old, "to": new} for name, (old, new) in changes.items()}
        ),
    )


def stage_changed(
    row: Opportunity, *, previous_stage: str, previous_probability: int | None, notes: str | None
) -> m.OpportunityStageChanged:
    return m.OpportunityStageChanged(
        **_opportunity(row),
        previous_stage=previous_stage,
        previous_probability=previous_probability,
        notes=notes,
        changed_at=row.stage_changed_at,
    )


def closed(row: Opportunity) -> m.OpportunityWon | m.OpportunityLost:
    """opportunity.won / opportunity.lost, by the row's stage."""
    won = row.stage == OpportunityStage.CLOSED_WON
    kind = m.OpportunityWon if won else m.OpportunityLost
    return kind(**_opportunity(row), closed_at=row.closed_at, loss_reason=row.loss_reason)


def closed_won(
    row: Opportunity, products: Sequence[OpportunityProduct], owner: User
) -> m.OpportunityClosedWon:
    """The spec's Billing event (opportunity.closed_won), field for field."""
    return m.OpportunityClosedWon(
        opportunity_id=row.id,
        account_id=row.account_id,
        amount=row.amount if row.amount is not None else _products_total(products),
        contract_term=row.contract_term,
        start_date=row.start_date,
        payment_terms=row.payment_terms,
        billing_frequency=row.billing_frequency,
        products=[
            m.BilledProduct(
                product_id=p.product_id,
                quantity=p.quantity,
                unit_price=p.unit_price,
                discount=p.discount,
            )
            for p in products
        ],
        owner=m.DealOwner(user_id=owner.id, name=owner.name, email=owner.email),
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
            m.OnboardedProduct(
                product_id=p.product_id,
                product_name=p.product_name or p.product_id,
                quantity=p.quantity,
                configuration=m.ProductConfiguration.model_validate(p.configuration),
            )
            for p in products
        ],
        contacts=[
            m.OnboardingContact(
                type=c.contact_type, name=_contact_name(c), email=c.email, phone=c.phone
            )
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
    return m.TerritoryPayload(
        territory_id=row.id,
        name=row.name,
        description=row.description,
        owner_id=row.owner_id,
        is_active=row.is_active,
        member_ids=list(member_ids),
        rules=[
            m.AssignmentRule(
                country=r.country,
                region=r.region,
                industry=r.industry,
                employee_count_min=r.employee_count_min,
                employee_count_max=r.employee_count_max,
                annual_revenue_min=r.annual_revenue_min,
                annual_revenue_max=r.annual_revenue_max,
            )
            for r in sorted(rules, key=lambda r: r.position)
        ],
        version=row.version,
    )


def assignment_changed(
    lead_row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    reason: str | None,
) -> m.TerritoryAssignmentChanged:
    return m.TerritoryAssignmentChanged(
        territory_id=lead_row.territory_id,
        lead_id=lead_row.id,
        assigned_to=lead_row.assigned_to_id,
        previous_territory_id=previous_territory_id,
        previous_assigned_to=previous_assigned_to,
        reason=reason,
        assigned_at=lead_row.assigned_at,
    )


def quota(row: Quota, *, previous_amount: Decimal | None = None) -> m.QuotaSet | m.QuotaUpdated:
    """quota.set, or with the amount before the change quota.updated."""
    fields = {
        "quota_id": row.id,
        "period": row.period,
        "user_id": row.user_id,
        "territory_id": row.territory_id,
        "amount": row.amount,
        "version": row.version,
    }
    if previous_amount is None:
        return m.QuotaSet(**fields, previous_amount=None)
    return m.QuotaUpdated(**fields, previous_amount=previous_amount)


def quota_attained(row: Quota, *, attained_amount: Decimal) -> m.QuotaAttained:
    ratio = attained_amount / row.amount if row.amount else Decimal(0)
    return m.QuotaAttained(
        quota_id=row.id,
        period=row.period,
        user_id=row.user_id,
        territory_id=row.territory_id,
        amount=row.amount,
        attained_amount=attained_amount,
        attainment=round(float(ratio), 4),
        attained_at=row.attained_at,
    )


def forecast_updated(forecast: ComputedForecast) -> m.ForecastUpdated:
    """The spec's Finance event (forecast.updated), field for field."""
    return m.ForecastUpdated(
        period=forecast.period,
        territory_id=forecast.territory_id,
        forecast_type=forecast.forecast_type,
        amount=forecast.amount,
        probability_weighted_amount=forecast.probability_weighted_amount,
        breakdown=[
            m.StageTotal(
                stage=line.stage,
                count=line.count,
                total_amount=line.total_amount,
                weighted_amount=line.weighted_amount,
            )
            for line in forecast.breakdown
        ],
        generated_at=forecast.generated_at,
    )
