"""GraphQL types of what the external systems tell us (``docs/upstreams.md``).

Every type has ``stale``: true when the value is a cached copy served because its system is
failing right now. Money is a Float in the payload's ``currency``.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from sales_graph.connectors.billing.models import Contract as ContractModel
from sales_graph.connectors.customer_experience.models import (
    AccountHealth as HealthModel,
)
from sales_graph.connectors.customer_experience.models import (
    AccountNps as NpsModel,
)
from sales_graph.connectors.customer_experience.models import (
    AccountTickets as TicketsModel,
)
from sales_graph.connectors.customer_experience.models import (
    AccountUsage as UsageModel,
)
from sales_graph.connectors.finance.models import Revenue as RevenueModel
from sales_graph.connectors.marketing.models import Campaign as CampaignModel
from sales_graph.connectors.marketing.models import LeadScore as LeadScoreModel
from sales_graph.connectors.support.models import CriticalTickets as CriticalTicketsModel
from sales_graph.connectors.support.models import Escalations as EscalationsModel
from sales_graph.connectors.support.models import FeatureRequests as FeatureRequestsModel
from sales_graph.schema.common import money

_STALE = "True when this is a cached copy served while the system is failing."


@strawberry.type(description="One driver of an account's health score.")
class HealthDriver:
    name: str
    score: int


@strawberry.type(description="Customer Experience: the account's health (0-100).")
class AccountHealth:
    score: int
    status: str = strawberry.field(description="healthy, at_risk or critical (CX's banding).")
    trend: str | None
    drivers: list[HealthDriver]
    calculated_at: datetime
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: HealthModel) -> AccountHealth:
        return cls(
            score=m.score,
            status=m.status,
            trend=m.trend,
            drivers=[HealthDriver(name=d.name, score=d.score) for d in m.drivers],
            calculated_at=m.calculated_at,
            stale=m.stale,
        )


@strawberry.type(description="How much of the account uses one feature (0-1).")
class FeatureAdoption:
    feature: str
    adoption_rate: float


@strawberry.type(description="Customer Experience: product usage over the last period.")
class AccountUsage:
    period_start: date
    period_end: date
    licensed_seats: int
    monthly_active_users: int
    daily_active_users: int
    seat_utilization: float
    api_calls: float = strawberry.field(description="A count; a Float as it may exceed Int.")
    feature_adoption: list[FeatureAdoption]
    last_active_at: datetime | None
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: UsageModel) -> AccountUsage:
        return cls(
            period_start=m.period_start,
            period_end=m.period_end,
            licensed_seats=m.licensed_seats,
            monthly_active_users=m.monthly_active_users,
            daily_active_users=m.daily_active_users,
            seat_utilization=m.seat_utilization,
            api_calls=float(m.api_calls),
            feature_adoption=[
                FeatureAdoption(feature=f.feature, adoption_rate=f.adoption_rate)
                for f in m.feature_adoption
            ],
            last_active_at=m.last_active_at,
            stale=m.stale,
        )


@strawberry.type(description="A customer's ticket as Customer Experience knows it.")
class CustomerTicket:
    ticket_id: str
    subject: str
    status: str
    priority: str
    channel: str | None
    opened_at: datetime
    closed_at: datetime | None


@strawberry.type(description="Customer Experience: the account's recent tickets.")
class CustomerTickets:
    items: list[CustomerTicket]
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: TicketsModel) -> CustomerTickets:
        return cls(
            items=[
                CustomerTicket(
                    ticket_id=t.ticket_id,
                    subject=t.subject,
                    status=t.status,
                    priority=t.priority,
                    channel=t.channel,
                    opened_at=t.opened_at,
                    closed_at=t.closed_at,
                )
                for t in m.items
            ],
            stale=m.stale,
        )


@strawberry.type(description="Customer Experience: Net Promoter Score (-100..100).")
class AccountNps:
    score: int
    respondents: int
    promoters: int
    passives: int
    detractors: int
    survey_date: date | None
    latest_comment: str | None
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: NpsModel) -> AccountNps:
        return cls(
            score=m.score,
            respondents=m.respondents,
            promoters=m.promoters,
            passives=m.passives,
            detractors=m.detractors,
            survey_date=m.survey_date,
            latest_comment=m.latest_comment,
            stale=m.stale,
        )


@strawberry.type(description="A critical ticket open at Support.")
class CriticalTicket:
    ticket_id: str
    title: str
    severity: str
    status: str
    product_area: str | None
    opened_at: datetime
    sla_due_at: datetime | None
    assignee: str | None


@strawberry.type(description="Support: the account's critical tickets.")
class CriticalTickets:
    items: list[CriticalTicket]
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: CriticalTicketsModel) -> CriticalTickets:
        return cls(
            items=[
                CriticalTicket(
                    ticket_id=t.ticket_id,
                    title=t.title,
                    severity=t.severity,
                    status=t.status,
                    product_area=t.product_area,
                    opened_at=t.opened_at,
                    sla_due_at=t.sla_due_at,
                    assignee=t.assignee,
                )
                for t in m.items
            ],
            stale=m.stale,
        )


@strawberry.type(description="A Support escalation.")
class Escalation:
    escalation_id: str
    ticket_id: str | None
    level: int
    reason: str
    status: str
    escalated_at: datetime
    resolved_at: datetime | None


@strawberry.type(description="Support: the account's escalation history.")
class Escalations:
    items: list[Escalation]
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: EscalationsModel) -> Escalations:
        return cls(
            items=[
                Escalation(
                    escalation_id=e.escalation_id,
                    ticket_id=e.ticket_id,
                    level=e.level,
                    reason=e.reason,
                    status=e.status,
                    escalated_at=e.escalated_at,
                    resolved_at=e.resolved_at,
                )
                for e in m.items
            ],
            stale=m.stale,
        )


@strawberry.type(description="A feature the account asked Support for.")
class FeatureRequest:
    request_id: str
    title: str
    status: str
    product_area: str | None
    votes: int
    requested_at: datetime


@strawberry.type(description="Support: the account's feature requests.")
class FeatureRequests:
    items: list[FeatureRequest]
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: FeatureRequestsModel) -> FeatureRequests:
        return cls(
            items=[
                FeatureRequest(
                    request_id=r.request_id,
                    title=r.title,
                    status=r.status,
                    product_area=r.product_area,
                    votes=r.votes,
                    requested_at=r.requested_at,
                )
                for r in m.items
            ],
            stale=m.stale,
        )


@strawberry.type(description="Marketing: the campaign a lead came from.")
class Campaign:
    campaign_id: str
    name: str
    channel: str
    status: str
    start_date: date
    end_date: date | None
    budget: float | None
    spend: float | None
    currency: str
    leads_generated: int
    opportunities_influenced: int
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: CampaignModel) -> Campaign:
        return cls(
            campaign_id=m.campaign_id,
            name=m.name,
            channel=m.channel,
            status=m.status,
            start_date=m.start_date,
            end_date=m.end_date,
            budget=money(m.budget),
            spend=money(m.spend),
            currency=m.currency,
            leads_generated=m.leads_generated,
            opportunities_influenced=m.opportunities_influenced,
            stale=m.stale,
        )


@strawberry.type(description="One factor of Marketing's lead score.")
class MarketingScoreFactor:
    name: str
    points: int


@strawberry.type(description="Marketing: its current score of the lead (0-100).")
class MarketingScore:
    score: int
    grade: str
    factors: list[MarketingScoreFactor]
    model_version: str | None
    scored_at: datetime
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: LeadScoreModel) -> MarketingScore:
        return cls(
            score=m.score,
            grade=m.grade,
            factors=[MarketingScoreFactor(name=f.name, points=f.points) for f in m.factors],
            model_version=m.model_version,
            scored_at=m.scored_at,
            stale=m.stale,
        )


@strawberry.type(description="One product line of a Billing contract.")
class ContractProduct:
    product_id: str
    quantity: int
    unit_price: float
    discount: float


@strawberry.type(description="One payment due under a Billing contract.")
class ContractInstalment:
    due_date: date
    amount: float


@strawberry.type(description="Billing: the contract created when the deal closed won.")
class Contract:
    contract_id: str
    status: str
    amount: float
    currency: str
    contract_term: int = strawberry.field(description="Months.")
    start_date: date
    end_date: date | None
    payment_terms: str
    billing_frequency: str
    products: list[ContractProduct]
    payment_schedule: list[ContractInstalment]
    version: int
    created_at: datetime
    updated_at: datetime
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: ContractModel) -> Contract:
        return cls(
            contract_id=m.contract_id,
            status=m.status,
            amount=float(m.amount),
            currency=m.currency,
            contract_term=m.contract_term,
            start_date=m.start_date,
            end_date=m.end_date,
            payment_terms=m.payment_terms,
            billing_frequency=m.billing_frequency,
            products=[
                ContractProduct(
                    product_id=p.product_id,
                    quantity=p.quantity,
                    unit_price=float(p.unit_price),
                    discount=p.discount,
                )
                for p in m.products
            ],
            payment_schedule=[
                ContractInstalment(due_date=i.due_date, amount=float(i.amount))
                for i in m.payment_schedule
            ],
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            stale=m.stale,
        )


@strawberry.type(description="Revenue of one month.")
class MonthlyRevenue:
    month: str
    recognized_revenue: float


@strawberry.type(description="Finance: actual revenue of a period, next to the forecast.")
class Revenue:
    period: str = strawberry.field(description="The period as Finance names it.")
    currency: str
    recognized_revenue: float
    booked_revenue: float
    billed_revenue: float
    by_month: list[MonthlyRevenue]
    as_of: datetime
    stale: bool = strawberry.field(description=_STALE)

    @classmethod
    def from_model(cls, m: RevenueModel) -> Revenue:
        return cls(
            period=m.period,
            currency=m.currency,
            recognized_revenue=float(m.recognized_revenue),
            booked_revenue=float(m.booked_revenue),
            billed_revenue=float(m.billed_revenue),
            by_month=[
                MonthlyRevenue(month=x.month, recognized_revenue=float(x.recognized_revenue))
                for x in m.by_month
            ],
            as_of=m.as_of,
            stale=m.stale,
        )
