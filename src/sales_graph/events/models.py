"""The payload of every event we publish, and Marketing's ``lead.qualified`` we consume, as
pydantic models: the one definition of their fields.

``events/payloads.py`` builds the published ones from stored rows; ``events/schemas.py``
derives ``schema/events/*.schema.json`` from them. A field's description is its docstring.

On the wire (``model_dump(mode="json")``): ids are strings, dates ``YYYY-MM-DD``, times RFC 3339
UTC with ``Z`` and milliseconds (``timeutil.format_datetime``), amounts JSON numbers (as in the
spec's examples), absent values ``null``: every field is always there, but for
``opportunity.updated``'s ``changes``, which hold only the fields that changed.

What we publish is closed (``extra="forbid"``: ``additionalProperties: false``), so that a
payload drifting from its schema fails our tests; a new field is a contract change. Building a
payload checks the constraints its schema publishes (ranges, enums, patterns; not email
formats), so data that breaks the contract fails the command that records it rather than a
consumer. What we consume allows unknown fields at every level (``extra="allow"``), so
Marketing can add fields.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.json_schema import SkipJsonSchema

from sales_graph.domain import (
    AssignmentMethod,
    BillingFrequency,
    ForecastCategory,
    ForecastType,
    LeadStatus,
    OnboardingPriority,
    OpportunityStage,
    PaymentTerms,
)
from sales_graph.domain.periods import PERIOD_PATTERN
from sales_graph.timeutil import format_datetime

Time = Annotated[datetime, PlainSerializer(format_datetime, return_type=str)]
Money = Annotated[float, Field(ge=0)]
Percent = Annotated[int, Field(ge=0, le=100)]
Version = Annotated[int, Field(ge=1)]
# The format is published; the addresses were validated when they were stored.
Email = Annotated[str, Field(json_schema_extra={"format": "email"})]
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, description="Q1_2026, M03_2026 or FY2026.")]


class EventPayload(BaseModel):
    """The base of every payload we publish."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --- leads -----------------------------------------------------------------------------------


class LeadPayload(EventPayload):
    # lead.created, lead.qualified: the lead.
    lead_id: uuid.UUID
    """The lead."""
    status: LeadStatus
    first_name: str | None
    last_name: str | None
    email: Email
    phone: str | None
    company: str | None
    title: str | None
    industry: str | None
    employee_count: Annotated[int, Field(ge=0)] | None
    annual_revenue: Money | None
    source: str | None
    """Where the lead came from (webinar, partner, ...)."""
    score: Percent | None
    """Marketing's lead score."""
    campaign_id: str | None
    """Marketing's campaign id."""
    territory_id: uuid.UUID | None
    """The assigned territory."""
    assigned_to: uuid.UUID | None
    """The assigned rep (a user id)."""
    created_at: Time
    updated_at: Time


class LeadAssigned(EventPayload):
    lead_id: uuid.UUID
    """The lead."""
    territory_id: uuid.UUID | None
    """The territory now."""
    assigned_to: uuid.UUID | None
    """The rep now (a user id)."""
    previous_territory_id: uuid.UUID | None
    previous_assigned_to: uuid.UUID | None
    method: AssignmentMethod
    """rules: a territory's rules matched and no rep had capacity; round_robin: rules and a rep
    by round robin; manual: a manager or admin assigned it by hand."""
    reason: str | None
    assigned_at: Time


class LeadConverted(EventPayload):
    lead_id: uuid.UUID
    """The lead."""
    account_id: uuid.UUID
    """The account found or created."""
    contact_id: uuid.UUID
    """The primary contact created from the lead."""
    opportunity_id: uuid.UUID | None
    """The opportunity created, if any."""
    converted_at: Time


# --- opportunities ---------------------------------------------------------------------------


class OpportunityPayload(EventPayload):
    # opportunity.created: the opportunity; the other opportunity events start with it.
    opportunity_id: uuid.UUID
    """The opportunity."""
    name: str
    account_id: uuid.UUID
    lead_id: uuid.UUID | None
    """The lead it was converted from."""
    owner_id: uuid.UUID
    """The owning rep (a user id)."""
    territory_id: uuid.UUID | None
    stage: OpportunityStage
    probability: Percent | None
    """Win probability, percent."""
    amount: Money | None
    expected_close_date: date | None
    forecast_category: ForecastCategory
    deal_score: Percent | None
    """Predicted probability of winning, percent."""
    version: Version
    """Optimistic-concurrency version; +1 on every write."""
    updated_at: Time


T = TypeVar("T")


class Change(EventPayload, Generic[T]):
    model_config = ConfigDict(serialize_by_alias=True)

    from_: T = Field(alias="from")
    to: T


def _unchanged(value: object) -> bool:
    return value is None


def _change(description: str) -> Any:
    """A field that is left out when it did not change (never null when present)."""
    return Field(None, description=description, exclude_if=_unchanged)


class TrackedChanges(EventPayload):
    # The fields opportunity.updated tracks (services/opportunities.py compares them).
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: Change[str] | SkipJsonSchema[None] = _change("The name changed.")
    amount: Change[Money | None] | SkipJsonSchema[None] = _change("The amount changed.")
    expected_close_date: Change[date | None] | SkipJsonSchema[None] = _change(
        "The expected close date changed."
    )
    owner_id: Change[uuid.UUID] | SkipJsonSchema[None] = _change("The opportunity was reassigned.")
    deal_score: Change[Percent | None] | SkipJsonSchema[None] = _change(
        "The deal score changed (only ever together with another change)."
    )
    products: Change[None] | SkipJsonSchema[None] = _change(
        "The product lines were replaced (from and to are null; the lines are not in this event)."
    )

    @model_validator(mode="after")
    def _something_changed(self) -> TrackedChanges:
        if not self.model_fields_set:
            raise ValueError("an update changes at least one field")
        return self


class OpportunityUpdated(OpportunityPayload):
    changes: TrackedChanges
    """What changed: {field: {from, to}} for the fields that changed."""


class OpportunityStageChanged(OpportunityPayload):
    previous_stage: OpportunityStage
    previous_probability: Percent | None
    notes: str | None
    """The note given with the stage change."""
    changed_at: Time


class OpportunityWon(OpportunityPayload):
    stage: Literal[OpportunityStage.CLOSED_WON]
    closed_at: Time
    loss_reason: str | None


class OpportunityLost(OpportunityPayload):
    stage: Literal[OpportunityStage.CLOSED_LOST]
    closed_at: Time
    loss_reason: Annotated[str, Field(min_length=1)]
    """Why the deal was lost."""


# --- Billing and Operations (the spec's schemas, field for field) ------------------------------


class BilledProduct(EventPayload):
    product_id: str
    """The product (catalog id, e.g. prod_123)."""
    quantity: Annotated[int, Field(ge=1)]
    unit_price: Money
    discount: Annotated[float, Field(ge=0, le=1)]
    """Fraction off the unit price (0.10 = 10%)."""


class DealOwner(EventPayload):
    user_id: uuid.UUID
    name: str
    email: Email


class OpportunityClosedWon(EventPayload):
    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    amount: Money
    """The deal amount (the opportunity's amount, else the sum of its product lines)."""
    contract_term: Annotated[int, Field(ge=1)]
    """Contract term in months."""
    start_date: date
    """Contract start."""
    payment_terms: PaymentTerms
    billing_frequency: BillingFrequency
    products: Annotated[list[BilledProduct], Field(min_length=1)]
    owner: DealOwner
    """The owning rep."""


class ProductConfiguration(BaseModel):
    """Provisioning configuration, free-form."""

    model_config = ConfigDict(extra="allow", frozen=True)


class OnboardedProduct(EventPayload):
    product_id: str
    product_name: str
    """The product's name (its id when it has none)."""
    quantity: Annotated[int, Field(ge=1)]
    configuration: ProductConfiguration


class OnboardingContact(EventPayload):
    type: str
    """The contact's role, e.g. primary."""
    name: str
    email: Email | None
    phone: str | None


class OnboardingTrigger(EventPayload):
    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    contract_start_date: date
    products: Annotated[list[OnboardedProduct], Field(min_length=1)]
    contacts: list[OnboardingContact]
    """The account's contacts, the primary one first."""
    special_requirements: str | None
    priority: OnboardingPriority
    """The opportunity's own priority, else by amount: high from 100,000, medium from 25,000,
    else low."""


# --- territories -----------------------------------------------------------------------------


class AssignmentRule(EventPayload):
    """An assignment rule; null matches anything."""

    country: str | None
    """ISO 3166-1 alpha-2."""
    region: str | None
    industry: str | None
    employee_count_min: int | None
    employee_count_max: int | None
    annual_revenue_min: Money | None
    annual_revenue_max: Money | None


class TerritoryPayload(EventPayload):
    # territory.created, territory.updated: the territory with its members and rules.
    territory_id: uuid.UUID
    """The territory."""
    name: str
    description: str | None
    owner_id: uuid.UUID | None
    """The owning manager (a user id)."""
    is_active: bool
    member_ids: Annotated[list[uuid.UUID], Field(json_schema_extra={"uniqueItems": True})]
    """The reps (user ids)."""
    rules: list[AssignmentRule]
    """The rules, in the order they are tried."""
    version: Version


class TerritoryAssignmentChanged(EventPayload):
    territory_id: uuid.UUID | None
    """The territory now."""
    lead_id: uuid.UUID
    """The lead."""
    assigned_to: uuid.UUID | None
    """The rep now (a user id)."""
    previous_territory_id: uuid.UUID | None
    previous_assigned_to: uuid.UUID | None
    reason: str | None
    assigned_at: Time


# --- quotas ----------------------------------------------------------------------------------

Previous = TypeVar("Previous")


class _Quota(EventPayload, Generic[Previous]):
    quota_id: uuid.UUID
    """The quota."""
    period: Period
    user_id: uuid.UUID | None
    """The rep, for a user's quota."""
    territory_id: uuid.UUID | None
    """The territory, for a territory's quota."""
    amount: Money
    previous_amount: Previous
    version: Version


class QuotaSet(_Quota[Annotated[None, Field(description="Always null for a new quota.")]]):
    pass


class QuotaUpdated(_Quota[Annotated[Money, Field(description="The amount before the update.")]]):
    pass


class QuotaAttained(EventPayload):
    quota_id: uuid.UUID
    """The quota."""
    period: Period
    user_id: uuid.UUID | None
    territory_id: uuid.UUID | None
    amount: Money
    attained_amount: Money
    """Closed-won revenue in the period."""
    attainment: Annotated[float, Field(ge=0)]
    """attained_amount / amount, 4 decimals."""
    attained_at: Time


# --- Finance (the spec's schema, field for field) --------------------------------------------


class StageTotal(EventPayload):
    stage: OpportunityStage
    count: Annotated[int, Field(ge=0)]
    total_amount: Money
    weighted_amount: Money
    """Sum of amount x probability."""


class ForecastUpdated(EventPayload):
    period: Period
    territory_id: uuid.UUID
    forecast_type: ForecastType
    """Cumulative: commit includes closed; best_case includes commit."""
    amount: Money
    probability_weighted_amount: Money
    breakdown: list[StageTotal]
    """By stage, in pipeline order."""
    generated_at: Time


# --- Finance: the reports of the scheduled sync (docs/finance.md) ----------------------------


class ReportPayload(EventPayload):
    report_id: uuid.UUID
    """Stable for the kind of report and its period: consumers keep the highest version."""
    version: Version
    """1 for the first report of the period; a correction is the next version."""
    period: Period
    generated_at: Time
    lines: list[Any]


class RevenueForecastLine(EventPayload):
    territory_id: uuid.UUID
    forecast_type: ForecastType
    amount: Money
    probability_weighted_amount: Money


class RevenueForecastReport(ReportPayload):
    """The revenue forecast of a closed month, per territory and forecast type."""

    lines: list[RevenueForecastLine]


class PipelineReportEntry(EventPayload):
    territory_id: uuid.UUID | None
    owner_id: uuid.UUID
    stage: OpportunityStage
    count: Annotated[int, Field(ge=0)]
    total_amount: Money
    weighted_amount: Money
    """Sum of amount x probability."""


class PipelineReport(ReportPayload):
    """The opportunities expected to close in a closed quarter, by territory, owner and stage."""

    lines: list[PipelineReportEntry]


class TerritoryPerformance(EventPayload):
    territory_id: uuid.UUID
    quota: Money | None
    """The territory's quota for the quarter (null: none was set)."""
    closed_won: Money
    forecast: Money
    """The commit forecast (closed-won included)."""
    open_pipeline: Money
    """Open opportunities still expected to close in the quarter."""
    attainment: Annotated[float, Field(ge=0)] | None
    """closed_won / quota (1.0 = 100 %); null without a quota."""
    coverage: Annotated[float, Field(ge=0)] | None
    """open_pipeline / (quota - closed_won); null without a quota or once it is attained."""


class TerritoryPerformanceReport(ReportPayload):
    """Each active territory's figures for a closed quarter."""

    lines: list[TerritoryPerformance]


# --- webhooks --------------------------------------------------------------------------------


class WebhookEndpointDisabled(EventPayload):
    """A partner's webhook endpoint was disabled: a delivery to it failed every attempt
    (docs/real-time.md, "Outbound webhooks")."""

    endpoint_id: uuid.UUID
    """The endpoint."""
    client_id: str
    """The partner client that owns it."""
    url: str
    """Its target URL."""
    disabled_at: Time
    reason: str
    """Why, e.g. the last attempt's answer."""
    delivery_id: Annotated[int, Field(ge=1)] | None
    """The delivery whose attempts ran out."""
    event_id: uuid.UUID | None
    """The event that delivery carried."""


# --- inbound: Marketing's lead.qualified (the spec's Marketing schema, as the consumer takes it) --

Text100 = Annotated[str, Field(max_length=100)]
Text200 = Annotated[str, Field(max_length=200)]


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)


class MarketingProfile(_Inbound):
    """Who the lead is; email is required (one lead per address)."""

    first_name: Text100 | None = None
    last_name: Text100 | None = None
    email: Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"})]
    company: Text200 | None = None
    title: Text200 | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None


class MarketingFirmographic(_Inbound):
    industry: Text100 | None = None
    employee_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    # NUMERIC(18, 2) with 16 digits: below 10^14.
    annual_revenue: Annotated[float, Field(ge=0, lt=10**14)] | None = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    """ISO 3166-1 alpha-2 (not in the spec's example; territory rules route by it)."""
    region: Text100 | None = None


class MarketingAttribution(_Inbound):
    first_touch: Text100 | None = None
    last_touch: Text100 | None = None
    touches: Annotated[list[Text100], Field(max_length=50)] | SkipJsonSchema[None] = None


class MarketingLead(_Inbound):
    lead_id: uuid.UUID
    """Marketing's id of the lead; sales-graph keeps it as the lead id."""
    source: Text100 | None = None
    score: Percent | None = None
    campaign_id: Annotated[str, Field(max_length=64)] | None = None
    attribution: MarketingAttribution | None = None
    profile: MarketingProfile
    firmographic: MarketingFirmographic | None = None


class MarketingLeadQualified(_Inbound):
    """Marketing's qualified lead, consumed from the marketing_leads topic setting and validated
    against this schema; an invalid message goes to <topic>.dlq. Unknown fields are allowed at
    every level (forward compatibility) and ignored."""

    event_id: Annotated[str, Field(min_length=1, max_length=100)] | SkipJsonSchema[None] = None
    """Optional; when present the consumer processes each event_id once."""
    event_type: Literal["lead.qualified"]
    timestamp: datetime
    payload: MarketingLead
