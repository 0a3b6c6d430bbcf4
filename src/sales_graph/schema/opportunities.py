"""GraphQL types and inputs of opportunities."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from sales_graph.db.models import Opportunity as OpportunityRow
from sales_graph.db.models import OpportunityHistory as HistoryRow
from sales_graph.db.models import OpportunityProduct as ProductRow
from sales_graph.domain import ForecastCategory as ForecastCategoryValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.schema.accounts import Account, account_by
from sales_graph.schema.common import Connection, load_one, total_count_of
from sales_graph.schema.context import Info, visible_id
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.territories import Territory, territory_by
from sales_graph.schema.upstream import Contract
from sales_graph.schema.users import User, user_by

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

    from_row = from_attributes(ProductRow)


_OPPORTUNITY_CHANGE_CHANGED_BY = user_by(lambda source: source.actor_id)


@strawberry.type(description="One tracked change: stage, amount, probability, close date, owner.")
class OpportunityChange:
    field: str
    old_value: str | None
    new_value: str | None
    note: str | None
    changed_at: datetime
    actor_id: strawberry.Private[uuid.UUID | None]

    from_row = from_attributes(HistoryRow)

    @strawberry.field(metadata=_OPPORTUNITY_CHANGE_CHANGED_BY.metadata)
    def changed_by(self, info: Info) -> User | None:
        return _OPPORTUNITY_CHANGE_CHANGED_BY.resolve(self, info)


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

    from_row = from_attributes(OpportunityRow)


_OPPORTUNITY_ACCOUNT = account_by(lambda source: source.row.account_id)
_OPPORTUNITY_OWNER = user_by(lambda source: source.row.owner_id)
_OPPORTUNITY_TERRITORY = territory_by(lambda source: source.row.territory_id)


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

    from_row = from_attributes(
        OpportunityRow,
        deal_score_factors=lambda row: [DealScoreFactor(**f) for f in row.deal_score_factors],
        contract_terms=ContractTerms.from_row,
        metadata=lambda row: row.opportunity_metadata,
    )

    @strawberry.field(
        description="The account; null with an error when the caller may not read accounts.",
        metadata=_OPPORTUNITY_ACCOUNT.metadata,
    )
    def account(self, info: Info) -> Account | None:
        return _OPPORTUNITY_ACCOUNT.resolve(self, info)

    @strawberry.field(
        description="The owner; null with an error when the caller may not read users.",
        metadata=_OPPORTUNITY_OWNER.metadata,
    )
    def owner(self, info: Info) -> User | None:
        return _OPPORTUNITY_OWNER.resolve(self, info)

    @strawberry.field(metadata=_OPPORTUNITY_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _OPPORTUNITY_TERRITORY.resolve(self, info)

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
        upstream = info.context.loaders.upstream
        return await load_one(upstream.contract, self.row.contract_id, Contract.from_model)


@strawberry.type(description="A page of opportunities: offset paging or cursors.")
class OpportunityConnection(Connection[Opportunity]):
    total_count: int = total_count_of("opportunities")


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
