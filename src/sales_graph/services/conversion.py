"""ConvertLead (DESIGN.md): account, primary contact and opportunity, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Account, Contact, Lead, Opportunity
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories.rows import save
from sales_graph.domain import LeadStatus, OpportunityStage, Role
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, Forbidden, ValidationError
from sales_graph.events import payloads
from sales_graph.events.outbox import record as record_event
from sales_graph.services.opportunities import check_opening_stage, opened
from sales_graph.services.scoring import Model
from sales_graph.services.stages import OpenStage
from sales_graph.services.validation import Input, found, invalid
from sales_graph.timeutil import utcnow

# Addresses at these domains say nothing about the company (free mail, RFC 2606 examples).
_NON_COMPANY_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.net",
        "mail.com",
        "example.com",
        "example.org",
        "example.net",
    }
)


class ConvertLead(Input):
    opportunity_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = None
    expected_close_date: date | None = None
    stage: OpenStage = OpportunityStage.DISCOVERY


@dataclass(frozen=True, slots=True)
class Conversion:
    lead: Lead
    opportunity: Opportunity
    account: Account


def company_domain(email: str) -> str | None:
    domain = email.rsplit("@", 1)[-1].lower()
    return None if domain in _NON_COMPANY_DOMAINS else domain


# What a conversion copies from the lead to a new account, and to the account's contact.
ACCOUNT_FROM_LEAD = ("industry", "employee_count", "annual_revenue", "country", "region")
CONTACT_FROM_LEAD = ("first_name", "last_name", "email", "phone", "title")


def _copied(lead: Lead, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in fields}


async def _account_for(
    session: AsyncSession, scope: AccessScope, lead: Lead, owner_id: uuid.UUID
) -> Account:
    """An account the caller sees with the lead's company name or e-mail domain, else a new
    one: conversion never attaches a deal (or a contact) to an account the caller may not see."""
    name = (lead.company or "").strip()
    domain = company_domain(lead.email)
    existing = await account_repo.find_for_company(session, scope, name.lower() or None, domain)
    if existing is not None:
        return existing
    if not name:
        name = domain or f"{lead.first_name or ''} {lead.last_name or ''}".strip() or lead.email
    account = Account(
        name=name,
        name_normalized=name.lower(),
        domain=domain,
        **_copied(lead, ACCOUNT_FROM_LEAD),
        owner_id=owner_id,
        territory_id=lead.territory_id,
    )
    await save(session, account)
    return account


async def convert_lead(
    session: AsyncSession, scope: AccessScope, lead_id: uuid.UUID, data: ConvertLead, model: Model
) -> Conversion:
    scope.require_scope("leads:write")
    scope.require_scope("opportunities:write")
    lead = found(await lead_repo.get_for_update(session, scope, lead_id), "Lead", "lead_id")
    if scope.role is Role.SALES_REP and lead.assigned_to_id != scope.actor_id:
        raise Forbidden("A rep may convert only the leads assigned to them")
    if lead.status == LeadStatus.CONVERTED.value:
        details = {"lead_id": str(lead.id)}
        converted_to = lead.opportunity_id
        if (
            converted_to is not None
            and scope.has_scope("opportunities:read")
            and await opportunity_repo.get(session, scope, converted_to) is not None
        ):
            details["opportunity_id"] = str(converted_to)
        raise Conflict("The lead is already converted", details=details)
    if lead.status == LeadStatus.DISQUALIFIED.value:
        raise ValidationError(
            "A disqualified lead is not converted",
            details={
                "current_status": lead.status,
                "requested_status": "converted",
                "allowed_statuses": ["working"],
            },
        )
    check_opening_stage(data.stage)
    owner_id = lead.assigned_to_id or scope.actor_id
    if owner_id is None:
        raise invalid("lead_id", "assign the lead before a partner converts it")
    account = await _account_for(session, scope, lead, owner_id)
    contact = Contact(
        account_id=account.id,
        lead_id=lead.id,
        **_copied(lead, CONTACT_FROM_LEAD),
        contact_type="primary",
        is_primary=not await account_repo.has_primary_contact(session, account.id),
    )
    session.add(contact)
    now = utcnow()
    opportunity = await opened(
        session,
        model,
        data.stage,
        None,
        now,
        name=data.opportunity_name,
        account_id=account.id,
        lead_id=lead.id,
        amount=data.amount,
        expected_close_date=data.expected_close_date,
        owner_id=owner_id,
        territory_id=account.territory_id or lead.territory_id,
    )
    lead.status = LeadStatus.CONVERTED.value
    lead.converted_at = now
    lead.opportunity_id = opportunity.id
    lead.account_id = account.id
    lead.updated_at = now
    lead.version += 1
    await save(session, lead)
    actor = scope.actor_id
    await record_event(
        session,
        "opportunity.created",
        opportunity.id,
        payloads.opportunity(opportunity),
        actor_id=actor,
    )
    await record_event(
        session,
        "lead.converted",
        lead.id,
        payloads.lead_converted(
            lead, account_id=account.id, contact_id=contact.id, opportunity_id=opportunity.id
        ),
        actor_id=actor,
    )
    return Conversion(lead, opportunity, account)
