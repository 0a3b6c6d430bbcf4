"""Requests are checked against /openapi.json: what it refuses is a 400 naming the field."""

from __future__ import annotations

import pytest

from sales_graph.db.models import Account
from tests.rest.conftest import Rest
from tests.rest.test_contract import CREATE_LEAD, create_opportunity, new_lead


async def _fields(rest: Rest, method: str, path: str, body: object = None) -> dict[str, str]:
    error = await rest.error(rest.gateway.org.admin, method, path, body, status=400)
    assert error["code"] == "VALIDATION_ERROR"
    fields: dict[str, str] = error["details"]["fields"]
    return fields


@pytest.mark.parametrize(
    "email",
    ["jane@example.test", "jane@mail.invalid", "jane@printer.local", "jane@LOCALHOST.localhost"],
)
async def test_special_use_domains_are_refused_as_the_document_says(rest: Rest, email: str) -> None:
    document = (await rest.gateway.client.get("/openapi.json")).json()
    body = document["paths"]["/api/v1/leads"]["post"]["requestBody"]["content"]
    email_schema = body["application/json"]["schema"]["properties"]["email"]
    assert "not .test, .invalid, .local" in email_schema["description"]
    fields = await _fields(rest, "POST", "/api/v1/leads", {**CREATE_LEAD, "email": email})
    assert fields == {"email": f"must be {email_schema['description']}"}


async def test_public_domains_are_accepted(rest: Rest) -> None:
    for email in ("jane.o'neil+crm@mail.example.com", "JOHN@EXAMPLE.ORG"):
        lead = await new_lead(rest, email)
        assert lead["status"] == "new"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("is_active=-1", "is_active"),
        ("is_active=yes", "is_active"),
        ("owner_id=", "owner_id"),
        ("owner_id=not-a-uuid", "owner_id"),
    ],
)
async def test_query_values_are_typed(rest: Rest, query: str, field: str) -> None:
    assert set(await _fields(rest, "GET", f"/api/v1/territories?{query}")) == {field}


async def test_paging_limits(rest: Rest) -> None:
    assert await _fields(rest, "GET", "/api/v1/leads?limit=0") == {"limit": "must be at least 1"}
    assert await _fields(rest, "GET", "/api/v1/leads?limit=201") == {"limit": "must be at most 200"}
    assert set(await _fields(rest, "GET", "/api/v1/leads?offset=99999999999")) == {"offset"}
    assert set(await _fields(rest, "GET", "/api/v1/leads?limit=1.5")) == {"limit"}


async def test_path_parameters(rest: Rest) -> None:
    assert await _fields(rest, "GET", "/api/v1/leads/42") == {"id": "must be a valid uuid"}
    assert set(await _fields(rest, "GET", "/api/v1/forecasts/Q5_2026")) == {"period"}
    assert set(await _fields(rest, "GET", "/api/v1/forecasts/Q1_0000")) == {"period"}


async def test_body_values(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    lead = await new_lead(rest)
    request = create_opportunity(str(account.id), lead["id"], str(org.r1.id))
    bad = {
        **request,
        "name": " ",
        "amount": 10.005,
        "products": [
            {"product_id": "p1", "quantity": 0, "unit_price": 1, "colour": "red"},
            {"product_id": "p2", "quantity": 1, "unit_price": 1, "configuration": {"k\u0000": 1}},
        ],
        "metadata": {"key": ["nested \u0000 NUL"]},
    }
    assert await _fields(rest, "POST", "/api/v1/opportunities", bad) == {
        "name": "must not be blank or contain NUL characters",
        "amount": "must be a multiple of 0.01",
        "products.0.quantity": "must be at least 1",
        "products.0.colour": "unknown field",
        # Free-form JSON: the limits its description names, checked with the document's.
        "products.1.configuration": "must not contain NUL (U+0000) characters",
        "metadata": "must not contain NUL (U+0000) characters",
    }
    # Cents in binary floating point are still cents.
    created = await rest.ok(
        org.admin, "POST", "/api/v1/opportunities", {**request, "amount": 0.07}, status=201
    )
    found = await rest.ok(org.admin, "GET", f"/api/v1/opportunities/{created['id']}")
    assert found["amount"] == 0.07


async def test_patterns_end_at_the_end_of_the_value(rest: Rest) -> None:
    # ECMA-262's ``$``: a final newline is not the end of the value.
    fields = await _fields(rest, "POST", "/api/v1/leads", {**CREATE_LEAD, "country": "US\n"})
    assert set(fields) == {"country"}


async def test_if_match_any_version(rest: Rest, account: Account) -> None:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    response = await rest.gateway.client.put(
        f"/api/v1/opportunities/{created['id']}/stage",
        json={"stage": "qualification"},
        headers={**rest.headers(org.admin), "If-Match": "*"},
    )
    assert response.status_code == 200, response.text


async def test_every_method_of_a_path_is_allowed(rest: Rest) -> None:
    response = await rest.gateway.client.delete(
        "/api/v1/leads", headers=rest.headers(rest.gateway.org.admin)
    )
    assert response.status_code == 405
    # Every method, in one order whatever the process (a set's order follows the hash seed).
    assert response.headers["Allow"] == "GET, HEAD, POST"
