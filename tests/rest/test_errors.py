"""Every failure in the spec's envelope, with the status of the spec's table."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from sales_graph.db.models import Account
from tests.rest.conftest import Rest
from tests.rest.test_contract import CREATE_LEAD, create_opportunity, new_lead


async def test_unauthenticated_is_401(rest: Rest) -> None:
    error = await rest.error(None, "GET", "/api/v1/leads", status=401)
    assert error["code"] == "UNAUTHORIZED"


async def test_invalid_token_is_401(rest: Rest) -> None:
    response = await rest.gateway.client.get(
        "/api/v1/leads", headers={"Authorization": "Bearer not-a-jwt"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_invisible_lead_is_404(rest: Rest) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)  # in T2, assigned to r4
    error = await rest.error(org.r1, "GET", f"/api/v1/leads/{lead['id']}", status=404)
    assert error["code"] == "NOT_FOUND"


async def test_forbidden_operation_is_403(rest: Rest) -> None:
    org = rest.gateway.org
    request = {
        "period": "Q1_2026",
        "territory_id": str(org.t1.id),
        "forecast_type": "commit",
        "amount": 1.0,
    }
    error = await rest.error(org.r1, "POST", "/api/v1/forecasts", request, status=403)
    assert error["code"] == "FORBIDDEN"


async def test_stage_transition_error_carries_the_details(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    path = f"/api/v1/opportunities/{created['id']}/stage"
    error = await rest.error(org.admin, "PUT", path, {"stage": "closed_won"}, status=400)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["current_stage"] == "discovery"
    assert error["details"]["requested_stage"] == "closed_won"
    assert "qualification" in error["details"]["allowed_stages"]
    # Nothing changed.
    again = await rest.ok(org.admin, "GET", f"/api/v1/opportunities/{created['id']}")
    assert again["stage"] == "discovery"


async def test_malformed_json_is_400(rest: Rest) -> None:
    org = rest.gateway.org
    response = await rest.gateway.client.post(
        "/api/v1/leads",
        content=b'{"email": ',
        headers={**rest.headers(org.admin), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_body_must_be_an_object(rest: Rest) -> None:
    org = rest.gateway.org
    error = await rest.error(org.admin, "POST", "/api/v1/leads", ["x"], status=400)
    assert error["code"] == "VALIDATION_ERROR"


async def test_unknown_body_fields_are_named(rest: Rest) -> None:
    org = rest.gateway.org
    request = {**CREATE_LEAD, "owner_id": "x", "colour": "red"}
    error = await rest.error(org.admin, "POST", "/api/v1/leads", request, status=400)
    assert set(error["details"]["fields"]) == {"owner_id", "colour"}
    assert "colour" in error["message"]


async def test_unknown_query_parameters_are_named(rest: Rest) -> None:
    org = rest.gateway.org
    error = await rest.error(org.admin, "GET", "/api/v1/leads?sort=name", status=400)
    assert error["details"]["fields"] == {"sort": "unknown query parameter"}


async def test_bad_values_are_400_in_rest_spelling(rest: Rest) -> None:
    org = rest.gateway.org
    error = await rest.error(org.admin, "GET", "/api/v1/leads?limit=lots", status=400)
    assert error["details"]["fields"] == {"limit": "must be an integer"}
    error = await rest.error(org.admin, "GET", "/api/v1/leads?status=bogus", status=400)
    assert error["code"] == "VALIDATION_ERROR"
    request = {**CREATE_LEAD, "employee_count": "many"}
    error = await rest.error(org.admin, "POST", "/api/v1/leads", request, status=400)
    assert "employee_count" in error["details"]["fields"]


async def test_missing_required_field_is_400(rest: Rest) -> None:
    org = rest.gateway.org
    error = await rest.error(org.admin, "GET", "/api/v1/opportunities/pipeline", status=400)
    assert error["code"] == "VALIDATION_ERROR"


async def test_unknown_path_is_404(rest: Rest) -> None:
    org = rest.gateway.org
    error = await rest.error(org.admin, "GET", "/api/v1/nothing-here", status=404)
    assert error["code"] == "NOT_FOUND"


async def test_unexpected_exception_is_a_500_envelope_without_internals(
    rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection to db-7.internal:5432 failed, password=hunter2")

    monkeypatch.setattr("sales_graph.rest.engine._run", broken)
    with capture_logs() as logs:
        response = await rest.call(rest.gateway.org.admin, "GET", "/api/v1/leads")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "Internal server error",
        "details": {},
        "request_id": response.headers["X-Request-ID"],
        "timestamp": response.json()["error"]["timestamp"],
    }
    for secret in ("hunter2", "db-7.internal", "RuntimeError", "Traceback", "engine.py"):
        assert secret not in response.text
    [logged] = [entry for entry in logs if entry["event"] == "http.unhandled_error"]
    assert logged["path"] == "/api/v1/leads"
    assert logged["log_level"] == "error"
