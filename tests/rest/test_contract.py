"""Every request example of the spec's REST API, sent as written; every documented field checked."""

from __future__ import annotations

from typing import Any

from sales_graph.db.models import Account
from tests.rest.conftest import ISO_Z, UUID, Rest

QUALIFY = "mutation($id: ID!) { qualifyLead(id: $id) { status } }"

CREATE_LEAD = {
    "source": "webinar",
    "first_name": "John",
    "last_name": "Doe",
    "email": "john.doe@example.com",
    "phone": "+1-555-0100",
    "company": "Acme Corp",
    "title": "VP Engineering",
    "industry": "Technology",
    "employee_count": 500,
    "annual_revenue": 50000000,
    "score": 85,
    "metadata": {"campaign_id": "uuid", "utm_source": "linkedin"},
}
CONVERT = {
    "opportunity_name": "Acme Corp - Enterprise Plan",
    "amount": 120000.00,
    "expected_close_date": "2026-04-30",
    "stage": "discovery",
}
UPDATE_STAGE = {
    "stage": "proposal",
    "probability": 50,
    "next_step": "Send proposal by Friday",
    "notes": "Customer requested custom pricing",
}


def create_opportunity(account_id: str, lead_id: str, owner_id: str) -> dict[str, Any]:
    return {
        "name": "Acme Corp - Enterprise Plan",
        "account_id": account_id,
        "lead_id": lead_id,
        "stage": "discovery",
        "amount": 120000.00,
        "expected_close_date": "2026-04-30",
        "probability": 20,
        "owner_id": owner_id,
        "products": [{"product_id": "prod_123", "quantity": 100, "unit_price": 100.00}],
        "metadata": {
            "competition": ["Competitor A", "Competitor B"],
            "decision_criteria": ["price", "features", "support"],
        },
    }


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


async def new_lead(rest: Rest, email: str = "john.doe@example.com") -> dict[str, Any]:
    admin = rest.gateway.org.admin
    return await rest.ok(admin, "POST", "/api/v1/leads", {**CREATE_LEAD, "email": email}, 201)


async def test_create_lead(rest: Rest) -> None:
    org = rest.gateway.org
    body = await rest.ok(org.admin, "POST", "/api/v1/leads", CREATE_LEAD, status=201)
    assert set(body) == {"id", "status", "assigned_to", "territory_id", "created_at"}
    assert UUID.match(body["id"])
    assert body["status"] == "new"
    # No country: the catch-all territory T2 and its only rep.
    assert body["territory_id"] == str(org.t2.id)
    assert body["assigned_to"] == str(org.r4.id)
    assert ISO_Z.match(body["created_at"])


async def test_get_leads(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    await new_lead(rest, "other@example.com")
    await rest.gateway.data(org.admin, QUALIFY, id=lead["id"])
    path = f"/api/v1/leads?status=qualified&assigned_to={org.r4.id}&limit=50&offset=0"
    body = await rest.ok(org.admin, "GET", path)
    assert body["pagination"] == {"total": 1, "limit": 50, "offset": 0, "has_more": False}
    [item] = body["data"]
    assert item == {
        "id": lead["id"],
        "status": "qualified",
        "first_name": "John",
        "last_name": "Doe",
        "email": "john.doe@example.com",
        "company": "Acme Corp",
        "score": 85,
        "assigned_to": {"id": str(org.r4.id), "name": "User R4"},
        "created_at": lead["created_at"],
        "updated_at": item["updated_at"],
    }
    assert ISO_Z.match(item["updated_at"])


async def test_convert_lead(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    await rest.gateway.data(org.admin, QUALIFY, id=lead["id"])
    path = f"/api/v1/leads/{lead['id']}/convert"
    body = await rest.ok(org.admin, "POST", path, CONVERT, status=201)
    assert set(body) == {"opportunity_id", "lead_id", "status", "converted_at"}
    assert UUID.match(body["opportunity_id"])
    assert body["lead_id"] == lead["id"]
    assert body["status"] == "converted"
    assert ISO_Z.match(body["converted_at"])
    opportunity = await rest.ok(org.admin, "GET", f"/api/v1/opportunities/{body['opportunity_id']}")
    assert opportunity["lead_id"] == lead["id"]
    assert opportunity["amount"] == 120000.0
    assert opportunity["stage"] == "discovery"


async def test_create_opportunity_and_update_stage(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    request = create_opportunity(str(account.id), lead["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    assert set(created) == {"id", "stage", "probability", "deal_score", "created_at"}
    assert UUID.match(created["id"])
    assert created["stage"] == "discovery"
    assert created["probability"] == 20
    assert isinstance(created["deal_score"], int)
    assert ISO_Z.match(created["created_at"])

    path = f"/api/v1/opportunities/{created['id']}/stage"
    updated = await rest.ok(org.admin, "PUT", path, UPDATE_STAGE)
    assert set(updated) == {"id", "stage", "probability", "deal_score", "updated_at"}
    assert updated["id"] == created["id"]
    assert updated["stage"] == "proposal"
    assert updated["probability"] == 50
    assert isinstance(updated["deal_score"], int)
    assert ISO_Z.match(updated["updated_at"])


async def test_pipeline(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    path = f"/api/v1/opportunities/pipeline?owner_id={org.r1.id}&period=Q2_2026"
    body = await rest.ok(org.admin, "GET", path)
    assert set(body) == {"period", "owner_id", "summary", "by_stage"}
    assert body["period"] == "Q2_2026"
    assert body["owner_id"] == str(org.r1.id)
    assert body["summary"] == {
        "total_count": 1,
        "total_amount": 120000.0,
        "weighted_amount": body["summary"]["weighted_amount"],
    }
    assert is_number(body["summary"]["weighted_amount"])
    discovery = next(s for s in body["by_stage"] if s["stage"] == "discovery")
    assert set(discovery) == {"stage", "count", "total_amount", "probability", "weighted_amount"}
    assert discovery["count"] == 1
    assert discovery["total_amount"] == 120000.0
    assert isinstance(discovery["probability"], int)
    assert is_number(discovery["weighted_amount"])
    # The spec's own example, as written, answers in the same shape.
    spec = await rest.ok(
        org.admin, "GET", f"/api/v1/opportunities/pipeline?owner_id={org.r1.id}&period=Q1_2026"
    )
    assert spec["period"] == "Q1_2026"
    assert spec["summary"]["total_count"] == 0


async def test_assign_territory(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    request = {"lead_id": lead["id"], "territory_id": str(org.t1.id), "reason": "Geographic match"}
    body = await rest.ok(org.admin, "POST", "/api/v1/territories/assign", request)
    assert set(body) == {"lead_id", "territory_id", "assigned_to", "assigned_at"}
    assert body["lead_id"] == lead["id"]
    assert body["territory_id"] == str(org.t1.id)
    assert body["assigned_to"] in {str(rep.id) for rep in org.t1_reps}
    assert ISO_Z.match(body["assigned_at"])


async def test_create_forecast(rest: Rest) -> None:
    org = rest.gateway.org
    request = {
        "period": "Q1_2026",
        "territory_id": str(org.t1.id),
        "forecast_type": "commit",
        "amount": 5000000.00,
        "notes": "Conservative estimate based on pipeline coverage",
    }
    body = await rest.ok(org.m1, "POST", "/api/v1/forecasts", request, status=201)
    assert set(body) == {
        "id",
        "period",
        "forecast_type",
        "amount",
        "current_pipeline",
        "pipeline_coverage",
        "created_at",
    }
    assert UUID.match(body["id"])
    assert body["period"] == "Q1_2026"
    assert body["forecast_type"] == "commit"
    assert body["amount"] == 5000000.0
    assert is_number(body["current_pipeline"])
    assert body["pipeline_coverage"] is None or is_number(body["pipeline_coverage"])
    assert ISO_Z.match(body["created_at"])
    listed = await rest.ok(org.m1, "GET", f"/api/v1/forecasts/Q1_2026?territory_id={org.t1.id}")
    assert body["id"] in [f["id"] for f in listed["data"]]


async def test_reads(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    detail = await rest.ok(org.admin, "GET", f"/api/v1/leads/{lead['id']}")
    assert detail["id"] == lead["id"]
    assert detail["territory_id"] == str(org.t2.id)
    assert detail["employee_count"] == 500
    assert detail["annual_revenue"] == 50000000
    assert detail["metadata"] == CREATE_LEAD["metadata"]

    request = create_opportunity(str(account.id), lead["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    page = await rest.ok(org.admin, "GET", f"/api/v1/opportunities?owner_id={org.r1.id}")
    assert [o["id"] for o in page["data"]] == [created["id"]]
    assert page["data"][0]["account_id"] == str(account.id)
    assert page["pagination"]["total"] == 1

    territories = await rest.ok(org.admin, "GET", "/api/v1/territories")
    t1 = next(t for t in territories["data"] if t["id"] == str(org.t1.id))
    assert t1["owner_id"] == str(org.m1.id)
    assert set(t1["member_ids"]) == {str(rep.id) for rep in org.t1_reps}

    found = await rest.ok(org.admin, "GET", f"/api/v1/accounts/{account.id}")
    assert found["name"] == "Acme Corp"
    assert found["territory_id"] == str(org.t1.id)
