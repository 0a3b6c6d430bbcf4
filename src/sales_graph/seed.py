"""The demo organisation: users of every role, territories with rules, accounts, leads and
opportunities across every stage in the current and next quarter. Deterministic (seeded)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
    OpportunityHistory,
    OpportunityProduct,
    Product,
    Territory,
    TerritoryMember,
    TerritoryRule,
    User,
)
from sales_graph.db.repositories import users as user_repo
from sales_graph.domain import LeadStatus, OpportunityStage, Role
from sales_graph.domain.signals import Signals, competitors
from sales_graph.services.scoring import PRIOR, features
from sales_graph.services.stages import STAGES
from sales_graph.timeutil import utcnow

DOMAIN = "ionoi-inc.com"
_FIRST = [
    "Jane",
    "John",
    "Priya",
    "Luis",
    "Mei",
    "Omar",
    "Sofia",
    "Noah",
    "Aisha",
    "Lars",
    "Chloe",
    "Kenji",
    "Fatima",
    "Diego",
    "Hannah",
    "Ivan",
    "Grace",
    "Tariq",
    "Elena",
    "Sam",
]
_LAST = [
    "Smith",
    "Doe",
    "Patel",
    "Garcia",
    "Chen",
    "Haddad",
    "Rossi",
    "Kim",
    "Okafor",
    "Berg",
    "Martin",
    "Tanaka",
    "Khan",
    "Lopez",
    "Weber",
    "Petrov",
    "Nguyen",
    "Ali",
    "Costa",
    "Reed",
]
_COMPANY_A = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
]
_COMPANY_B = ["Corp", "Industries", "Systems", "Labs", "Holdings", "Group", "Technologies"]
_INDUSTRIES = ["Technology", "Financial Services", "Healthcare", "Manufacturing", "Retail"]
_SOURCES = ["webinar", "paid_search", "referral", "trade_show", "email", "organic"]
_COUNTRIES = ["US", "US", "US", "CA", "GB", "DE", "FR", "NL", "BR", "JP"]
_PRODUCTS = [
    ("prod_001", "Enterprise Plan", Decimal("100.00")),
    ("prod_002", "Professional Plan", Decimal("45.00")),
    ("prod_003", "Analytics Add-on", Decimal("20.00")),
    ("prod_004", "Premium Support", Decimal("15.00")),
]


@dataclass(frozen=True)
class DemoSummary:
    users: int
    territories: int
    accounts: int
    leads: int
    opportunities: int


def _quarter_bounds(today: date) -> tuple[date, date]:
    start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end_month = start.month + 6
    end = date(start.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end - timedelta(days=1)


def _user(email: str, name: str, role: Role, manager: User | None = None) -> User:
    return User(
        email=email,
        name=name,
        role=role.value,
        manager_id=manager.id if manager else None,
        lead_capacity=60 if role is Role.SALES_REP else None,
    )


async def seed_demo(
    session: AsyncSession, *, seed: int = 7, today: date | None = None
) -> DemoSummary:
    """Adds the demo organisation unless users exist already; never commits."""
    if await user_repo.count(session):
        raise RuntimeError("the database already has users; the demo seeds an empty database")
    rng = random.Random(seed)
    today = today or utcnow().date()
    now = utcnow()

    admin = _user(f"admin@{DOMAIN}", "Avery Admin", Role.ADMIN)
    vp = _user(f"vp.sales@{DOMAIN}", "Morgan Vale", Role.SALES_MANAGER)
    americas = _user(f"jane.smith@{DOMAIN}", "Jane Smith", Role.SALES_MANAGER, vp)
    emea = _user(f"lars.berg@{DOMAIN}", "Lars Berg", Role.SALES_MANAGER, vp)
    people: list[User] = [admin, vp, americas, emea]
    reps: dict[str, list[User]] = {"americas": [], "emea": []}
    for index in range(8):
        team = "americas" if index < 5 else "emea"
        first, last = _FIRST[(index * 3) % 20], _LAST[(index * 7 + 3) % 20]
        rep = _user(
            f"{first.lower()}.{last.lower()}@{DOMAIN}",
            f"{first} {last}",
            Role.SALES_REP,
            americas if team == "americas" else emea,
        )
        reps[team].append(rep)
        people.append(rep)
    session.add_all(people)
    await session.flush()

    na_enterprise = Territory(
        name="North America Enterprise",
        owner_id=americas.id,
        priority=10,
        description="US and Canada, 1,000 employees and more",
    )
    na_commercial = Territory(
        name="North America Commercial",
        owner_id=americas.id,
        priority=20,
        description="US and Canada, under 1,000 employees",
    )
    emea_territory = Territory(
        name="EMEA", owner_id=emea.id, priority=30, description="Europe, Middle East and Africa"
    )
    catch_all = Territory(
        name="Rest of World",
        owner_id=vp.id,
        priority=1000,
        description="Everything no other territory takes",
    )
    territories = [na_enterprise, na_commercial, emea_territory, catch_all]
    session.add_all(territories)
    await session.flush()
    rules = [
        TerritoryRule(
            territory_id=na_enterprise.id, position=0, country="US", employee_count_min=1000
        ),
        TerritoryRule(
            territory_id=na_enterprise.id, position=1, country="CA", employee_count_min=1000
        ),
        TerritoryRule(territory_id=na_commercial.id, position=0, country="US"),
        TerritoryRule(territory_id=na_commercial.id, position=1, country="CA"),
        TerritoryRule(territory_id=emea_territory.id, position=0, region="EMEA"),
        TerritoryRule(territory_id=catch_all.id, position=0),
    ]
    members = {
        na_enterprise.id: reps["americas"][:2],
        na_commercial.id: reps["americas"][2:],
        emea_territory.id: reps["emea"],
        catch_all.id: reps["americas"][:1] + reps["emea"][:1],
    }
    session.add_all(rules)
    session.add_all(
        TerritoryMember(territory_id=tid, user_id=rep.id, position=pos)
        for tid, team in members.items()
        for pos, rep in enumerate(team)
    )
    session.add_all(Product(id=pid, name=name, unit_price=price) for pid, name, price in _PRODUCTS)

    def territory_for(country: str, employees: int) -> Territory:
        if country in {"US", "CA"}:
            return na_enterprise if employees >= 1000 else na_commercial
        if country in {"GB", "DE", "FR", "NL"}:
            return emea_territory
        return catch_all

    accounts: list[Account] = []
    for index in range(60):
        company = f"{_COMPANY_A[index % 15]} {_COMPANY_B[(index // 15 + index) % 7]}"
        if index >= 15:
            company += f" {index}"
        country = rng.choice(_COUNTRIES)
        employees = rng.choice([50, 120, 500, 800, 1500, 5000, 20000])
        territory = territory_for(country, employees)
        owner = rng.choice(members[territory.id])
        accounts.append(
            Account(
                name=company,
                name_normalized=company.lower(),
                domain=company.lower().replace(" ", "") + ".example.com",
                industry=rng.choice(_INDUSTRIES),
                employee_count=employees,
                annual_revenue=Decimal(employees * rng.randint(80, 250) * 1000),
                country=country,
                region="EMEA" if country in {"GB", "DE", "FR", "NL"} else None,
                owner_id=owner.id,
                territory_id=territory.id,
                health_score=rng.randint(30, 98),
                nps=rng.randint(-20, 80),
                open_critical_tickets=rng.choice([0, 0, 0, 1, 2]),
                escalations=rng.choice([0, 0, 1]),
                signals_updated_at=now,
            )
        )
    session.add_all(accounts)
    await session.flush()
    session.add_all(
        Contact(
            account_id=account.id,
            first_name=_FIRST[i % 20],
            last_name=_LAST[(i * 3) % 20],
            email=f"{_FIRST[i % 20].lower()}.{_LAST[(i * 3) % 20].lower()}@{account.domain}",
            title="VP Engineering",
            is_primary=True,
        )
        for i, account in enumerate(accounts)
    )

    statuses = (
        [LeadStatus.NEW] * 4
        + [LeadStatus.WORKING] * 3
        + [LeadStatus.QUALIFIED] * 2
        + [LeadStatus.DISQUALIFIED]
    )
    leads: list[Lead] = []
    for index in range(300):
        first, last = _FIRST[index % 20], _LAST[(index * 7) % 20]
        company = f"{_COMPANY_A[(index * 5) % 15]} {_COMPANY_B[index % 7]} {100 + index}"
        country = rng.choice(_COUNTRIES)
        employees = rng.choice([10, 50, 200, 500, 1200, 4000])
        territory = territory_for(country, employees)
        status = statuses[index % len(statuses)]
        assignee = rng.choice(members[territory.id]) if index % 9 else None
        created = now - timedelta(days=rng.randint(0, 120), minutes=index)
        leads.append(
            Lead(
                status=status.value,
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{last.lower()}.{index}@example.com",
                email_normalized=f"{first.lower()}.{last.lower()}.{index}@example.com",
                phone=f"+1-555-{index:04d}",
                company=company,
                title=rng.choice(["VP Engineering", "CTO", "Head of IT", "Director of Ops"]),
                industry=rng.choice(_INDUSTRIES),
                employee_count=employees,
                annual_revenue=Decimal(employees * 100_000),
                country=country,
                region="EMEA" if country in {"GB", "DE", "FR", "NL"} else None,
                source=rng.choice(_SOURCES),
                score=rng.randint(10, 99),
                attribution={
                    "first_touch": "paid_search",
                    "last_touch": "webinar",
                    "touches": ["paid_search", "email", "webinar"],
                },
                assigned_to_id=assignee.id if assignee else None,
                territory_id=territory.id if assignee else None,
                assigned_at=created if assignee else None,
                disqualified_reason="No budget" if status is LeadStatus.DISQUALIFIED else None,
                created_at=created,
                updated_at=created,
            )
        )
    session.add_all(leads)

    start, end = _quarter_bounds(today)
    span = (end - start).days
    stages = list(OpportunityStage)
    open_stages = [s for s in stages if not STAGES[s].is_closed]
    opportunities: list[Opportunity] = []
    lines: list[OpportunityProduct] = []
    history: list[OpportunityHistory] = []
    # 200 deals closing this quarter and next, then 400 closed ones of the past year: the
    # history `sales-graph model train` learns from. Outcomes follow the prior model plus
    # chance, so the history carries signal.
    for index in range(600):
        account = accounts[index % len(accounts)]
        current = index < 200
        if current:
            stage = stages[index % len(stages)] if index % 4 else OpportunityStage.DISCOVERY
            close = start + timedelta(days=rng.randint(0, span))
        else:
            stage = OpportunityStage.CLOSED_WON  # decided below from the signals
            close = start - timedelta(days=rng.randint(1, 365))
        before = rng.choice(open_stages) if STAGES[stage].is_closed else stage
        product_id, product_name, price = _PRODUCTS[index % len(_PRODUCTS)]
        quantity = rng.choice([10, 25, 50, 100, 250])
        amount = price * quantity * 12
        created = (now if current else datetime.combine(close, time(), UTC)) - timedelta(
            days=rng.randint(5, 90)
        )
        metadata = {"competition": ["Competitor A"] * rng.randint(1, 3)} if index % 5 == 0 else {}
        signals = Signals(
            stage=before,
            stage_changed_at=created,
            close_date_slips=rng.choice([0, 0, 0, 1, 2]),
            amount=amount,
            account_annual_revenue=account.annual_revenue,
            account_health=account.health_score,
            nps=account.nps,
            critical_tickets=account.open_critical_tickets,
            escalations=account.escalations,
            next_step="Schedule a demo" if index % 3 else None,
            competitors=competitors(metadata),
        )
        closed_at = datetime.combine(close, time(17), UTC) if not current else now
        if STAGES[stage].is_closed:
            won = rng.random() < PRIOR.probability(features(signals, closed_at - timedelta(days=7)))
            stage = OpportunityStage.CLOSED_WON if won else OpportunityStage.CLOSED_LOST
        rule = STAGES[stage]
        score, factors = PRIOR.score(replace(signals, stage=stage), now)
        won_terms = stage is OpportunityStage.CLOSED_WON
        opportunity = Opportunity(
            name=f"{account.name} - {product_name}",
            account_id=account.id,
            stage=stage.value,
            amount=amount,
            probability=rule.default_probability,
            forecast_category=rule.forecast_category.value,
            expected_close_date=close,
            owner_id=account.owner_id or admin.id,
            territory_id=account.territory_id,
            next_step=signals.next_step,
            opportunity_metadata=metadata,
            close_date_slips=signals.close_date_slips,
            contract_term=12 if won_terms else None,
            start_date=close + timedelta(days=1) if won_terms else None,
            payment_terms="net_30" if won_terms else None,
            billing_frequency="monthly" if won_terms else None,
            loss_reason="Chose a competitor" if stage is OpportunityStage.CLOSED_LOST else None,
            deal_score=score,
            deal_score_factors=[
                {
                    "feature": f.feature,
                    "direction": f.direction,
                    "weight": f.weight,
                    "explanation": f.explanation,
                }
                for f in factors
            ],
            deal_score_model_version=PRIOR.version,
            closed_at=closed_at if rule.is_closed else None,
            created_at=created,
            updated_at=created,
            stage_changed_at=created,
        )
        opportunities.append(opportunity)
        if rule.is_closed:
            history.append(
                OpportunityHistory(
                    opportunity_id=opportunity.id,
                    field="stage",
                    old_value=before.value,
                    new_value=stage.value,
                    changed_at=closed_at,
                )
            )
        lines.append(
            OpportunityProduct(
                opportunity_id=opportunity.id,
                product_id=product_id,
                product_name=product_name,
                quantity=quantity,
                unit_price=price,
            )
        )
    session.add_all(opportunities)
    await session.flush()
    session.add_all(lines)
    session.add_all(history)
    await session.flush()
    return DemoSummary(
        users=len(people),
        territories=len(territories),
        accounts=len(accounts),
        leads=len(leads),
        opportunities=len(opportunities),
    )
