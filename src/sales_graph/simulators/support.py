"""The Support system: critical open tickets, escalation history, active feature requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sales_graph.simulators.core import AccountReadApi
from sales_graph.simulators.seeded import (
    FIRST_NAMES,
    PRODUCT_AREAS,
    days_ago,
    iso,
    newest_first,
    rng_for,
    short_id,
)

SYSTEM = "support"
CRITICAL_TITLES = (
    "Production outage in EU region",
    "Data sync failing for all users",
    "SSO broken after certificate rotation",
    "Payments API returning 500s",
)
ESCALATION_REASONS = ("sla_breach", "executive_request", "repeated_incident", "data_loss_risk")
FEATURE_TITLES = (
    "SCIM provisioning",
    "Custom fields in reports",
    "Audit log export",
    "Regional data residency",
    "Bulk edit via API",
)


class SupportApi(AccountReadApi):
    def payloads(self) -> Sequence[tuple[str, Callable[[str], dict[str, Any]]]]:
        return (
            ("tickets/critical", self.critical_tickets_payload),
            ("escalations", self.escalations_payload),
            ("feature-requests", self.feature_requests_payload),
        )

    def critical_tickets_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "critical", account_id)
        items = []
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            opened = days_ago(rng, 0, 10)
            items.append(
                {
                    "ticket_id": short_id(rng, "sup"),
                    "title": rng.choice(CRITICAL_TITLES),
                    "severity": "critical",
                    "status": rng.choice(("open", "in_progress", "waiting_on_customer")),
                    "product_area": rng.choice(PRODUCT_AREAS),
                    "opened_at": iso(opened),
                    "sla_due_at": iso(opened + timedelta(hours=4)),
                    "assignee": rng.choice(FIRST_NAMES),
                }
            )
        return {"account_id": account_id, "items": items}

    def escalations_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "escalations", account_id)
        items = []
        for _ in range(rng.randint(0, 5)):
            escalated = days_ago(rng, 1, 365)
            resolved = rng.random() < 0.7
            items.append(
                {
                    "escalation_id": short_id(rng, "esc"),
                    "ticket_id": short_id(rng, "sup"),
                    "level": rng.randint(1, 3),
                    "reason": rng.choice(ESCALATION_REASONS),
                    "status": "resolved" if resolved else "open",
                    "escalated_at": iso(escalated),
                    "resolved_at": iso(escalated + timedelta(days=rng.uniform(0.2, 10)))
                    if resolved
                    else None,
                }
            )
        return newest_first(account_id, items, "escalated_at")

    def feature_requests_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "features", account_id)
        return {
            "account_id": account_id,
            "items": [
                {
                    "request_id": short_id(rng, "fr"),
                    "title": title,
                    "status": rng.choice(("under_review", "planned", "in_progress")),
                    "product_area": rng.choice(PRODUCT_AREAS),
                    "votes": rng.randint(1, 400),
                    "requested_at": iso(days_ago(rng, 10, 400)),
                }
                for title in rng.sample(FEATURE_TITLES, rng.randint(0, 4))
            ],
        }
