"""The tables of sales-graph (SQLModel). Alembic migrations in ``migrations/`` create them.

Enumerated values (role, status, stage, ...) are stored as short strings named in
``sales_graph.domain``; identifiers are UUIDs; money is NUMERIC(18, 2); times are UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from sales_graph.db.types import AutoId, JSONDoc, Money, UTCDateTime
from sales_graph.timeutil import utcnow


def _id() -> uuid.UUID:
    return uuid.uuid4()


class _Timestamps(SQLModel):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(_Timestamps, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32, index=True)
    manager_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    # Most open leads round robin hands this rep; None means no cap.
    lead_capacity: int | None = Field(default=None, ge=0)
    is_active: bool = True


class Territory(_Timestamps, table=True):
    __tablename__ = "territories"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str | None = Field(default=None, max_length=2000)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    is_active: bool = Field(default=True, index=True)
    # Order in which territories are tried for a new lead (lower first).
    priority: int = 100
    # Advanced by every automatic assignment; that UPDATE is the row lock that serialises
    # concurrent assignments to the territory (PostgreSQL and SQLite alike).
    assignment_seq: int = Field(default=0, sa_type=BigInteger)
    version: int = 1


class TerritoryMember(SQLModel, table=True):
    __tablename__ = "territory_members"

    territory_id: uuid.UUID = Field(foreign_key="territories.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    position: int = 0
    # Round-robin turns this member has had in this territory.
    turns: int = 0
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TerritoryRule(SQLModel, table=True):
    __tablename__ = "territory_rules"
    __table_args__ = (UniqueConstraint("territory_id", "position"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    territory_id: uuid.UUID = Field(foreign_key="territories.id", index=True)
    position: int = 0
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    industry: str | None = Field(default=None, max_length=100)
    employee_count_min: int | None = None
    employee_count_max: int | None = None
    annual_revenue_min: Decimal | None = Field(default=None, sa_type=Money)
    annual_revenue_max: Decimal | None = Field(default=None, sa_type=Money)


class Account(_Timestamps, table=True):
    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_name_lower", "name_normalized"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    name: str = Field(max_length=200)
    name_normalized: str = Field(max_length=200)
    domain: str | None = Field(default=None, max_length=253, index=True)
    industry: str | None = Field(default=None, max_length=100)
    employee_count: int | None = None
    annual_revenue: Decimal | None = Field(default=None, sa_type=Money)
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id", index=True)
    # Last known upstream signals, kept so deal scoring never waits on an upstream.
    health_score: int | None = None
    nps: int | None = None
    open_critical_tickets: int | None = None
    escalations: int | None = None
    signals_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Contact(_Timestamps, table=True):
    __tablename__ = "contacts"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", index=True)
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id")
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    title: str | None = Field(default=None, max_length=200)
    contact_type: str = Field(default="primary", max_length=32)
    is_primary: bool = False


class Product(_Timestamps, table=True):
    __tablename__ = "products"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    unit_price: Decimal = Field(sa_type=Money)
    is_active: bool = True
    default_configuration: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)


class Lead(_Timestamps, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_created_id", "created_at", "id"),
        Index("ix_leads_status_created", "status", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    status: str = Field(default="new", max_length=32)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str = Field(max_length=254)
    # Lower-cased email: one lead per address.
    email_normalized: str = Field(max_length=254, unique=True)
    phone: str | None = Field(default=None, max_length=40)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    employee_count: int | None = None
    annual_revenue: Decimal | None = Field(default=None, sa_type=Money)
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=100)
    score: int | None = None
    campaign_id: str | None = Field(default=None, max_length=64)
    attribution: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)
    lead_metadata: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    assigned_to_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id", index=True)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disqualified_reason: str | None = Field(default=None, max_length=2000)
    converted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opportunity_id: uuid.UUID | None = Field(default=None)
    account_id: uuid.UUID | None = Field(default=None, foreign_key="accounts.id")
    version: int = 1


class LeadCount(SQLModel, table=True):
    """How many leads there are of an (assignee, territory, status), in up to 16 shards: kept
    by PostgreSQL in the transaction that changes the leads (statement triggers of migration
    0005), so a total under the access filter sums a few rows per key instead of counting
    every lead. A connection adds to the shard of its backend (``pg_backend_pid() % 16``):
    concurrent writers do not wait on one counter. Not kept on SQLite (counted there).
    """

    __tablename__ = "lead_counts"
    __table_args__ = (
        UniqueConstraint(
            "assigned_to_id",
            "territory_id",
            "status",
            "shard",
            name="uq_lead_counts_key",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=AutoId, sa_column_kwargs={"autoincrement": True}
    )
    assigned_to_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    status: str = Field(max_length=32)
    shard: int
    n: int = Field(default=0, sa_type=BigInteger)


class LeadAssignment(SQLModel, table=True):
    """Every assignment of a lead: who did it, when, why."""

    __tablename__ = "lead_assignments"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    lead_id: uuid.UUID = Field(foreign_key="leads.id", index=True)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id")
    assigned_to_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    previous_assigned_to_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    actor_id: uuid.UUID | None = Field(default=None)
    method: str = Field(max_length=32)  # rules | round_robin | manual
    reason: str | None = Field(default=None, max_length=2000)
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Opportunity(_Timestamps, table=True):
    __tablename__ = "opportunities"
    __table_args__ = (
        Index("ix_opportunities_owner_close", "owner_id", "expected_close_date"),
        Index("ix_opportunities_territory_close", "territory_id", "expected_close_date"),
        Index("ix_opportunities_created_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    name: str = Field(max_length=200)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", index=True)
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id")
    stage: str = Field(max_length=32, index=True)
    amount: Decimal | None = Field(default=None, sa_type=Money)
    probability: int | None = None
    forecast_category: str = Field(max_length=32)
    expected_close_date: date | None = Field(default=None, index=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id", index=True)
    next_step: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=10000)
    opportunity_metadata: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    contract_term: int | None = None
    start_date: date | None = None
    payment_terms: str | None = Field(default=None, max_length=32)
    billing_frequency: str | None = Field(default=None, max_length=32)
    special_requirements: str | None = Field(default=None, max_length=2000)
    priority: str | None = Field(default=None, max_length=16)
    loss_reason: str | None = Field(default=None, max_length=2000)
    contract_id: str | None = Field(default=None, max_length=64)
    deal_score: int | None = None
    deal_score_factors: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)
    deal_score_model_version: str | None = Field(default=None, max_length=64)
    close_date_slips: int = 0
    stage_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1


class OpportunityProduct(SQLModel, table=True):
    __tablename__ = "opportunity_products"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", index=True)
    product_id: str = Field(max_length=64)
    product_name: str | None = Field(default=None, max_length=200)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(sa_type=Money)
    discount: Decimal = Field(default=Decimal("0"), sa_type=Money)
    configuration: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    position: int = 0


class OpportunityHistory(SQLModel, table=True):
    """One row per tracked change: stage, amount, probability, close date, owner."""

    __tablename__ = "opportunity_history"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", index=True)
    field: str = Field(max_length=64)
    old_value: str | None = Field(default=None, max_length=2000)
    new_value: str | None = Field(default=None, max_length=2000)
    actor_id: uuid.UUID | None = None
    note: str | None = Field(default=None, max_length=10000)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Forecast(SQLModel, table=True):
    """A forecast: submitted by a manager, or generated from the pipeline."""

    __tablename__ = "forecasts"
    __table_args__ = (Index("ix_forecasts_period_territory", "period", "territory_id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(max_length=16)  # submitted | generated
    period: str = Field(max_length=16)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id")
    forecast_type: str = Field(max_length=32)
    amount: Decimal = Field(sa_type=Money)
    probability_weighted_amount: Decimal | None = Field(default=None, sa_type=Money)
    ai_predicted_amount: Decimal | None = Field(default=None, sa_type=Money)
    current_pipeline: Decimal | None = Field(default=None, sa_type=Money)
    pipeline_coverage: Decimal | None = Field(default=None, sa_type=Money)
    breakdown: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)
    notes: str | None = Field(default=None, max_length=10000)
    submitted_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


_USER_QUOTA = text("territory_id IS NULL")
_TERRITORY_QUOTA = text("user_id IS NULL")


class Quota(_Timestamps, table=True):
    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("period", "user_id", "territory_id", name="uq_quotas_target"),
        # One of the two targets is always NULL, and NULLs never collide in a unique
        # constraint: one quota per period and target takes these partial indexes.
        Index(
            "uq_quotas_user_period",
            "period",
            "user_id",
            unique=True,
            postgresql_where=_USER_QUOTA,
            sqlite_where=_USER_QUOTA,
        ),
        Index(
            "uq_quotas_territory_period",
            "period",
            "territory_id",
            unique=True,
            postgresql_where=_TERRITORY_QUOTA,
            sqlite_where=_TERRITORY_QUOTA,
        ),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    period: str = Field(max_length=16, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    territory_id: uuid.UUID | None = Field(default=None, foreign_key="territories.id")
    amount: Decimal = Field(sa_type=Money)
    attained_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    set_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    version: int = 1


class OutboxEvent(SQLModel, table=True):
    """An event written in the transaction of its change, published later by the relay."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The relays' queue: only pending rows, in id order (claim reads it without sorting).
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL AND parked_at IS NULL"),
            sqlite_where=text("published_at IS NULL AND parked_at IS NULL"),
        ),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=AutoId, sa_column_kwargs={"autoincrement": True}
    )
    event_id: uuid.UUID = Field(unique=True)
    event_type: str = Field(max_length=64)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    envelope: dict[str, Any] = Field(sa_type=JSONDoc)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=4000)
    # After a failed attempt: not before this time (backoff).
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    parked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The W3C traceparent of the span that recorded the event (tracing on), sent as a header.
    traceparent: str | None = Field(default=None, max_length=55)


class InboxEvent(SQLModel, table=True):
    """An inbound event already processed by a consumer (exactly-once effect)."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=100)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ScheduledRun(SQLModel, table=True):
    """A run of a scheduled job (the daily forecast): one row per job and slot, so that of
    several workers exactly one runs it."""

    __tablename__ = "scheduled_runs"

    job: str = Field(primary_key=True, max_length=100)
    slot: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires", "expires_at"),)

    principal: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2000)
    request_hash: str = Field(max_length=64)
    state: str = Field(max_length=16)  # in_flight | done
    response_status: int | None = None
    response_body: bytes | None = None
    response_headers: dict[str, str] | None = Field(default=None, sa_type=JSONDoc)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ApiClient(_Timestamps, table=True):
    """An OAuth2 client (client credentials) or partner system; acts as ``user_id`` if set."""

    __tablename__ = "api_clients"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    name: str = Field(max_length=200)
    client_id: str = Field(max_length=100, unique=True)
    client_secret_hash: str | None = Field(default=None, max_length=200)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    scopes: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="api_clients.id", index=True)
    name: str = Field(max_length=200)
    # The first characters of the key, to find the row; the rest is only kept hashed.
    prefix: str = Field(max_length=32, unique=True)
    key_hash: str = Field(max_length=200)
    scopes: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DealScoreModel(SQLModel, table=True):
    """A version of the deal-score model: logistic coefficients fitted on closed history."""

    __tablename__ = "deal_score_models"

    version: str = Field(primary_key=True, max_length=64)
    # {"weights": {feature: w}, "baseline": {feature: typical value}}
    coefficients: dict[str, Any] = Field(sa_type=JSONDoc)
    intercept: float
    auc: float | None = None
    trained_on: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# --- the sync with Finance (docs/finance.md) --------------------------------------------------


class FinanceRun(SQLModel, table=True):
    """One run of one kind of sync for one period: by the schedule or by hand, with its
    status (running, succeeded, failed) and what it sent."""

    __tablename__ = "finance_runs"
    __table_args__ = (Index("ix_finance_runs_kind_status", "kind", "status", "finished_at"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(max_length=32)
    period: str = Field(max_length=16)
    trigger: str = Field(max_length=16)  # schedule | manual
    status: str = Field(max_length=16)  # running | succeeded | failed | interrupted
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)
    error: str | None = Field(default=None, max_length=4000)


class FinanceReport(SQLModel, table=True):
    """A version of a report sent to Finance: ``report_id`` is stable per kind and period, a
    new version is made only when the figures changed (the previous one is superseded)."""

    __tablename__ = "finance_reports"

    report_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    kind: str = Field(max_length=32)
    period: str = Field(max_length=16, index=True)
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PipelineReportLine(SQLModel, table=True):
    """A line of a quarterly pipeline report: one stage of one owner in one territory."""

    __tablename__ = "pipeline_report_lines"
    __table_args__ = (Index("ix_pipeline_report_lines_report", "report_id", "version"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    report_id: uuid.UUID
    version: int
    period: str = Field(max_length=16)
    territory_id: uuid.UUID | None = Field(default=None)
    owner_id: uuid.UUID
    stage: str = Field(max_length=32)
    count: int
    total_amount: Decimal = Field(sa_type=Money)
    weighted_amount: Decimal = Field(sa_type=Money)


class TerritoryPerformanceLine(SQLModel, table=True):
    """A territory's figures of a closed quarter, as reported to Finance."""

    __tablename__ = "territory_performance_lines"
    __table_args__ = (Index("ix_territory_performance_lines_report", "report_id", "version"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    report_id: uuid.UUID
    version: int
    period: str = Field(max_length=16)
    territory_id: uuid.UUID
    quota: Decimal | None = Field(default=None, sa_type=Money)
    closed_won: Decimal = Field(sa_type=Money)
    forecast: Decimal = Field(sa_type=Money)
    open_pipeline: Decimal = Field(sa_type=Money)
    attainment: Decimal | None = Field(default=None, sa_type=Numeric(12, 4))
    coverage: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))


class CommissionBatch(SQLModel, table=True):
    """A request to Finance's commissions endpoint: planned (``pending``, with the deals it
    carries) before it is sent, ``sent`` once Finance's answer is stored. Its id is its
    Idempotency-Key, so a batch sent again after a crash has no second effect."""

    __tablename__ = "commission_batches"
    __table_args__ = (UniqueConstraint("period", "version", "position"),)

    id: uuid.UUID = Field(primary_key=True)
    period: str = Field(max_length=16, index=True)
    version: int
    position: int
    status: str = Field(max_length=16)  # pending | sent | rejected
    deals: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)
    plan_id: str | None = Field(default=None, max_length=64)
    calculation_id: str | None = Field(default=None, max_length=100)
    total_commission: Decimal | None = Field(default=None, sa_type=Money)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CommissionLine(SQLModel, table=True):
    """Finance's commission on one deal, in one version of its period's calculation; a later
    version's line for the same deal supersedes it (the line stays)."""

    __tablename__ = "commission_lines"
    __table_args__ = (Index("ix_commission_lines_period_owner", "period", "owner_id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    batch_id: uuid.UUID = Field(foreign_key="commission_batches.id", index=True)
    period: str = Field(max_length=16)
    version: int
    opportunity_id: uuid.UUID = Field(index=True)
    owner_id: uuid.UUID
    territory_id: uuid.UUID | None = Field(default=None)
    eligible: bool
    amount: Decimal = Field(sa_type=Money)
    rate: Decimal = Field(sa_type=Numeric(9, 6))
    commission: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    # What was sent for the deal (owner, amount, eligibility): a change means a correction.
    deal_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    superseded_by_version: int | None = None


# --- outbound webhooks to partners (docs/real-time.md) ---------------------------------------


class WebhookEndpoint(_Timestamps, table=True):
    """A partner client's target URL and the event types it receives there. The secret signs
    the deliveries (Standard Webhooks), so it is kept as it is, not hashed; after a rotation
    the previous one signs as well until ``previous_secret_expires_at``. A deleted endpoint
    keeps its row and its deliveries (``deleted_at`` set): sent nothing, found by no one."""

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    # The owner: the partner client (api_clients.id) that registered it.
    client_id: uuid.UUID = Field(foreign_key="api_clients.id", index=True)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = True
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    version: int = 1
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: pending until the endpoint answers 2xx (delivered) or the
    attempts run out (failed), or its endpoint is deleted (cancelled). A replay is a new row
    naming the one it replays."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The dispatchers' queue: pending rows only.
        Index(
            "ix_webhook_deliveries_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # An event reaches an endpoint once (replays aside): the fan-out's second guard.
        Index(
            "ix_webhook_deliveries_event",
            "endpoint_id",
            "event_id",
            unique=True,
            postgresql_where=text("replay_of IS NULL"),
            sqlite_where=text("replay_of IS NULL"),
        ),
        # The log of an endpoint, newest first, and its aggregates' order.
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "ordering_key", "id"),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=AutoId, sa_column_kwargs={"autoincrement": True}
    )
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id")
    event_id: uuid.UUID
    event_type: str = Field(max_length=64)
    # The event's topic and message key: deliveries of one key to one endpoint go in id order.
    ordering_key: str = Field(max_length=300)
    envelope: dict[str, Any] = Field(sa_type=JSONDoc)
    # pending | delivered | failed | cancelled (its endpoint deleted)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    replay_of: int | None = Field(default=None, sa_type=AutoId)
