"""The Marketing system: campaigns, lead scores, and the lead sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sales_graph.simulators.core import SeededApi, not_found, read_body
from sales_graph.simulators.seeded import (
    COMPANIES,
    EPOCH,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    TITLES,
    days_ago,
    is_unknown,
    iso,
    money,
    rng_for,
    short_id,
)

SYSTEM = "marketing"
CHANNELS = ("paid_search", "email", "webinar", "events", "social", "content", "partner")
CAMPAIGN_NAMES = ("Spring Launch", "Cloud Summit", "Q1 Nurture", "Executive Roundtable", "ROI Tour")
SCORE_FACTORS = ("email_engagement", "web_visits", "firmographic_fit", "event_attendance")


class LeadSyncRequest(BaseModel):
    """What the sales side tells Marketing about the lead; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    owner_id: str | None = None
    opportunity_id: str | None = None


def grade_for(score: int) -> str:
    return "A" if score >= 80 else "B" if score >= 60 else "C" if score >= 40 else "D"


@dataclass(eq=False)
class MarketingApi(SeededApi):
    synced: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/api/v1/campaigns/{campaign_id}", self.campaign, methods=["GET"]),
            Route("/api/v1/leads/{lead_id}/score", self.lead_score, methods=["GET"]),
            Route("/api/v1/leads/{lead_id}/sync", self.sync_lead, methods=["POST"]),
        ]

    def state(self) -> dict[str, Any]:
        return {"synced_leads": dict(self.synced)}

    def campaign_payload(self, campaign_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "campaign", campaign_id)
        start = days_ago(rng, 20, 200).date()
        budget = money(rng, 5_000, 250_000)
        end = start + timedelta(days=rng.randint(14, 120))
        return {
            "campaign_id": campaign_id,
            "name": f"{rng.choice(CAMPAIGN_NAMES)} {start.year}",
            "channel": rng.choice(CHANNELS),
            "status": "completed" if end < EPOCH.date() else "active",
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "budget": budget,
            "spend": round(budget * rng.uniform(0.3, 1.0), 2),
            "currency": "USD",
            "leads_generated": rng.randint(10, 2_000),
            "opportunities_influenced": rng.randint(0, 120),
        }

    def score_payload(self, lead_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "score", lead_id)
        points = [rng.randint(0, 25) for _ in SCORE_FACTORS]
        score = min(100, sum(points))
        return {
            "lead_id": lead_id,
            "score": score,
            "grade": grade_for(score),
            "factors": [
                {"name": n, "points": p} for n, p in zip(SCORE_FACTORS, points, strict=True)
            ],
            "model_version": "2026.1",
            "scored_at": iso(days_ago(rng, 0, 14)),
        }

    def lead_payload(self, lead_id: str) -> dict[str, Any]:
        rng = rng_for(self.seed, SYSTEM, "lead", lead_id)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        touches = rng.sample(CHANNELS, rng.randint(1, 4))
        return {
            "lead_id": lead_id,
            "score": self.score_payload(lead_id)["score"],
            "source": touches[-1],
            "campaign_id": short_id(rng, "cmp"),
            "attribution": {
                "first_touch": touches[0],
                "last_touch": touches[-1],
                "touches": touches,
            },
            "profile": {
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}@{company.split()[0]}.example.com".lower(),
                "company": company,
                "title": rng.choice(TITLES),
                "phone": f"+1-555-{rng.randint(0, 9999):04d}",
            },
            "firmographic": {
                "industry": rng.choice(INDUSTRIES),
                "employee_count": rng.choice((25, 120, 500, 2_500, 12_000)),
                "annual_revenue": rng.choice((2_000_000, 15_000_000, 50_000_000, 400_000_000)),
            },
        }

    async def campaign(self, request: Request) -> Response:
        campaign_id = request.path_params["campaign_id"]
        if is_unknown(campaign_id):
            return not_found("campaign", campaign_id)
        return JSONResponse(self.campaign_payload(campaign_id))

    async def lead_score(self, request: Request) -> Response:
        lead_id = request.path_params["lead_id"]
        if is_unknown(lead_id):
            return not_found("lead", lead_id)
        return JSONResponse(self.score_payload(lead_id))

    async def sync_lead(self, request: Request) -> Response:
        lead_id = request.path_params["lead_id"]
        if is_unknown(lead_id):
            return not_found("lead", lead_id)
        body = await read_body(request, LeadSyncRequest)
        if isinstance(body, Response):
            return body
        self.synced[lead_id] = body.model_dump(exclude_none=True)
        payload = {
            **self.lead_payload(lead_id),
            "sales_status": body.status,
            "synced_at": iso(datetime.now(UTC)),
        }
        return JSONResponse(payload)
