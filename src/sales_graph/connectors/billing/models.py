"""Billing payloads (``docs/upstreams.md#billing``): what we send and what a contract looks like."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from sales_graph.connectors.models import Money, UpstreamModel, UpstreamRequest
from sales_graph.domain import BillingFrequency


class ContractLine(UpstreamRequest):
    product_id: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: Money = Field(ge=0)
    discount: float = Field(default=0.0, ge=0, le=1)


class ContractOwnerRef(UpstreamRequest):
    user_id: str
    name: str
    email: str


class ContractTerms(UpstreamRequest):
    """The terms a contract is created with, and the whole body of an update (PUT)."""

    amount: Money = Field(gt=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    contract_term: int = Field(gt=0, description="months")
    start_date: date
    payment_terms: str = "net_30"
    billing_frequency: BillingFrequency = "monthly"
    products: list[ContractLine] = Field(default_factory=list)


class NewContract(ContractTerms):
    opportunity_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1)
    owner: ContractOwnerRef | None = None


class ContractProduct(UpstreamModel):
    product_id: str
    quantity: int
    unit_price: Money
    discount: float = 0.0


class ContractOwner(UpstreamModel):
    user_id: str
    name: str
    email: str


class Instalment(UpstreamModel):
    due_date: date
    amount: Money


class Contract(UpstreamModel):
    contract_id: str
    opportunity_id: str
    account_id: str
    status: str
    owner: ContractOwner | None = None
    amount: Money
    currency: str
    contract_term: int
    start_date: date
    end_date: date | None = None
    payment_terms: str
    billing_frequency: str
    products: list[ContractProduct] = Field(default_factory=list)
    payment_schedule: list[Instalment] = Field(default_factory=list)
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
