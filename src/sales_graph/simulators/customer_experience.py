"""The Customer Experience system: health score, product usage, recent tickets, NPS."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sales_graph.simulators.core import AccountReadApi
from sales_graph.simulators.seeded import (
    EPOCH,
    PRODUCT_AREAS,
    days_ago,
    iso,
    newest_first,
    rng_for,
    short_id,
)

SYSTEM = "customer_experience"
HEALTH_DRIVERS = ("product_usage", "support_experience", "engagement", "sentiment")
TICKET_SUBJECTS = (
    "Cannot export report",
    "SSO login loop",
    "Invoice shows wrong seats",
    "API rate limit questions",
    "Dashboard slow to load",
    "Webhook deliveries delayed",
)
NPS_COMMENTS = (
    "Great product, onboarding could be faster.",
    "Support is responsive.",
    "Pricing is hard to understand.",
    "Reporting saves us hours every week.",
)


def health_status(score: int) -> str:
    return "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"


class CustomerExperienceApi(AccountReadApi):
    def payloads(self) -> Sequence[tuple[str, Callable[[str], dict[str, Any]]]]:
        return (
            ("health", self.health_payload),
            ("usage", self.usage_payload),
            ("tickets", self.tickets_payload),
            ("nps", self.nps_payload),
        )

    def health_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "health", account_id)
        drivers = {name: rng.randint(10, 100) for name in HEALTH_DRIVERS}
        score = round(sum(drivers.values()) / len(drivers))
        return {
            "account_id": account_id,
            "score": score,
            "status": health_status(score),
            "trend": rng.choice(("improving", "stable", "declining")),
            "drivers": [{"name": n, "score": s} for n, s in drivers.items()],
            "calculated_at": iso(days_ago(rng, 0, 2)),
        }

    def usage_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "usage", account_id)
        seats = rng.choice((10, 25, 50, 100, 250, 1_000))
        monthly = rng.randint(seats // 4, seats)
        daily = rng.randint(monthly // 4, monthly)
        return {
            "account_id": account_id,
            "period_start": (EPOCH - timedelta(days=30)).date().isoformat(),
            "period_end": EPOCH.date().isoformat(),
            "licensed_seats": seats,
            "monthly_active_users": monthly,
            "daily_active_users": daily,
            "seat_utilization": round(monthly / seats, 4),
            "api_calls": rng.randint(0, 5_000_000),
            "feature_adoption": [
                {"feature": f, "adoption_rate": round(rng.random(), 4)}
                for f in rng.sample(PRODUCT_AREAS, 3)
            ],
            "last_active_at": iso(days_ago(rng, 0, 3)),
        }

    def tickets_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "tickets", account_id)
        items = []
        for _ in range(rng.randint(0, 8)):
            opened = days_ago(rng, 1, 90)
            closed = rng.random() < 0.6
            items.append(
                {
                    "ticket_id": short_id(rng, "tkt"),
                    "subject": rng.choice(TICKET_SUBJECTS),
                    "status": "closed" if closed else rng.choice(("open", "pending")),
                    "priority": rng.choice(("low", "normal", "high", "urgent")),
                    "channel": rng.choice(("email", "chat", "phone", "portal")),
                    "opened_at": iso(opened),
                    "closed_at": iso(opened + timedelta(hours=rng.uniform(1, 96)))
                    if closed
                    else None,
                }
            )
        return newest_first(account_id, items, "opened_at")

    def nps_payload(self, account_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "nps", account_id)
        respondents = rng.randint(5, 80)
        promoters = rng.randint(0, respondents)
        detractors = rng.randint(0, respondents - promoters)
        return {
            "account_id": account_id,
            "score": round(100 * (promoters - detractors) / respondents),
            "respondents": respondents,
            "promoters": promoters,
            "passives": respondents - promoters - detractors,
            "detractors": detractors,
            "survey_date": days_ago(rng, 5, 90).date().isoformat(),
            "latest_comment": rng.choice(NPS_COMMENTS),
        }
