"""Billing contracts of won deals (DESIGN.md section 4): the contract requested from Billing
with the opportunity id as Idempotency-Key, and the contract id kept on the opportunity.

Billing answers a repeated key with the contract it created the first time, so a contract is
requested as often as needed and created once; the request body must be the same every time
(Billing refuses a known key with another body), hence one way to build it, from the
``opportunity.closed_won`` payload (docs/events.md, "Billing contracts").
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import pydantic
from pydantic import ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.connectors.billing import (
    BillingClient,
    Contract,
    ContractLine,
    ContractOwnerRef,
    NewContract,
)
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.domain import BillingFrequency, OpportunityStage
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import NotFound, UpstreamUnavailable, ValidationError
from sales_graph.events import payloads
from sales_graph.logs import get_logger
from sales_graph.services.validation import Input
from sales_graph.timeutil import utcnow

SYSTEM_SCOPE = AccessScope.as_system("billing contracts")

_log = get_logger("sales_graph.services.contracts")


class _Event(Input):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WonProduct(_Event):
    product_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    discount: float = Field(default=0.0, ge=0, le=1)


class WonOwner(_Event):
    user_id: str
    name: str
    email: str


class ClosedWon(_Event):
    """The payload of ``opportunity.closed_won``: the spec's Billing event schema."""

    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    amount: Decimal = Field(gt=0)
    contract_term: int = Field(gt=0)
    start_date: date
    payment_terms: str
    billing_frequency: BillingFrequency
    products: list[WonProduct] = Field(default_factory=list)
    owner: WonOwner | None = None

    def contract(self) -> NewContract:
        return NewContract(
            opportunity_id=str(self.opportunity_id),
            account_id=str(self.account_id),
            amount=self.amount,
            contract_term=self.contract_term,
            start_date=self.start_date,
            payment_terms=self.payment_terms,
            billing_frequency=self.billing_frequency,
            products=[ContractLine(**p.model_dump()) for p in self.products],
            owner=ContractOwnerRef(**self.owner.model_dump()) if self.owner else None,
        )


async def contract_needed(session: AsyncSession, deal: ClosedWon) -> bool:
    """Whether the deal still needs its contract: False once the opportunity has one."""
    opportunity = await opportunity_repo.get(session, SYSTEM_SCOPE, deal.opportunity_id)
    if opportunity is None:
        raise NotFound(
            "Opportunity not found", details={"opportunity_id": str(deal.opportunity_id)}
        )
    if opportunity.stage != OpportunityStage.CLOSED_WON.value:
        raise ValidationError(
            "Only a won opportunity gets a contract",
            details={"opportunity_id": str(opportunity.id), "stage": opportunity.stage},
        )
    return opportunity.contract_id is None


async def request_contract(billing: BillingClient | None, deal: ClosedWon) -> Contract:
    """Creates the deal's contract in Billing, or gets the one created before (same key)."""
    if billing is None:
        raise UpstreamUnavailable(
            "Billing is not configured", details={"system": "billing", "reason": "not_configured"}
        )
    return await billing.create_contract(deal.contract(), idempotency_key=str(deal.opportunity_id))


async def store_contract(session: AsyncSession, deal: ClosedWon, contract: Contract) -> bool:
    """Keeps the contract id on the opportunity; False when it already had one."""
    return await opportunity_repo.set_contract_id(
        session, deal.opportunity_id, contract.contract_id, utcnow()
    )


async def deals_without_contract(
    session: AsyncSession, *, closed_before: datetime, limit: int
) -> list[ClosedWon]:
    """Won deals whose contract is still missing, as their ``opportunity.closed_won`` says."""
    rows = await opportunity_repo.won_without_contract(
        session, SYSTEM_SCOPE, closed_before=closed_before, limit=limit
    )
    products = await opportunity_repo.products_of(session, SYSTEM_SCOPE, [row.id for row in rows])
    owner_ids = list({r.owner_id for r in rows})
    owners = {u.id: u for u in await user_repo.by_ids(session, SYSTEM_SCOPE, owner_ids)}
    deals = []
    for row in rows:
        lines = [p for p in products if p.opportunity_id == row.id]
        try:
            deals.append(
                ClosedWon.model_validate(
                    payloads.closed_won(row, lines, owners[row.owner_id]).model_dump(mode="json")
                )
            )
        except pydantic.ValidationError as exc:
            # Billing could not take it either (no amount, say): said once a round, not fatal.
            _log.warning(
                "billing.contract_impossible", opportunity_id=str(row.id), error=str(exc)[:500]
            )
    return deals
