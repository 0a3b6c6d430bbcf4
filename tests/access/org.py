"""The organisation the access tests seed, as plain records, and the oracle of who sees what.

Everything here is computed from the records below with plain Python sets, never by asking
``sales_graph`` what is visible: the oracle is the contract of the access rules (the lead's
brief, docs/graphql.md "Who sees what"), written out independently of the code under test.

    admin                                       TD (inactive, owned by admin, no members)
    head (manager)
      mA (manager) -- owns TA: members rA1 rA2 rX      (rIn: inactive rep reporting to mA)
        rA1 rA2 rX rIn
      mB (manager) -- owns TB: members rB1 rB2 rX; mB is also a member of TC
        rB1 rB2
    mC (manager, no reports) -- owns TC: no reps (member: mB)

rX is a rep in two territories (TA and TB). Accounts of one territory carry opportunities of
reps of another; leads are unassigned in several territories; some leads are converted, one
into an opportunity later handed to another rep.

What Finance got (docs/finance.md): commission lines of the months of the current quarter (and
one month either side), in batches per month and version, with a correction that superseded a
line, a line no longer eligible, a line of the inactive rep, lines of deals in a territory of
another manager (commissions follow the owner, not the territory) and a line whose deal is now
someone else's; a pipeline report and a territory performance report of the current quarter in
two versions (the first must never be read), and a pipeline report of the previous quarter.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sales_graph.db.models import (
    Account,
    CommissionBatch,
    CommissionLine,
    Contact,
    FinanceReport,
    Forecast,
    Lead,
    LeadAssignment,
    Opportunity,
    OpportunityHistory,
    OpportunityProduct,
    PipelineReportLine,
    Product,
    Quota,
    Territory,
    TerritoryMember,
    TerritoryPerformanceLine,
    TerritoryRule,
    User,
)

# ------------------------------------------------------------------ vocabulary of the contract

READ_SCOPES = (
    "leads:read",
    "accounts:read",
    "opportunities:read",
    "territories:read",
    "users:read",
    "forecasts:read",
    "quotas:read",
    "commissions:read",
)
WRITE_SCOPES = (
    "leads:write",
    "opportunities:write",
    "territories:write",
    "forecasts:write",
    "quotas:write",
    "webhooks:manage",
)
ALL_SCOPES = frozenset(READ_SCOPES + WRITE_SCOPES)

# Each GraphQL type is gated by one scope (for partners and scoped user clients).
TYPE_SCOPE: dict[str, str] = {
    "Lead": "leads:read",
    "TerritoryAssignment": "leads:read",
    "Campaign": "leads:read",
    "MarketingScore": "leads:read",
    "Account": "accounts:read",
    "Contact": "accounts:read",
    "AccountHealth": "accounts:read",
    "AccountUsage": "accounts:read",
    "AccountNps": "accounts:read",
    "CustomerTickets": "accounts:read",
    "CriticalTickets": "accounts:read",
    "Escalations": "accounts:read",
    "FeatureRequests": "accounts:read",
    "Opportunity": "opportunities:read",
    "OpportunityProduct": "opportunities:read",
    "OpportunityChange": "opportunities:read",
    "OpportunityHistory": "opportunities:read",
    "Contract": "opportunities:read",
    "Pipeline": "opportunities:read",
    "Territory": "territories:read",
    "TerritoryRule": "territories:read",
    "User": "users:read",
    "Forecast": "forecasts:read",
    "Revenue": "forecasts:read",
    "Quota": "quotas:read",
    "CommissionLine": "commissions:read",
    "PipelineReportLine": "forecasts:read",
    "TerritoryPerformance": "forecasts:read",
    "WebhookEndpoint": "webhooks:manage",
    "WebhookDelivery": "webhooks:manage",
}
# Types whose records are the sales data (visibility by ownership) and the directory (all users).
SALES_TYPES = ("Lead", "Account", "Contact", "Opportunity", "Quota", "Forecast")
DIRECTORY_TYPES = ("User", "Territory")
# What Finance got: records with an id but no singular root (commission lines), and report
# lines without an id. OWNED_TYPES: every type whose ids the oracle decides by ownership.
FINANCE_RECORD_TYPES = ("CommissionLine",)
FINANCE_LINE_TYPES = ("PipelineReportLine", "TerritoryPerformance")
# A partner client's own records (its webhook endpoints and their deliveries): seen by that
# client's keys with webhooks:manage, by nobody else (docs/real-time.md).
CLIENT_TYPES = ("WebhookEndpoint", "WebhookDelivery")
OWNED_TYPES = (*SALES_TYPES, *FINANCE_RECORD_TYPES, *CLIENT_TYPES)

OPEN_STAGES = ("discovery", "qualification", "proposal", "negotiation")
STAGE_ORDER = (*OPEN_STAGES, "closed_won", "closed_lost")
DEFAULT_PROBABILITY = {
    "discovery": 20,
    "qualification": 40,
    "proposal": 60,
    "negotiation": 90,
    "closed_won": 100,
    "closed_lost": 0,
}
FORECAST_STAGES = {
    "CLOSED": ("closed_won",),
    "COMMIT": ("negotiation", "closed_won"),
    "BEST_CASE": ("proposal", "negotiation", "closed_won"),
    "PIPELINE": ("discovery", "qualification", "proposal", "negotiation"),
}
CENT = Decimal("0.01")


# ------------------------------------------------------------------ periods


@dataclass(frozen=True)
class Period:
    name: str
    start: date
    end: date

    def holds(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


def quarter(day: date) -> Period:
    """The calendar quarter of ``day`` (the fiscal year starts in January by default)."""
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    end_month = start.month + 3
    end = (
        date(start.year + 1, 1, 1) if end_month > 12 else date(start.year, end_month, 1)
    ) - timedelta(days=1)
    return Period(f"Q{q + 1}_{day.year}", start, end)


def month(day: date) -> Period:
    start = date(day.year, day.month, 1)
    end = (
        date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    ) - timedelta(days=1)
    return Period(f"M{day.month:02d}_{day.year}", start, end)


def months_of(period: Period) -> list[Period]:
    """The calendar months a period covers."""
    found = []
    day = period.start
    while day <= period.end:
        found.append(month(day))
        day = found[-1].end + timedelta(days=1)
    return found


CURRENT = quarter(date.today())
NEXT = quarter(CURRENT.end + timedelta(days=1))
PREVIOUS = quarter(CURRENT.start - timedelta(days=1))
WHEN = {"cur": CURRENT.start + timedelta(days=20), "next": NEXT.start + timedelta(days=10)}
WHEN["prev"] = PREVIOUS.start + timedelta(days=15)
WHEN["cur2"] = CURRENT.start + timedelta(days=45)
MONTHS = months_of(CURRENT)
MONTH_BEFORE = month(PREVIOUS.end)
MONTH_AFTER = month(NEXT.start)


# ------------------------------------------------------------------ the records


@dataclass
class UserRec:
    key: str
    role: str
    manager: str | None
    active: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def email(self) -> str:
        return f"{self.key.lower()}@access-org.com"


@dataclass
class TerritoryRec:
    key: str
    owner: str
    members: list[str]
    active: bool = True
    priority: int = 100
    rules: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class LeadRec:
    key: str
    territory: str | None
    assigned: str | None
    status: str = "working"
    company: str | None = None
    email: str | None = None
    campaign: str | None = None
    opportunity: str | None = None
    account: str | None = None
    assignments: int = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def address(self) -> str:
        """The lead's e-mail address (a valid one, so that a copy of it is accepted)."""
        slug = self.key.lower().replace("_", "-")
        return self.email or f"{slug}@lead-{slug}.io"


@dataclass
class AccountRec:
    key: str
    owner: str | None
    territory: str | None
    name: str
    domain: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class ContactRec:
    key: str
    account: str
    email: str
    primary: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class OppRec:
    key: str
    account: str
    owner: str
    territory: str | None
    stage: str
    amount: Decimal | None
    probability: int | None
    when: str = "cur"
    deal_score: int | None = None
    lead: str | None = None
    products: int = 0
    history: int = 0
    contract: bool = False
    contract_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def close(self) -> date:
        return WHEN[self.when]


@dataclass
class QuotaRec:
    key: str
    period: Period
    user: str | None
    territory: str | None
    amount: Decimal
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class ForecastRec:
    key: str
    period: Period
    territory: str
    forecast_type: str  # GraphQL enum name
    amount: Decimal
    notes: str
    by: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class WebhookRec:
    """A webhook endpoint of the client of the caller ``owner`` (None: a client no caller
    holds), with one delivery (its id a number)."""

    key: str
    owner: str | None
    delivery_id: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class CommissionRec:
    """A commission line: ``superseded_by`` is the version whose line replaced it."""

    key: str
    month: Period
    version: int
    opportunity: str
    owner: str
    territory: str | None
    amount: Decimal
    eligible: bool = True
    rate: Decimal = Decimal("0.05")
    superseded_by: int | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None

    @property
    def commission(self) -> Decimal:
        return (self.amount * self.rate).quantize(CENT)


@dataclass
class ReportRec:
    """A report sent to Finance, in ``versions`` versions (the last one is current)."""

    key: str
    kind: str
    period: Period
    versions: int
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class PipelineLineRec:
    key: str
    report: str
    version: int
    territory: str | None
    owner: str
    stage: str
    count: int
    total: Decimal
    weighted: Decimal
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class PerformanceRec:
    key: str
    report: str
    version: int
    territory: str
    quota: Decimal | None
    closed_won: Decimal
    forecast: Decimal
    open_pipeline: Decimal
    attainment: Decimal | None
    coverage: Decimal | None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def dec(value: str | int) -> Decimal:
    return Decimal(str(value))


def build_org() -> Org:
    users = [
        UserRec("admin", "admin", None),
        UserRec("head", "sales_manager", None),
        UserRec("mA", "sales_manager", "head"),
        UserRec("mB", "sales_manager", "head"),
        UserRec("mC", "sales_manager", None),
        UserRec("rA1", "sales_rep", "mA"),
        UserRec("rA2", "sales_rep", "mA"),
        UserRec("rX", "sales_rep", "mA"),
        UserRec("rIn", "sales_rep", "mA", active=False),
        UserRec("rB1", "sales_rep", "mB"),
        UserRec("rB2", "sales_rep", "mB"),
    ]
    territories = [
        TerritoryRec("TA", "mA", ["rA1", "rA2", "rX"], priority=10, rules=[{"country": "US"}]),
        TerritoryRec(
            "TB",
            "mB",
            ["rB1", "rB2", "rX"],
            priority=20,
            rules=[{"country": "DE"}, {"industry": "Retail"}],
        ),
        TerritoryRec("TC", "mC", ["mB"], priority=30, rules=[{}]),
        TerritoryRec("TD", "admin", [], active=False, priority=40, rules=[{}]),
    ]
    accounts = [
        AccountRec("AcA1", "rA1", "TA", "Alpha One", "alpha-one.com"),
        AccountRec("AcA2", "rA2", "TA", "Alpha Two", "alpha-two.com"),
        AccountRec("AcX", "rX", "TB", "Crossway", "crossway.com"),
        AccountRec("AcB1", "rB1", "TB", "Beta One", "beta-one.com"),
        AccountRec("AcBG", "rB1", "TB", "Globex Corporation", "globex-corp.com"),
        AccountRec("AcB2", "rB2", "TB", "Beta Two", "beta-two.com"),
        AccountRec("AcC", "mC", "TC", "Gamma", "gamma.com"),
        AccountRec("AcN", None, None, "Nowhere", "nowhere.com"),
        AccountRec("AcIn", "rIn", "TA", "Inactive Inc", "inactive-inc.com"),
        AccountRec("AcHead", "head", None, "Headquarters Deal", "hq-deal.com"),
    ]
    contacts = [
        ContactRec("CA1a", "AcA1", "ann@alpha-one.com", primary=True),
        ContactRec("CA1b", "AcA1", "bob@alpha-one.com"),
        *(
            ContactRec(f"C{a.key}", a.key, f"main@{a.domain}", primary=True)
            for a in accounts
            if a.key != "AcA1"
        ),
    ]
    leads = [
        LeadRec("L_A1", "TA", "rA1", company="Acme", campaign="cmp_spring", assignments=1),
        LeadRec("L_A2", "TA", "rA2", status="new", assignments=1),
        LeadRec("L_AX", "TA", "rX"),
        LeadRec("L_AU1", "TA", None, status="new"),
        LeadRec("L_AU2", "TA", None, status="new"),
        LeadRec("L_B1", "TB", "rB1", campaign="cmp_autumn", assignments=1),
        LeadRec("L_B2", "TB", "rB2", status="qualified"),
        LeadRec("L_BU", "TB", None, status="new"),
        LeadRec("L_BA1", "TB", "rA1", assignments=2),
        LeadRec("L_CU", "TC", None, status="new"),
        LeadRec("L_C", "TC", "mC"),
        LeadRec("L_N", None, None, status="new"),
        LeadRec("L_NB2", None, "rB2"),
        LeadRec("L_IN", "TA", "rIn"),
        LeadRec("L_CONV", "TA", "rA1", status="converted", opportunity="O_CONV", account="AcA1"),
        LeadRec("L_CONV2", "TA", "rA1", status="converted", opportunity="O_RE", account="AcA2"),
        LeadRec(
            "L_GLOBEX",
            "TA",
            "rA1",
            status="qualified",
            company="Globex Corporation",
            email="buyer@globex-corp.com",
        ),
        LeadRec(
            "L_DOM",
            "TA",
            "rA1",
            status="qualified",
            company="Totally Different Ltd",
            email="someone@beta-two.com",
        ),
        LeadRec(
            "L_GLOBEX2",
            "TB",
            "rB2",
            status="qualified",
            company="Globex Corporation",
            email="other@globex-corp.com",
        ),
        LeadRec("L_QA1", "TA", "rA1", status="qualified", company="Fresh Co"),
        LeadRec("L_QB1", "TB", "rB1", status="qualified", company="Other Fresh"),
    ]
    opportunities = [
        OppRec("O_A1a", "AcA1", "rA1", "TA", "discovery", dec(1000), 20, deal_score=30),
        OppRec(
            "O_A1b",
            "AcA1",
            "rA1",
            "TA",
            "negotiation",
            dec(5000),
            90,
            deal_score=70,
            products=1,
            history=2,
        ),
        OppRec(
            "O_A1w",
            "AcA1",
            "rA1",
            "TA",
            "closed_won",
            dec(7000),
            100,
            deal_score=90,
            products=2,
            contract=True,
        ),
        OppRec("O_A1l", "AcA1", "rA1", "TA", "closed_lost", dec(300), 0),
        OppRec("O_A1n", "AcA1", "rA1", "TA", "proposal", dec(2500), 60, when="next"),
        OppRec("O_A2a", "AcA2", "rA2", "TA", "proposal", dec(3000), 60, deal_score=50, when="cur2"),
        OppRec("O_A2w", "AcA2", "rA2", "TA", "closed_won", dec(4000), 100),
        OppRec("O_A2null", "AcA2", "rA2", "TA", "discovery", None, None),
        OppRec(
            "O_RE", "AcA2", "rA2", "TA", "qualification", dec(1500), 40, lead="L_CONV2", history=1
        ),
        OppRec("O_CONV", "AcA1", "rA1", "TA", "discovery", dec(800), 20, lead="L_CONV"),
        OppRec("O_XA", "AcB1", "rA1", "TA", "negotiation", dec(6000), 90, deal_score=60, history=1),
        OppRec("O_YA", "AcB1", "rA1", "TB", "proposal", dec(2200), 60, products=1),
        OppRec("O_X1", "AcX", "rX", "TB", "negotiation", dec(3300), 90),
        OppRec("O_X2", "AcA2", "rX", "TA", "discovery", dec(1200), 20),
        OppRec("O_B1a", "AcB1", "rB1", "TB", "qualification", dec(2000), 40),
        OppRec(
            "O_B1w", "AcB1", "rB1", "TB", "closed_won", dec(9000), 100, products=1, contract=True
        ),
        OppRec("O_B2a", "AcB2", "rB2", "TB", "negotiation", dec(4500), 85, deal_score=40),
        OppRec("O_BG", "AcBG", "rB1", "TB", "discovery", dec(1000), 20),
        OppRec("O_C1", "AcC", "mC", "TC", "proposal", dec(8000), 60, history=1),
        OppRec("O_CB", "AcC", "rB1", "TC", "negotiation", dec(3500), 90),
        OppRec("O_N", "AcN", "admin", None, "discovery", dec(100), 20),
        OppRec("O_IN", "AcIn", "rIn", "TA", "proposal", dec(2700), 60),
        OppRec("O_Bprev", "AcB2", "rB2", "TB", "closed_won", dec(1100), 100, when="prev"),
        OppRec("O_mA", "AcA1", "mA", "TA", "negotiation", dec(1000), 90),
        OppRec("O_headw", "AcHead", "head", None, "closed_won", dec(2000), 100),
    ]
    quotas = [
        QuotaRec("Q_rA1", CURRENT, "rA1", None, dec(10000)),
        QuotaRec("Q_rA2", CURRENT, "rA2", None, dec(8000)),
        QuotaRec("Q_rX", CURRENT, "rX", None, dec(6000)),
        QuotaRec("Q_rB1", CURRENT, "rB1", None, dec(12000)),
        QuotaRec("Q_rB2prev", PREVIOUS, "rB2", None, dec(5000)),
        QuotaRec("Q_mA", CURRENT, "mA", None, dec(20000)),
        QuotaRec("Q_mC", CURRENT, "mC", None, dec(9000)),
        QuotaRec("Q_head", CURRENT, "head", None, dec(50000)),
        QuotaRec("Q_TA", CURRENT, None, "TA", dec(40000)),
        QuotaRec("Q_TB", CURRENT, None, "TB", dec(30000)),
        QuotaRec("Q_TC", CURRENT, None, "TC", dec(15000)),
    ]
    forecasts = [
        ForecastRec(
            "F_TA_commit", CURRENT, "TA", "COMMIT", dec(15000), "TA commit: secret plan", "mA"
        ),
        ForecastRec(
            "F_TA_best", CURRENT, "TA", "BEST_CASE", dec(21000), "TA best case notes", "mA"
        ),
        ForecastRec(
            "F_TB_commit", CURRENT, "TB", "COMMIT", dec(18000), "TB commit: confidential", "mB"
        ),
        ForecastRec("F_TC_pipe", CURRENT, "TC", "PIPELINE", dec(12000), "TC pipeline notes", "mC"),
        ForecastRec("F_TA_prev", PREVIOUS, "TA", "CLOSED", dec(9000), "TA last quarter", "mA"),
    ]
    m1, m2, m3 = MONTHS
    commissions = [
        CommissionRec("CL_A1w", m1, 1, "O_A1w", "rA1", "TA", dec(7000)),
        CommissionRec("CL_A2w", m1, 1, "O_A2w", "rA2", "TA", dec(4000)),
        # rB1's deal in mC's TC: mC sees the deal, not the commission.
        CommissionRec("CL_CB", m1, 1, "O_CB", "rB1", "TC", dec(3500)),
        # Corrected in version 2: the first line is superseded.
        CommissionRec("CL_B1w_v1", m2, 1, "O_B1w", "rB1", "TB", dec(9000), superseded_by=2),
        CommissionRec("CL_B1w_v2", m2, 2, "O_B1w", "rB1", "TB", dec(8500)),
        # rX's deal in TB, no longer eligible (mB sees the deal, not rX's pay).
        CommissionRec("CL_X1", m2, 2, "O_X1", "rX", "TB", dec(0), eligible=False),
        # rA1's deal in mB's TB.
        CommissionRec("CL_YA", m2, 1, "O_YA", "rA1", "TB", dec(2200)),
        # rB1's commission on a deal now rB2's: rB1 sees the line, not the deal.
        CommissionRec("CL_B2a", m2, 1, "O_B2a", "rB1", "TB", dec(4500)),
        CommissionRec("CL_IN", m3, 1, "O_IN", "rIn", "TA", dec(2700)),
        CommissionRec("CL_mA", m3, 1, "O_mA", "mA", "TA", dec(1000)),
        CommissionRec("CL_head", m3, 1, "O_headw", "head", None, dec(2000)),
        CommissionRec("CL_C1", m3, 1, "O_C1", "mC", "TC", dec(8000)),
        CommissionRec("CL_N", m3, 1, "O_N", "admin", None, dec(100)),
        # Months outside the quarter.
        CommissionRec("CL_before", MONTH_BEFORE, 1, "O_Bprev", "rB2", "TB", dec(1100)),
        CommissionRec("CL_after", MONTH_AFTER, 1, "O_A1n", "rA1", "TA", dec(2500)),
    ]
    reports = [
        ReportRec("R_pipe", "pipeline_report", CURRENT, versions=2),
        ReportRec("R_pipe_prev", "pipeline_report", PREVIOUS, versions=1),
        ReportRec("R_perf", "territory_performance", CURRENT, versions=2),
    ]

    def pl(
        key: str, version: int, territory: str | None, owner: str, stage: str, *figures: int
    ) -> PipelineLineRec:
        report = "R_pipe_prev" if key.startswith("PL_prev") else "R_pipe"
        count, total, weighted = figures
        return PipelineLineRec(
            key, report, version, territory, owner, stage, count, dec(total), dec(weighted)
        )

    pipeline_lines = [
        pl("PL_A1_disc", 2, "TA", "rA1", "discovery", 2, 1800, 360),
        pl("PL_A1_nego", 2, "TA", "rA1", "negotiation", 2, 11000, 9900),
        pl("PL_X_TA", 2, "TA", "rX", "discovery", 1, 1200, 240),
        pl("PL_IN", 2, "TA", "rIn", "proposal", 1, 2700, 1620),
        pl("PL_mA", 2, "TA", "mA", "negotiation", 1, 1000, 900),
        pl("PL_YA", 2, "TB", "rA1", "proposal", 1, 2200, 1320),
        pl("PL_X_TB", 2, "TB", "rX", "negotiation", 1, 3300, 2970),
        pl("PL_B1", 2, "TB", "rB1", "qualification", 1, 2000, 800),
        pl("PL_CB", 2, "TC", "rB1", "negotiation", 1, 3500, 3150),
        pl("PL_C1", 2, "TC", "mC", "proposal", 1, 8000, 4800),
        pl("PL_TD", 2, "TD", "admin", "discovery", 1, 500, 100),
        pl("PL_none", 2, None, "admin", "discovery", 1, 100, 20),
        # Version 1: never read (a line of the same key with other figures, and lines of keys
        # version 2 no longer has).
        pl("PL_v1_A1_nego", 1, "TA", "rA1", "negotiation", 1, 5000, 4500),
        pl("PL_v1_A2", 1, "TA", "rA2", "proposal", 1, 3000, 1800),
        pl("PL_v1_B2", 1, "TB", "rB2", "negotiation", 1, 4500, 3825),
        pl("PL_v1_C1", 1, "TC", "mC", "discovery", 3, 900, 180),
        # The previous quarter's report.
        pl("PL_prev_A1", 1, "TA", "rA1", "closed_won", 1, 700, 700),
    ]

    def tp(key: str, version: int, territory: str, *figures: str | None) -> PerformanceRec:
        quota, won, forecast, pipeline, attainment, coverage = (
            None if f is None else Decimal(f) for f in figures
        )
        assert won is not None
        assert forecast is not None
        assert pipeline is not None
        return PerformanceRec(
            key, "R_perf", version, territory, quota, won, forecast, pipeline, attainment, coverage
        )

    performance = [
        tp("TP_TA", 2, "TA", "40000", "11000", "15000", "25000", "0.2750", "0.86"),
        tp("TP_TB", 2, "TB", "30000", "9000", "18000", "17500", "0.3000", "0.83"),
        tp("TP_TC", 2, "TC", "15000", "0", "12000", "11500", "0", "0.77"),
        tp("TP_TD", 2, "TD", None, "0", "0", "500", None, None),
        tp("TP_v1_TA", 1, "TA", "40000", "7000", "14000", "26000", "0.1750", "0.79"),
        tp("TP_v1_TC", 1, "TC", "15000", "100", "11000", "9000", "0.0067", "0.60"),
    ]
    return Org(
        users={u.key: u for u in users},
        territories={t.key: t for t in territories},
        accounts={a.key: a for a in accounts},
        contacts={c.key: c for c in contacts},
        leads={x.key: x for x in leads},
        opportunities={o.key: o for o in opportunities},
        quotas={q.key: q for q in quotas},
        forecasts={f.key: f for f in forecasts},
        commissions={c.key: c for c in commissions},
        reports={r.key: r for r in reports},
        pipeline_lines={x.key: x for x in pipeline_lines},
        performance={x.key: x for x in performance},
        webhooks={
            w.key: w
            for w in (
                WebhookRec("W_all", "partner_all", "970000001"),
                WebhookRec("W_hooks", "partner_webhooks:manage", "970000002"),
                # A key without webhooks:manage sees not even its own client's endpoints.
                WebhookRec("W_leads", "partner_leads:read", "970000003"),
                WebhookRec("W_outsider", None, "970000004"),
            )
        },
    )


@dataclass
class Org:
    users: dict[str, UserRec]
    territories: dict[str, TerritoryRec]
    accounts: dict[str, AccountRec]
    contacts: dict[str, ContactRec]
    leads: dict[str, LeadRec]
    opportunities: dict[str, OppRec]
    quotas: dict[str, QuotaRec]
    forecasts: dict[str, ForecastRec]
    commissions: dict[str, CommissionRec]
    reports: dict[str, ReportRec]
    pipeline_lines: dict[str, PipelineLineRec]
    performance: dict[str, PerformanceRec]
    webhooks: dict[str, WebhookRec] = field(default_factory=dict)

    # -------------------------------------------------------------- ids

    def u(self, key: str) -> uuid.UUID:
        return uuid.UUID(self.users[key].id)

    def t(self, key: str) -> uuid.UUID:
        return uuid.UUID(self.territories[key].id)

    def a(self, key: str) -> uuid.UUID:
        return uuid.UUID(self.accounts[key].id)

    def uid(self, key: str | None) -> uuid.UUID | None:
        return uuid.UUID(self.users[key].id) if key else None

    def tid(self, key: str | None) -> uuid.UUID | None:
        return uuid.UUID(self.territories[key].id) if key else None

    def aid(self, key: str | None) -> uuid.UUID | None:
        return uuid.UUID(self.accounts[key].id) if key else None

    def all_ids(self) -> dict[str, set[str]]:
        return {
            "User": {u.id for u in self.users.values()},
            "Territory": {t.id for t in self.territories.values()},
            "Lead": {x.id for x in self.leads.values()},
            "Account": {a.id for a in self.accounts.values()},
            "Contact": {c.id for c in self.contacts.values()},
            "Opportunity": {o.id for o in self.opportunities.values()},
            "Quota": {q.id for q in self.quotas.values()},
            "Forecast": {f.id for f in self.forecasts.values()},
            "CommissionLine": {c.id for c in self.commissions.values()},
            "WebhookEndpoint": {w.id for w in self.webhooks.values()},
            "WebhookDelivery": {w.delivery_id for w in self.webhooks.values()},
        }

    def key_of(self, record_id: str) -> str:
        """The seed key of an id (for readable failure messages)."""
        for table in (
            self.users,
            self.territories,
            self.leads,
            self.accounts,
            self.contacts,
            self.opportunities,
            self.quotas,
            self.forecasts,
            self.commissions,
        ):
            for key, record in table.items():
                if record.id == record_id:
                    return key
        for key, hook in self.webhooks.items():
            if record_id in (hook.id, hook.delivery_id):
                return key if record_id == hook.id else f"{key}.delivery"
        return record_id

    def keys(self, ids: Iterable[str]) -> list[str]:
        return sorted(self.key_of(i) for i in ids)

    # -------------------------------------------------------------- the database rows

    def rows(self) -> list[list[Any]]:
        """ORM rows in insertion order (one flush per batch, foreign keys first)."""
        now = datetime.now().astimezone()
        users_first = [u for u in self.users.values() if u.manager is None]
        by_depth: list[list[Any]] = []
        placed: set[str] = set()
        layer = users_first
        while layer:
            by_depth.append(
                [
                    User(
                        id=uuid.UUID(u.id),
                        email=u.email,
                        name=f"User {u.key}",
                        role=u.role,
                        manager_id=self.uid(u.manager),
                        is_active=u.active,
                    )
                    for u in layer
                ]
            )
            placed |= {u.key for u in layer}
            layer = [u for u in self.users.values() if u.key not in placed and u.manager in placed]
        territories = [
            Territory(
                id=uuid.UUID(t.id),
                name=f"Territory {t.key}",
                owner_id=self.uid(t.owner),
                is_active=t.active,
                priority=t.priority,
            )
            for t in self.territories.values()
        ]
        members_rules: list[Any] = []
        for t in self.territories.values():
            for position, member in enumerate(t.members):
                members_rules.append(
                    TerritoryMember(
                        territory_id=self.t(t.key), user_id=self.u(member), position=position
                    )
                )
            for position, rule in enumerate(t.rules):
                members_rules.append(
                    TerritoryRule(territory_id=self.t(t.key), position=position, **rule)
                )
        accounts = [
            Account(
                id=uuid.UUID(a.id),
                name=a.name,
                name_normalized=a.name.lower(),
                domain=a.domain,
                owner_id=self.uid(a.owner),
                territory_id=self.tid(a.territory),
                country="US",
                industry="Technology",
            )
            for a in self.accounts.values()
        ]
        leads = []
        for x in self.leads.values():
            email = x.address
            leads.append(
                Lead(
                    id=uuid.UUID(x.id),
                    status=x.status,
                    first_name="Lead",
                    last_name=x.key,
                    email=email,
                    email_normalized=email.lower(),
                    company=x.company or f"Company {x.key}",
                    country="US",
                    campaign_id=x.campaign,
                    assigned_to_id=self.uid(x.assigned),
                    territory_id=self.tid(x.territory),
                    assigned_at=now if x.assigned else None,
                    converted_at=now if x.status == "converted" else None,
                    opportunity_id=(
                        uuid.UUID(self.opportunities[x.opportunity].id) if x.opportunity else None
                    ),
                    account_id=self.aid(x.account),
                )
            )
        contacts = [
            Contact(
                id=uuid.UUID(c.id),
                account_id=self.a(c.account),
                first_name="Contact",
                last_name=c.key,
                email=c.email,
                is_primary=c.primary,
            )
            for c in self.contacts.values()
        ]
        products = [
            Product(id="prod_core", name="Core platform", unit_price=dec(1000)),
            Product(id="prod_addon", name="Add-on", unit_price=dec(250)),
        ]
        opportunities = []
        lines: list[Any] = []
        for o in self.opportunities.values():
            closed = o.stage.startswith("closed")
            opportunities.append(
                Opportunity(
                    id=uuid.UUID(o.id),
                    name=f"Deal {o.key}",
                    account_id=self.a(o.account),
                    lead_id=uuid.UUID(self.leads[o.lead].id) if o.lead else None,
                    stage=o.stage,
                    amount=o.amount,
                    probability=o.probability,
                    forecast_category=_category(o.stage),
                    expected_close_date=o.close,
                    owner_id=self.u(o.owner),
                    territory_id=self.tid(o.territory),
                    deal_score=o.deal_score,
                    contract_id=o.contract_id,
                    closed_at=now if closed else None,
                    notes=f"notes of {o.key}",
                    loss_reason="price" if o.stage == "closed_lost" else None,
                )
            )
            for position in range(o.products):
                lines.append(
                    OpportunityProduct(
                        opportunity_id=uuid.UUID(o.id),
                        product_id="prod_core" if position == 0 else "prod_addon",
                        product_name="Core platform" if position == 0 else "Add-on",
                        quantity=1 + position,
                        unit_price=dec(1000),
                        position=position,
                    )
                )
            for n in range(o.history):
                lines.append(
                    OpportunityHistory(
                        opportunity_id=uuid.UUID(o.id),
                        field="stage",
                        old_value=STAGE_ORDER[n],
                        new_value=STAGE_ORDER[n + 1],
                        actor_id=self.uid(o.owner),
                        note=f"history {n} of {o.key}",
                    )
                )
        for x in self.leads.values():
            for n in range(x.assignments):
                lines.append(
                    LeadAssignment(
                        lead_id=uuid.UUID(x.id),
                        territory_id=self.tid(x.territory),
                        assigned_to_id=self.uid(x.assigned if n == x.assignments - 1 else "rB1"),
                        actor_id=self.uid("mB") if n else None,
                        method="manual" if n else "rules",
                        reason=f"assignment {n}",
                    )
                )
        quotas = [
            Quota(
                id=uuid.UUID(q.id),
                period=q.period.name,
                user_id=self.uid(q.user),
                territory_id=self.tid(q.territory),
                amount=q.amount,
                set_by_id=self.uid("admin"),
            )
            for q in self.quotas.values()
        ]
        forecasts = [
            Forecast(
                id=uuid.UUID(f.id),
                kind="submitted",
                period=f.period.name,
                territory_id=self.tid(f.territory),
                forecast_type=f.forecast_type.lower(),
                amount=f.amount,
                current_pipeline=dec(1234),
                pipeline_coverage=dec("0.5"),
                notes=f.notes,
                submitted_by_id=self.uid(f.by),
            )
            for f in self.forecasts.values()
        ]
        batches, finance_lines = self.finance_rows(now)
        return [
            *by_depth,
            territories,
            members_rules,
            accounts + products,
            leads,
            contacts + opportunities,
            lines + quotas + forecasts,
            batches,
            finance_lines,
        ]

    def finance_rows(self, now: datetime) -> tuple[list[Any], list[Any]]:
        """Commission batches and report versions; then their lines."""
        batch_ids: dict[tuple[str, int], uuid.UUID] = {}
        for c in self.commissions.values():
            batch_ids.setdefault((c.month.name, c.version), uuid.uuid4())
        heads: list[Any] = [
            CommissionBatch(
                id=batch_id,
                period=period,
                version=version,
                position=0,
                status="sent",
                deals=[],
                calculation_id=f"calc-{period}-{version}",
                sent_at=now,
            )
            for (period, version), batch_id in batch_ids.items()
        ]
        heads += [
            FinanceReport(
                report_id=uuid.UUID(r.id),
                version=version,
                kind=r.kind,
                period=r.period.name,
                content_hash=f"{r.key}-{version}",
                superseded_at=now if version < r.versions else None,
            )
            for r in self.reports.values()
            for version in range(1, r.versions + 1)
        ]
        lines: list[Any] = [
            CommissionLine(
                id=uuid.UUID(c.id),
                batch_id=batch_ids[(c.month.name, c.version)],
                period=c.month.name,
                version=c.version,
                opportunity_id=uuid.UUID(self.opportunities[c.opportunity].id),
                owner_id=self.u(c.owner),
                territory_id=self.tid(c.territory),
                eligible=c.eligible,
                amount=c.amount,
                rate=c.rate,
                commission=c.commission,
                currency="USD",
                deal_hash=f"hash-{c.key}",
                superseded_at=now if c.superseded else None,
                superseded_by_version=c.superseded_by,
            )
            for c in self.commissions.values()
        ]
        lines += [
            PipelineReportLine(
                id=uuid.UUID(x.id),
                report_id=uuid.UUID(self.reports[x.report].id),
                version=x.version,
                period=self.reports[x.report].period.name,
                territory_id=self.tid(x.territory),
                owner_id=self.u(x.owner),
                stage=x.stage,
                count=x.count,
                total_amount=x.total,
                weighted_amount=x.weighted,
            )
            for x in self.pipeline_lines.values()
        ]
        lines += [
            TerritoryPerformanceLine(
                id=uuid.UUID(x.id),
                report_id=uuid.UUID(self.reports[x.report].id),
                version=x.version,
                period=self.reports[x.report].period.name,
                territory_id=self.t(x.territory),
                quota=x.quota,
                closed_won=x.closed_won,
                forecast=x.forecast,
                open_pipeline=x.open_pipeline,
                attainment=x.attainment,
                coverage=x.coverage,
            )
            for x in self.performance.values()
        ]
        return heads, lines


def _category(stage: str) -> str:
    return {
        "discovery": "pipeline",
        "qualification": "pipeline",
        "proposal": "best_case",
        "negotiation": "commit",
        "closed_won": "closed",
        "closed_lost": "omitted",
    }[stage]


# ------------------------------------------------------------------ principals


@dataclass(frozen=True)
class Caller:
    """Who calls: a user with a plain token, a partner key, a user-bound OAuth client, or a
    user's token together with a partner key. ``scopes`` None means every scope."""

    name: str
    kind: str  # user | partner | client | user+key
    user: str | None
    scopes: frozenset[str] | None

    @property
    def is_partner(self) -> bool:
        return self.user is None

    def has(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


def money(value: Decimal | float | int | None) -> float:
    return float(Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------ the oracle


class Oracle:
    """Who sees what, from the seeded records alone."""

    def __init__(self, org: Org) -> None:
        self.org = org

    # -------------------------------------------------------------- the principal's reach

    def team(self, user: str) -> set[str]:
        team = {user}
        changed = True
        while changed:
            changed = False
            for u in self.org.users.values():
                if u.key not in team and u.manager in team:
                    team.add(u.key)
                    changed = True
        return team

    def owned(self, user: str) -> set[str]:
        return {t.key for t in self.org.territories.values() if t.owner == user}

    def member(self, user: str) -> set[str]:
        return {t.key for t in self.org.territories.values() if user in t.members}

    def role(self, caller: Caller) -> str:
        return "partner" if caller.user is None else self.org.users[caller.user].role

    def sees_all(self, caller: Caller) -> bool:
        return self.role(caller) in ("partner", "admin")

    # -------------------------------------------------------------- visible records (by key)

    def leads(self, caller: Caller) -> set[str]:
        if self.sees_all(caller):
            return set(self.org.leads)
        assert caller.user is not None
        role = self.role(caller)
        team = self.team(caller.user) if role == "sales_manager" else {caller.user}
        owned = self.owned(caller.user) if role == "sales_manager" else set()
        member = self.member(caller.user)
        return {
            x.key
            for x in self.org.leads.values()
            if x.assigned in team
            or x.territory in owned
            or (role == "sales_rep" and x.assigned is None and x.territory in member)
        }

    def opportunities(self, caller: Caller) -> set[str]:
        if self.sees_all(caller):
            return set(self.org.opportunities)
        assert caller.user is not None
        role = self.role(caller)
        team = self.team(caller.user) if role == "sales_manager" else {caller.user}
        owned = self.owned(caller.user) if role == "sales_manager" else set()
        return {
            o.key
            for o in self.org.opportunities.values()
            if o.owner in team or o.territory in owned
        }

    def accounts(self, caller: Caller) -> set[str]:
        if self.sees_all(caller):
            return set(self.org.accounts)
        assert caller.user is not None
        role = self.role(caller)
        team = self.team(caller.user) if role == "sales_manager" else {caller.user}
        owned = self.owned(caller.user) if role == "sales_manager" else set()
        parents = {self.org.opportunities[o].account for o in self.opportunities(caller)}
        return {
            a.key
            for a in self.org.accounts.values()
            if a.owner in team or a.territory in owned or a.key in parents
        }

    def contacts(self, caller: Caller) -> set[str]:
        accounts = self.accounts(caller)
        return {c.key for c in self.org.contacts.values() if c.account in accounts}

    def quotas(self, caller: Caller) -> set[str]:
        if self.sees_all(caller):
            return set(self.org.quotas)
        assert caller.user is not None
        role = self.role(caller)
        team = self.team(caller.user) if role == "sales_manager" else {caller.user}
        owned = self.owned(caller.user) if role == "sales_manager" else set()
        return {q.key for q in self.org.quotas.values() if q.user in team or q.territory in owned}

    def submitted(self, caller: Caller) -> set[str]:
        if self.sees_all(caller):
            return set(self.org.forecasts)
        assert caller.user is not None
        if self.role(caller) != "sales_manager":
            return set()
        owned = self.owned(caller.user)
        return {f.key for f in self.org.forecasts.values() if f.territory in owned}

    def forecast_territories(self, caller: Caller) -> list[str]:
        if self.sees_all(caller):
            return [t.key for t in self.org.territories.values() if t.active]
        assert caller.user is not None
        if self.role(caller) == "sales_manager":
            keys = self.owned(caller.user) | self.member(caller.user)
        else:
            keys = self.member(caller.user)
        return sorted(keys)

    # -------------------------------------------------------------- what Finance got

    def commission_keys(self, caller: Caller) -> set[str]:
        """Commission lines are pay: a rep's own, a manager's team's (never by territory),
        every line for an admin or a partner. Any period, superseded lines included."""
        if self.sees_all(caller):
            return set(self.org.commissions)
        assert caller.user is not None
        team = self.team(caller.user) if self.role(caller) == "sales_manager" else {caller.user}
        return {c.key for c in self.org.commissions.values() if c.owner in team}

    def commissions(
        self, caller: Caller, period: Period, *, include_superseded: bool = False
    ) -> set[str]:
        """The lines ``commissions(period)`` returns: of the months inside the period."""
        months = {m.name for m in months_of(period)}
        return {
            k
            for k in self.commission_keys(caller)
            if self.org.commissions[k].month.name in months
            and (include_superseded or not self.org.commissions[k].superseded)
        }

    def commission_view(self, caller: Caller, key: str) -> dict[str, Any]:
        """A line's fields as GraphQL names them (``owner``/``territory``: their ids;
        ``supersededAt``: whether it is set). The deal's id only when the caller sees it."""
        c = self.org.commissions[key]
        deal = self.org.opportunities[c.opportunity]
        sees_deal = caller.has("opportunities:read") and deal.key in self.opportunities(caller)
        return {
            "id": c.id,
            "period": c.month.name,
            "version": c.version,
            "eligible": c.eligible,
            "amount": money(c.amount),
            "rate": float(c.rate),
            "commission": money(c.commission),
            "currency": "USD",
            "supersededAt": c.superseded,
            "supersededByVersion": c.superseded_by,
            "opportunityId": deal.id if sees_deal else None,
            "owner": self.org.users[c.owner].id,
            "territory": self.org.territories[c.territory].id if c.territory else None,
        }

    def _current(self, report: str, version: int, period: Period) -> bool:
        r = self.org.reports[report]
        return r.period == period and version == r.versions

    def pipeline_report(self, caller: Caller, period: Period) -> list[dict[str, Any]]:
        """The current version's lines of the period the caller sees, as the opportunities
        they sum: the owner in the caller's team, or the territory a manager's own."""
        lines = [
            x
            for x in self.org.pipeline_lines.values()
            if self._current(x.report, x.version, period)
        ]
        if not self.sees_all(caller):
            assert caller.user is not None
            manager = self.role(caller) == "sales_manager"
            team = self.team(caller.user) if manager else {caller.user}
            owned = self.owned(caller.user) if manager else set()
            lines = [x for x in lines if x.owner in team or x.territory in owned]
        return [
            {
                "key": x.key,
                "period": period.name,
                "version": x.version,
                "territory": self.org.territories[x.territory].id if x.territory else None,
                "owner": self.org.users[x.owner].id,
                "stage": x.stage.upper(),
                "count": x.count,
                "totalAmount": money(x.total),
                "weightedAmount": money(x.weighted),
            }
            for x in lines
        ]

    def territory_performance(self, caller: Caller, period: Period) -> list[dict[str, Any]]:
        """The current version's lines of the territories the caller owns (all for an admin
        or a partner; none for a rep)."""
        lines = [
            x for x in self.org.performance.values() if self._current(x.report, x.version, period)
        ]
        if not self.sees_all(caller):
            assert caller.user is not None
            owned = self.owned(caller.user) if self.role(caller) == "sales_manager" else set()
            lines = [x for x in lines if x.territory in owned]

        def number(value: Decimal | None, places: str) -> float | None:
            return None if value is None else float(value.quantize(Decimal(places)))

        return [
            {
                "key": x.key,
                "period": period.name,
                "version": x.version,
                "territory": self.org.territories[x.territory].id,
                "quota": None if x.quota is None else money(x.quota),
                "closedWon": money(x.closed_won),
                "forecast": money(x.forecast),
                "openPipeline": money(x.open_pipeline),
                "attainment": number(x.attainment, "0.0001"),
                "coverage": number(x.coverage, "0.01"),
            }
            for x in lines
        ]

    def visible_ids(self, caller: Caller) -> dict[str, set[str]]:
        """Ids per GraphQL type name; the directory types hold every record."""
        o = self.org
        return {
            "User": {u.id for u in o.users.values()},
            "Territory": {t.id for t in o.territories.values()},
            "Lead": {o.leads[k].id for k in self.leads(caller)},
            "Account": {o.accounts[k].id for k in self.accounts(caller)},
            "Contact": {o.contacts[k].id for k in self.contacts(caller)},
            "Opportunity": {o.opportunities[k].id for k in self.opportunities(caller)},
            "Quota": {o.quotas[k].id for k in self.quotas(caller)},
            "Forecast": {o.forecasts[k].id for k in self.submitted(caller)},
            "CommissionLine": {o.commissions[k].id for k in self.commission_keys(caller)},
            "WebhookEndpoint": {w.id for w in self.webhooks(caller)},
            "WebhookDelivery": {w.delivery_id for w in self.webhooks(caller)},
        }

    def webhooks(self, caller: Caller) -> list[WebhookRec]:
        """A partner's own client's endpoints, with webhooks:manage; none for a user."""
        if caller.kind != "partner" or not caller.has("webhooks:manage"):
            return []
        return [w for w in self.org.webhooks.values() if w.owner == caller.name]

    def invisible_ids(self, caller: Caller) -> set[str]:
        visible = self.visible_ids(caller)
        everything = self.org.all_ids()
        return set().union(*(everything[t] - visible[t] for t in OWNED_TYPES))

    # -------------------------------------------------------------- figures

    def _opps(self, caller: Caller) -> list[OppRec]:
        return [self.org.opportunities[k] for k in sorted(self.opportunities(caller))]

    @staticmethod
    def _stage_line(stage: str, opps: list[OppRec], *, with_probability: bool) -> dict[str, Any]:
        these = [o for o in opps if o.stage == stage]
        line: dict[str, Any] = {
            "stage": stage.upper(),
            "count": len(these),
            "totalAmount": money(sum((o.amount or 0 for o in these), Decimal(0))),
            "weightedAmount": money(
                sum(
                    ((o.amount or Decimal(0)) * (o.probability or 0) / 100 for o in these),
                    Decimal(0),
                )
            ),
        }
        if with_probability:
            line["probability"] = DEFAULT_PROBABILITY[stage]
        return line

    def pipeline(self, caller: Caller, owner_key: str, period: Period) -> dict[str, Any]:
        opps = [
            o
            for o in self._opps(caller)
            if o.owner == owner_key and o.stage in OPEN_STAGES and period.holds(o.close)
        ]
        by_stage = [self._stage_line(s, opps, with_probability=True) for s in OPEN_STAGES]
        return {
            "period": period.name,
            "ownerId": self.org.users[owner_key].id,
            "summary": {
                "totalCount": len(opps),
                "totalAmount": money(sum((o.amount or 0 for o in opps), Decimal(0))),
                "weightedAmount": money(
                    sum(
                        ((o.amount or Decimal(0)) * (o.probability or 0) / 100 for o in opps),
                        Decimal(0),
                    )
                ),
            },
            "byStage": by_stage,
        }

    def generated(self, caller: Caller, period: Period) -> list[dict[str, Any]]:
        """The GENERATED forecasts the caller gets, with their figures."""
        result = []
        visible = self._opps(caller)
        for t in self.forecast_territories(caller):
            for kind, stages in FORECAST_STAGES.items():
                opps = [
                    o
                    for o in visible
                    if o.territory == t and o.stage in stages and period.holds(o.close)
                ]
                lines = [self._stage_line(s, opps, with_probability=False) for s in stages]
                result.append(
                    {
                        "kind": "GENERATED",
                        "period": period.name,
                        "forecastType": kind,
                        "territory": self.org.territories[t].id,
                        "amount": money(sum((o.amount or 0 for o in opps), Decimal(0))),
                        "probabilityWeightedAmount": money(
                            sum(
                                (
                                    (o.amount or Decimal(0)) * (o.probability or 0) / 100
                                    for o in opps
                                ),
                                Decimal(0),
                            )
                        ),
                        "aiPredictedAmount": money(
                            sum(
                                (
                                    (o.amount or Decimal(0)) * (o.deal_score or 0) / 100
                                    for o in opps
                                ),
                                Decimal(0),
                            )
                        ),
                        "breakdown": [line for line in lines if line["count"]],
                    }
                )
        return result

    def submitted_forecasts(self, caller: Caller, period: Period) -> list[dict[str, Any]]:
        return [
            {
                "kind": "SUBMITTED",
                "id": f.id,
                "period": period.name,
                "forecastType": f.forecast_type,
                "territory": self.org.territories[f.territory].id,
                "amount": money(f.amount),
                "notes": f.notes,
            }
            for f in (self.org.forecasts[k] for k in sorted(self.submitted(caller)))
            if f.period == period
        ]

    def won_amount(self, quota_key: str) -> float:
        q = self.org.quotas[quota_key]
        won = [
            o
            for o in self.org.opportunities.values()
            if o.stage == "closed_won"
            and q.period.holds(o.close)
            and (
                (q.user is not None and o.owner == q.user)
                or (q.territory is not None and o.territory == q.territory)
            )
        ]
        return money(sum((o.amount or 0 for o in won), Decimal(0)))

    def attainment(self, quota_key: str) -> float:
        q = self.org.quotas[quota_key]
        return float(Decimal(str(self.won_amount(quota_key))) / q.amount)

    def quota_by_id(self, quota_id: str) -> str:
        return next(k for k, q in self.org.quotas.items() if q.id == quota_id)

    # -------------------------------------------------------------- relationships

    def children(self, caller: Caller, parent_type: str, field_name: str, parent_id: str) -> Any:
        """What a nested list of a visible parent must hold exactly: a set of ids, or a count
        (lists whose items have no id). None when the oracle has no rule for the list."""
        o = self.org
        if parent_type == "Account":
            account = next(a for a in o.accounts.values() if a.id == parent_id)
            if field_name == "opportunities":
                keys = self.opportunities(caller)
                return {
                    x.id
                    for x in o.opportunities.values()
                    if x.account == account.key and x.key in keys
                }
            if field_name == "contacts":
                return {c.id for c in o.contacts.values() if c.account == account.key}
        if parent_type == "Territory":
            territory = next(t for t in o.territories.values() if t.id == parent_id)
            if field_name == "members":
                return {o.users[m].id for m in territory.members}
            if field_name == "rules":
                return len(territory.rules)
        if parent_type == "Opportunity":
            opp = next(x for x in o.opportunities.values() if x.id == parent_id)
            if field_name == "products":
                return opp.products
            if field_name == "history":
                return opp.history
        if parent_type == "Lead" and field_name == "assignments":
            lead = next(x for x in o.leads.values() if x.id == parent_id)
            return lead.assignments
        return None


def counts(values: Iterable[Any]) -> Counter[Any]:
    return Counter(values)
