"""What the event-contract tests build payloads from and check schemas against: in-memory rows
(no database) and the spec's own example events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sales_graph.db.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
    OpportunityProduct,
    Quota,
    Territory,
    TerritoryRule,
    User,
)

NOW = datetime(2026, 2, 11, 8, 0, 0, 123000, tzinfo=UTC)


class Rows:
    def __init__(self) -> None:
        self.manager = User(email="m1@ionoi-inc.com", name="Mia Manager", role="sales_manager")
        self.rep = User(
            email="jane.smith@ionoi-inc.com",
            name="Jane Smith",
            role="sales_rep",
            manager_id=self.manager.id,
        )
        self.territory = Territory(
            name="T1 United States", description=None, owner_id=self.manager.id, version=3
        )
        self.rules = [
            TerritoryRule(
                territory_id=self.territory.id,
                position=1,
                industry="Technology",
                employee_count_min=100,
                annual_revenue_min=Decimal("1000000.00"),
            ),
            TerritoryRule(territory_id=self.territory.id, position=0, country="US"),
        ]
        self.account = Account(name="Acme Corp", name_normalized="acme corp")
        self.contacts = [
            Contact(
                account_id=self.account.id,
                first_name="John",
                last_name="Doe",
                email="john.doe@acme.com",
                phone="+1-555-0100",
                is_primary=True,
            ),
            Contact(account_id=self.account.id, contact_type="billing", email=None),
        ]
        self.lead = Lead(
            email="John.Doe@acme.com",
            email_normalized="john.doe@acme.com",
            first_name="John",
            last_name="Doe",
            company="Acme Corp",
            industry="Technology",
            employee_count=500,
            annual_revenue=Decimal("50000000.00"),
            source="webinar",
            score=85,
            campaign_id="cmp-42",
            status="qualified",
            territory_id=self.territory.id,
            assigned_to_id=self.rep.id,
            assigned_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        self.bare_lead = Lead(email="x@y.io", email_normalized="x@y.io")
        self.opportunity = Opportunity(
            name="Acme - Enterprise",
            account_id=self.account.id,
            lead_id=self.lead.id,
            stage="negotiation",
            probability=90,
            forecast_category="commit",
            amount=Decimal("120000.00"),
            expected_close_date=date(2026, 3, 15),
            owner_id=self.rep.id,
            territory_id=self.territory.id,
            deal_score=72,
            version=4,
            stage_changed_at=NOW,
        )
        self.bare_opportunity = Opportunity(
            name="Bare",
            account_id=self.account.id,
            stage="discovery",
            forecast_category="pipeline",
            owner_id=self.rep.id,
        )
        self.products = [
            OpportunityProduct(
                opportunity_id=self.opportunity.id,
                product_id="prod_123",
                product_name="Enterprise Plan",
                quantity=100,
                unit_price=Decimal("1000.00"),
                discount=Decimal("0.1000"),
                configuration={"data_center": "us-east-1", "features": ["sso"]},
            ),
            OpportunityProduct(
                opportunity_id=self.opportunity.id,
                product_id="prod_9",
                quantity=1,
                unit_price=Decimal("50.00"),
            ),
        ]
        self.quota = Quota(period="Q1_2026", user_id=self.rep.id, amount=Decimal("500000.00"))

    def won(self, *, amount: Decimal | None = Decimal("120000.00")) -> Opportunity:
        row = self.opportunity
        row.stage, row.probability, row.forecast_category = "closed_won", 100, "closed"
        row.amount = amount
        row.closed_at = NOW
        row.contract_term, row.start_date = 12, date(2026, 3, 1)
        row.payment_terms, row.billing_frequency = "net_30", "monthly"
        return row

    def lost(self) -> Opportunity:
        row = self.opportunity
        row.stage, row.probability, row.forecast_category = "closed_lost", 0, "omitted"
        row.closed_at, row.loss_reason = NOW, "Went with a competitor"
        return row


def real_ids(value: Any) -> Any:
    """The spec writes "uuid" where an id goes: a real one instead."""
    if value == "uuid":
        return str(uuid.uuid4())
    if isinstance(value, dict):
        return {k: real_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [real_ids(v) for v in value]
    return value


def spec_envelope(example: dict[str, Any]) -> dict[str, Any]:
    """A spec example (event_type, timestamp, payload) in the full envelope of the spec."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": example["event_type"],
        "timestamp": example["timestamp"],
        "source": "sales-system",
        "version": "1.0",
        "correlation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "payload": real_ids(example["payload"]),
    }


# Copied from the spec (System Dependencies: Billing, Finance, Operations, Marketing).
SPEC_BILLING = {
    "event_type": "opportunity.closed_won",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "opportunity_id": "uuid",
        "account_id": "uuid",
        "amount": 120000.00,
        "contract_term": 12,
        "start_date": "2026-03-01",
        "payment_terms": "net_30",
        "billing_frequency": "monthly",
        "products": [
            {"product_id": "prod_123", "quantity": 100, "unit_price": 100.00, "discount": 0.10}
        ],
        "owner": {"user_id": "uuid", "name": "Jane Smith", "email": "jane.smith@ionoi-inc.com"},
    },
}
SPEC_FINANCE = {
    "event_type": "forecast.updated",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "period": "Q1_2026",
        "territory_id": "uuid",
        "forecast_type": "commit",
        "amount": 5000000.00,
        "probability_weighted_amount": 4250000.00,
        "breakdown": [
            {
                "stage": "negotiation",
                "count": 15,
                "total_amount": 2000000.00,
                "weighted_amount": 1800000.00,
            }
        ],
        "generated_at": "2026-02-11T08:00:00Z",
    },
}
SPEC_OPERATIONS = {
    "event_type": "onboarding.trigger",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "opportunity_id": "uuid",
        "account_id": "uuid",
        "account_name": "Acme Corp",
        "contract_start_date": "2026-03-01",
        "products": [
            {
                "product_id": "prod_123",
                "product_name": "Enterprise Plan",
                "quantity": 100,
                "configuration": {
                    "data_center": "us-east-1",
                    "features": ["sso", "advanced_analytics", "api_access"],
                },
            }
        ],
        "contacts": [
            {
                "type": "primary",
                "name": "John Doe",
                "email": "john.doe@acme.com",
                "phone": "+1-555-0100",
            }
        ],
        "special_requirements": "Requires custom integration with Salesforce",
        "priority": "high",
    },
}
SPEC_MARKETING = {
    "event_type": "lead.qualified",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "lead_id": "uuid",
        "source": "webinar",
        "score": 85,
        "campaign_id": "uuid",
        "attribution": {
            "first_touch": "paid_search",
            "last_touch": "webinar",
            "touches": ["paid_search", "email", "webinar"],
        },
        "profile": {
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "company": "Acme Corp",
            "title": "VP Engineering",
            "phone": "+1-555-0100",
        },
        "firmographic": {
            "industry": "Technology",
            "employee_count": 500,
            "annual_revenue": 50000000,
        },
    },
}


def set_path(path: str, value: Any, *, delete: bool = False) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if delete:
            del node[last]
        else:
            node[last] = value

    return apply
