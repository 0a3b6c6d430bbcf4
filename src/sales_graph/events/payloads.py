"""Event payloads, built from stored rows: one function per payload shape.

Amounts are JSON numbers (as in the spec's examples), dates ``YYYY-MM-DD``, times RFC 3339
UTC with ``Z``, ids strings. ``schema/events/`` describes each shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
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
from sales_graph.timeutil import format_datetime

if TYPE_CHECKING:
    from sales_graph.domain.forecasts import ComputedForecast

# onboarding.trigger priority when the opportunity names none: by deal size.
HIGH_PRIORITY_AMOUNT = Decimal(100_000)
MEDIUM_PRIORITY_AMOUNT = Decimal(25_000)


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def lead(row: Lead) -> dict[str, Any]:
    return {
        "lead_id": str(row.id),
        "status": row.status,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "phone": row.phone,
        "company": row.company,
        "title": row.title,
        "industry": row.industry,
        "employee_count": row.employee_count,
        "annual_revenue": money(row.annual_revenue),
        "source": row.source,
        "score": row.score,
        "campaign_id": row.campaign_id,
        "territory_id": _id(row.territory_id),
        "assigned_to": _id(row.assigned_to_id),
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }


def lead_assigned(
    row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    method: str,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "lead_id": str(row.id),
        "territory_id": _id(row.territory_id),
        "assigned_to": _id(row.assigned_to_id),
        "previous_territory_id": _id(previous_territory_id),
        "previous_assigned_to": _id(previous_assigned_to),
        "method": method,
        "reason": reason,
        "assigned_at": _time(row.assigned_at),
    }


def lead_converted(
    row: Lead, *, account_id: uuid.UUID, contact_id: uuid.UUID, opportunity_id: uuid.UUID | None
) -> dict[str, Any]:
    return {
        "lead_id": str(row.id),
        "account_id": str(account_id),
        "contact_id": str(contact_id),
        "opportunity_id": _id(opportunity_id),
        "converted_at": _time(row.converted_at),
    }


def opportunity(row: Opportunity) -> dict[str, Any]:
    return {
        "opportunity_id": str(row.id),
        "name": row.name,
        "account_id": str(row.account_id),
        "lead_id": _id(row.lead_id),
        "owner_id": str(row.owner_id),
        "territory_id": _id(row.territory_id),
        "stage": row.stage,
        "probability": row.probability,
        "amount": money(row.amount),
        "expected_close_date": _day(row.expected_close_date),
        "forecast_category": row.forecast_category,
        "deal_score": row.deal_score,
        "version": row.version,
        "updated_at": _time(row.updated_at),
    }


def opportunity_changed(row: Opportunity, changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The opportunity now, with ``changes`` as ``{field: {"from": old, "to": new}}``."""
    return {
        **opportunity(row),
        "changes": {name: {"from": old, "to": new} for name, (old, new) in changes.items()},
    }


def stage_changed(
    row: Opportunity, *, previous_stage: str, previous_probability: int | None, notes: str | None
) -> dict[str, Any]:
    return {
        **opportunity(row),
        "previous_stage": previous_stage,
        "previous_probability": previous_probability,
        "notes": notes,
        "changed_at": _time(row.stage_changed_at),
    }


def closed(row: Opportunity) -> dict[str, Any]:
    """opportunity.won / opportunity.lost."""
    return {
        **opportunity(row),
        "closed_at": _time(row.closed_at),
        "loss_reason": row.loss_reason,
    }


def closed_won(
    row: Opportunity, products: Sequence[OpportunityProduct], owner: User
) -> dict[str, Any]:
    """The spec's Billing event (opportunity.closed_won), field for field."""
    return {
        "opportunity_id": str(row.id),
        "account_id": str(row.account_id),
        "amount": money(row.amount if row.amount is not None else _products_total(products)),
        "contract_term": row.contract_term,
        "start_date": _day(row.start_date),
        "payment_terms": row.payment_terms,
        "billing_frequency": row.billing_frequency,
        "products": [
            {
                "product_id": p.product_id,
                "quantity": p.quantity,
                "unit_price": money(p.unit_price),
                "discount": float(p.discount),
            }
            for p in products
        ],
        "owner": {"user_id": str(owner.id), "name": owner.name, "email": owner.email},
    }


def _products_total(products: Sequence[OpportunityProduct]) -> Decimal:
    return sum(
        (p.unit_price * p.quantity * (1 - p.discount) for p in products), start=Decimal(0)
    ).quantize(Decimal("0.01"))


def priority(row: Opportunity) -> str:
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
) -> dict[str, Any]:
    """The spec's Operations event (onboarding.trigger), field for field."""
    return {
        "opportunity_id": str(row.id),
        "account_id": str(account.id),
        "account_name": account.name,
        "contract_start_date": _day(row.start_date),
        "products": [
            {
                "product_id": p.product_id,
                "product_name": p.product_name or p.product_id,
                "quantity": p.quantity,
                "configuration": dict(p.configuration),
            }
            for p in products
        ],
        "contacts": [
            {
                "type": c.contact_type,
                "name": _contact_name(c),
                "email": c.email,
                "phone": c.phone,
            }
            for c in sorted(contacts, key=lambda c: (not c.is_primary, c.created_at))
        ],
        "special_requirements": row.special_requirements
        or row.opportunity_metadata.get("special_requirements"),
        "priority": priority(row),
    }


def territory(
    row: Territory, member_ids: Sequence[uuid.UUID], rules: Sequence[TerritoryRule]
) -> dict[str, Any]:
    return {
        "territory_id": str(row.id),
        "name": row.name,
        "description": row.description,
        "owner_id": _id(row.owner_id),
        "is_active": row.is_active,
        "member_ids": [str(m) for m in member_ids],
        "rules": [
            {
                "country": r.country,
                "region": r.region,
                "industry": r.industry,
                "employee_count_min": r.employee_count_min,
                "employee_count_max": r.employee_count_max,
                "annual_revenue_min": money(r.annual_revenue_min),
                "annual_revenue_max": money(r.annual_revenue_max),
            }
            for r in sorted(rules, key=lambda r: r.position)
        ],
        "version": row.version,
    }


def assignment_changed(
    lead_row: Lead,
    *,
    previous_territory_id: uuid.UUID | None,
    previous_assigned_to: uuid.UUID | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "territory_id": _id(lead_row.territory_id),
        "lead_id": str(lead_row.id),
        "assigned_to": _id(lead_row.assigned_to_id),
        "previous_territory_id": _id(previous_territory_id),
        "previous_assigned_to": _id(previous_assigned_to),
        "reason": reason,
        "assigned_at": _time(lead_row.assigned_at),
    }


def quota(row: Quota, *, previous_amount: Decimal | None = None) -> dict[str, Any]:
    return {
        "quota_id": str(row.id),
        "period": row.period,
        "user_id": _id(row.user_id),
        "territory_id": _id(row.territory_id),
        "amount": money(row.amount),
        "previous_amount": money(previous_amount),
        "version": row.version,
    }


def quota_attained(row: Quota, *, attained_amount: Decimal) -> dict[str, Any]:
    ratio = attained_amount / row.amount if row.amount else Decimal(0)
    return {
        "quota_id": str(row.id),
        "period": row.period,
        "user_id": _id(row.user_id),
        "territory_id": _id(row.territory_id),
        "amount": money(row.amount),
        "attained_amount": money(attained_amount),
        "attainment": round(float(ratio), 4),
        "attained_at": _time(row.attained_at),
    }


def forecast_updated(forecast: ComputedForecast) -> dict[str, Any]:
    """The spec's Finance event (forecast.updated), field for field."""
    return {
        "period": forecast.period,
        "territory_id": str(forecast.territory_id),
        "forecast_type": forecast.forecast_type.value,
        "amount": money(forecast.amount),
        "probability_weighted_amount": money(forecast.probability_weighted_amount),
        "breakdown": [
            {
                "stage": line.stage.value,
                "count": line.count,
                "total_amount": money(line.total_amount),
                "weighted_amount": money(line.weighted_amount),
            }
            for line in forecast.breakdown
        ],
        "generated_at": _time(forecast.generated_at),
    }
