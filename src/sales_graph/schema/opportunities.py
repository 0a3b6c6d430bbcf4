"""GraphQL types and inputs of opportunities."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from sales_graph.db.models import Opportunity as OpportunityRow
from sales_graph.db.models import OpportunityHistory as HistoryRow
from sales_graph.db.models import OpportunityProduct as ProductRow
from sales_graph.domain import ForecastCategory as ForecastCategoryValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.schema.accounts import Account, load_account
from sales_graph.schema.common import PageInfo, money
from sales_graph.schema.context import Info, visible_id
from sales_graph.schema.territories import Territory, load_territory
from sales_graph.schema.upstream import Contract
from sales_graph.schema.users import User, load_user

# Register the domain enums as GraphQL enums; annotations use the domain classes.
OpportunityStage = strawberry.enum(OpportunityStageValue, name="OpportunityStage")
ForecastCategory = strawberry.enum(ForecastCategoryValue, name="ForecastCategory")


@strawberry.enum(description="Sort orders of opportunity lists.")
class OpportunityOrder(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"


@strawberry.type(description="One product line of an opportunity.")
class OpportunityProduct:
    product_id: str
    product_name: str | None
    quantity: int
    unit_price: float
    discount: float
    configuration: JSON | None

    @classmethod
    def from_row(cls, row: ProductRow) -> OpportunityProduct:
        return cls(
            product_id=row.product_id,
            product_name=row.product_name,
            quantity=row.quantity,
            unit_price=float(row.unit_price),
            discount=float(row.discount),
            configuration=cast(JSON, row.configuration),
        )


@strawberry.type(description="One tracked change: stage, amount, probability, close date, owner.")
class OpportunityChange:
    field: str
    old_value: str | None
    new_value: str | None
    note: str | None
    changed_at: datetime
    actor_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def changed_by(self, info: Info) -> User | None:
        return await load_user(info, self.actor_id)

    @classmethod
    def from_row(cls, row: HistoryRow) -> OpportunityChange:
        return cls(
            field=row.field,
            old_value=row.old_value,
            new_value=row.new_value,
            note=row.note,
            changed_at=row.changed_at,
            actor_id=row.actor_id,
        )


@strawberry.type(description="Why the deal score is what it is (top positive and negative).")
class DealScoreFactor:
    feature: str
    direction: str
    weight: float
    explanation: str


@strawberry.type(description="Contract terms agreed when the deal closes won.")
class ContractTerms:
    contract_term: int | None
    start_date: date | None
    payment_terms: str | None
    billing_frequency: str | None


@strawberry.type(description="A deal in progress or closed.")
class Opportunity:
    id: strawberry.ID
    name: str
    stage: OpportunityStageValue
    amount: float | None
    probability: int | None
    expected_close_date: date | None
    forecast_category: ForecastCategoryValue
    deal_score: int | None
    deal_score_factors: list[DealScoreFactor]
    next_step: str | None
    notes: str | None
    loss_reason: str | None
    contract_terms: ContractTerms
    contract_id: str | None
    metadata: JSON | None
    version: int
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[OpportunityRow]

    @strawberry.field(
        description="The account; null with an error when the caller may not read accounts."
    )
    async def account(self, info: Info) -> Account | None:
        return await load_account(info, self.row.account_id)

    @strawberry.field(
        description="The owner; null with an error when the caller may not read users."
    )
    async def owner(self, info: Info) -> User | None:
        return await load_user(info, self.row.owner_id)

    @strawberry.field
    async def territory(self, info: Info) -> Territory | None:
        return await load_territory(info, self.row.territory_id)

    @strawberry.field
    async def products(self, info: Info) -> list[OpportunityProduct] | None:
        rows = await info.context.loaders.products_by_opportunity.load(self.row.id)
        return [OpportunityProduct.from_row(row) for row in rows]

    @strawberry.field(description="Tracked changes, oldest first.")
    async def history(self, info: Info) -> list[OpportunityChange] | None:
        rows = await info.context.loaders.history_by_opportunity.load(self.row.id)
        return [OpportunityChange.from_row(row) for row in rows]

    @strawberry.field(description="The lead it was converted from, when the caller sees it.")
    async def lead_id(self, info: Info) -> strawberry.ID | None:
        return await visible_id(info, self.row.lead_id, kind="lead")

    @strawberry.field(description="Billing: the contract of a won deal (by contractId).")
    async def contract(self, info: Info) -> Contract | None:
        if not self.row.contract_id:
            return None
        found = await info.context.loaders.upstream.contract.load(self.row.contract_id)
        return Contract.from_model(found) if found else None

    @classmethod
    def from_row(cls, row: OpportunityRow) -> Opportunity:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            stage=OpportunityStageValue(row.stage),
            amount=money(row.amount),
            probability=row.probability,
            expected_close_date=row.expected_close_date,
            forecast_category=ForecastCategoryValue(row.forecast_category),
            deal_score=row.deal_score,
            deal_score_factors=[DealScoreFactor(**f) for f in row.deal_score_factors],
            next_step=row.next_step,
            notes=row.notes,
            loss_reason=row.loss_reason,
            contract_terms=ContractTerms(
                contract_term=row.contract_term,
                start_date=row.start_date,
                payment_terms=row.payment_terms,
                billing_frequency=row.billing_frequency,
            ),
            contract_id=row.contract_id,
            metadata=cast(JSON, row.opportunity_metadata),
            version=row.version,
            closed_at=row.closed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )


@strawberry.type(description="A page of opportunities: offset paging or cursors.")
class OpportunityConnection:
    items: list[Opportunity]
    limit: int
    offset: int
    has_more: bool
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many opportunities match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.input(description="Inclusive range of expected close dates.")
class DateRange:
    start: date | None = None
    end: date | None = None


@strawberry.input
class ProductLineInput:
    product_id: str
    quantity: int
    unit_price: float
    discount: float | None = strawberry.UNSET
    product_name: str | None = strawberry.UNSET
    configuration: JSON | None = strawberry.UNSET


@strawberry.input(description="The spec's Create Opportunity request.")
class CreateOpportunityInput:
    name: str
    account_id: strawberry.ID
    lead_id: strawberry.ID | None = strawberry.UNSET
    stage: OpportunityStageValue | None = strawberry.UNSET
    amount: float | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    probability: int | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    products: list[ProductLineInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


@strawberry.input(
    description="Contract terms for closing won (defaults: 12, next month, net_30, monthly)."
)
class ContractTermsInput:
    contract_term: int | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    payment_terms: str | None = strawberry.UNSET
    billing_frequency: str | None = strawberry.UNSET


@strawberry.input(description="The spec's Convert Lead request.")
class ConvertLeadInput:
    opportunity_name: str
    amount: float | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    stage: OpportunityStageValue | None = strawberry.UNSET


@strawberry.input(
    description="Changes of name, amount, close date, products; not owner or territory."
)
class UpdateOpportunityInput:
    name: str | None = strawberry.UNSET
    amount: float | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    products: list[ProductLineInput] | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    expected_version: int | None = strawberry.UNSET
