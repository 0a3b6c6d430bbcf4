"""Input that cannot hurt: free-form JSON limits, date windows and bodies at every entrance."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from sales_graph import bounds, jsonlimits
from sales_graph.db.models import Account
from tests.graphql.conftest import Gateway, gateway  # noqa: F401

CREATE_LEAD = "mutation($input: CreateLeadInput!) { createLead(input: $input) { id metadata } }"
LEADS_PAGE = "{ leads(limit: 50) { items { id metadata } } }"


def nested(levels: int) -> bytes:
    """A JSON object nested ``levels`` deep, as text: the client's encoder would recurse."""
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def nested_literal(levels: int) -> str:
    return "{a: " * (levels - 1) + "{}" + "}" * (levels - 1)


def headers(gateway: Gateway) -> dict[str, str]:  # noqa: F811
    return {
        "Authorization": f"Bearer {gateway.token(gateway.org.admin)}",
        "content-type": "application/json",
    }


async def raw_post(gateway: Gateway, path: str, body: bytes) -> httpx.Response:  # noqa: F811
    return await gateway.client.post(path, content=body, headers=headers(gateway))


def graphql_fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["extensions"]["code"] == "VALIDATION_ERROR", errors
    fields: dict[str, str] = errors[0]["extensions"].get("details", {}).get("fields", {})
    return fields


def rest_fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields: dict[str, str] = error["details"].get("fields", {})
    return fields


async def no_lead_stored(gateway: Gateway) -> None:  # noqa: F811
    data = await gateway.data(gateway.org.admin, "{ leads { totalCount } }")
    assert data["leads"]["totalCount"] == 0


@pytest.mark.parametrize("levels", [jsonlimits.MAX_DEPTH + 1, 250, 1000])
async def test_deep_metadata_is_refused_naming_the_field_everywhere(
    gateway: Gateway,  # noqa: F811
    levels: int,
) -> None:
    rest = b'{"email": "deep@example.com", "metadata": ' + nested(levels) + b"}"
    assert set(rest_fields(await raw_post(gateway, "/api/v1/leads", rest))) == {"metadata"}

    query = orjson.dumps(CREATE_LEAD)
    variables = b'{"input": {"email": "deep@example.com", "metadata": ' + nested(levels) + b"}}"
    body = b'{"query": ' + query + b', "variables": ' + variables + b"}"
    assert graphql_fields(await raw_post(gateway, "/graphql", body)) == {
        "metadata": f"must not nest more than {jsonlimits.MAX_DEPTH} levels"
    }
    await no_lead_stored(gateway)


async def test_deep_literal_is_refused_without_a_500(gateway: Gateway) -> None:  # noqa: F811
    for levels in (jsonlimits.MAX_DEPTH + 1, 1000, 100_000):
        literal = f'mutation {{ createLead(input: {{email: "lit@example.com", metadata: {nested_literal(levels)}}}) {{ id }} }}'
        response = await gateway.post(gateway.org.admin, literal)
        assert response.status_code == 200, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "VALIDATION_ERROR"
        if levels == jsonlimits.MAX_DEPTH + 1:
            assert error["extensions"]["details"]["fields"] == {
                "metadata": f"must not nest more than {jsonlimits.MAX_DEPTH} levels"
            }
    await no_lead_stored(gateway)


async def test_nesting_past_the_json_parser_is_a_400(gateway: Gateway) -> None:  # noqa: F811
    rest = b'{"email": "deep@example.com", "metadata": ' + nested(100_000) + b"}"
    response = await raw_post(gateway, "/api/v1/leads", rest)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    body = b'{"query": "{ health { status } }", "variables": {"m": ' + nested(100_000) + b"}}"
    response = await raw_post(gateway, "/graphql", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


TOO_MUCH: list[tuple[str, Any]] = [
    ("size", {"k": "x" * (jsonlimits.MAX_BYTES + 1)}),
    ("keys", {"a": {str(n): n for n in range(jsonlimits.MAX_KEYS)}}),
    ("key length", {"k" * (jsonlimits.MAX_KEY_LENGTH + 1): 1}),
    ("integer", {"n": 2**63}),
]


@pytest.mark.parametrize(("limit", "metadata"), TOO_MUCH, ids=[t[0] for t in TOO_MUCH])
async def test_each_limit_is_a_validation_error_naming_the_field(
    gateway: Gateway,  # noqa: F811
    limit: str,
    metadata: dict[str, Any],
) -> None:
    variables = {"input": {"email": "big@example.com", "metadata": metadata}}
    body = orjson.dumps({"query": CREATE_LEAD, "variables": variables})
    assert set(graphql_fields(await raw_post(gateway, "/graphql", body))) == {"metadata"}
    rest = orjson.dumps({"email": "big@example.com", "metadata": metadata})
    assert set(rest_fields(await raw_post(gateway, "/api/v1/leads", rest))) == {"metadata"}
    await no_lead_stored(gateway)


async def test_product_configuration_is_limited_too(
    gateway: Gateway,  # noqa: F811
) -> None:
    account = Account(name="Acme", name_normalized="acme", owner_id=gateway.org.r1.id)
    async with gateway.runtime.db.session() as session:
        session.add(account)
    line = {"product_id": "p1", "quantity": 1, "unit_price": 10, "configuration": {}}
    line["configuration"] = orjson.loads(nested(jsonlimits.MAX_DEPTH + 1))
    request = {"name": "Deal", "account_id": str(account.id), "products": [line]}
    response = await raw_post(gateway, "/api/v1/opportunities", orjson.dumps(request))
    assert rest_fields(response) == {
        "products.0.configuration": f"must not nest more than {jsonlimits.MAX_DEPTH} levels"
    }
    literal = f"""mutation {{ createOpportunity(input: {{name: "Deal", accountId: "{account.id}",
        products: [{{productId: "p1", quantity: 1, unitPrice: 10,
        configuration: {nested_literal(jsonlimits.MAX_DEPTH + 1)}}}]}}) {{ id }} }}"""
    response = await gateway.post(gateway.org.admin, literal)
    assert set(graphql_fields(response)) == {"configuration"}


async def test_metadata_within_the_limits_is_stored_and_served(
    gateway: Gateway,  # noqa: F811
) -> None:
    metadata = orjson.loads(nested(jsonlimits.MAX_DEPTH))
    metadata["text"] = "x" * 1000
    data = await gateway.data(
        gateway.org.admin, CREATE_LEAD, input={"email": "ok@example.com", "metadata": metadata}
    )
    assert data["createLead"]["metadata"] == metadata
    page = await gateway.data(gateway.org.admin, LEADS_PAGE)
    assert page["leads"]["items"][0]["metadata"] == metadata


async def test_a_close_date_outside_the_window_is_refused(gateway: Gateway) -> None:  # noqa: F811
    account = Account(name="Acme", name_normalized="acme", owner_id=gateway.org.r1.id)
    async with gateway.runtime.db.session() as session:
        session.add(account)
    for day in ("0001-01-01", "1969-12-31", "2200-01-01", "9999-12-31"):
        await _refused_everywhere(gateway, account, day)
    data = await gateway.data(gateway.org.admin, "{ opportunities { totalCount } }")
    assert data["opportunities"]["totalCount"] == 0


async def _refused_everywhere(gateway: Gateway, account: Account, day: str) -> None:  # noqa: F811
    request = {"name": "Deal", "account_id": str(account.id), "expected_close_date": day}
    response = await raw_post(gateway, "/api/v1/opportunities", orjson.dumps(request))
    assert set(rest_fields(response)) == {"expected_close_date"}

    create = """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
        id } }"""
    variables = {"name": "Deal", "accountId": str(account.id), "expectedCloseDate": day}
    response = await gateway.post(gateway.org.admin, create, input=variables)
    assert graphql_fields(response) == {
        "expectedCloseDate": f"must be a date {bounds.DATE_RANGE_TEXT}"
    }
    literal = f'mutation {{ createOpportunity(input: {{name: "D", accountId: "{account.id}", expectedCloseDate: "{day}"}}) {{ id }} }}'
    response = await gateway.post(gateway.org.admin, literal)
    assert set(graphql_fields(response)) == {"expectedCloseDate"}


async def test_the_window_ends_are_accepted(gateway: Gateway) -> None:  # noqa: F811
    account = Account(name="Acme", name_normalized="acme", owner_id=gateway.org.r1.id)
    async with gateway.runtime.db.session() as session:
        session.add(account)
    for day in (bounds.FIRST_DATE, bounds.LAST_DATE):
        request = {"name": "Deal", "account_id": str(account.id), "expected_close_date": str(day)}
        response = await raw_post(gateway, "/api/v1/opportunities", orjson.dumps(request))
        assert response.status_code == 201, response.text


NUMBERS_AND_DATES = [
    '{ opportunities(expectedCloseDateRange: {start: "0001-01-01"}) { totalCount } }',
    "{ users(limit: 0) { id } }",
    "{ users(offset: -1) { id } }",
    "{ leads(limit: 2147483647) { totalCount } }",
    "{ leads(offset: 99999999999) { totalCount } }",
    '{ forecasts(period: "FY0000") { amount } }',
    '{ forecasts(period: "FY9999") { amount } }',
]


async def test_numbers_and_dates_that_reach_sql_are_checked_first(
    gateway: Gateway,  # noqa: F811
) -> None:
    for query in NUMBERS_AND_DATES:
        error = await gateway.error(gateway.org.admin, query)
        assert error["extensions"]["code"] == "VALIDATION_ERROR", (query, error)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/graphql"),
        ("POST", "/api/v1/leads"),
        ("POST", "/api/v1/opportunities"),
        ("POST", "/api/v1/leads/5f0c8a7e-3b1d-4c55-9a2e-7d6b1e9f4a10/convert"),
        ("PUT", "/api/v1/opportunities/5f0c8a7e-3b1d-4c55-9a2e-7d6b1e9f4a10/stage"),
        ("POST", "/api/v1/territories/assign"),
        ("POST", "/api/v1/forecasts"),
    ],
)
async def test_json_that_is_not_an_object_is_a_400(
    gateway: Gateway,  # noqa: F811
    method: str,
    path: str,
) -> None:
    for body in (b"[]", b'"x"', b"1", b"null", b"true", b"[1]", b"1e999"):
        response = await gateway.client.request(
            method, path, content=body, headers=headers(gateway)
        )
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["request_id"] == response.headers["X-Request-ID"]


REDIRECTABLE = [
    ("GET", "/graphql/"),
    ("POST", "/graphql/"),
    ("GET", "/graphql/?query=%7Bhealth%7Bstatus%7D%7D"),
    ("GET", "/api/v1/leads/"),
    ("POST", "/api/v1/leads/"),
    ("GET", "/api/v1/leads//"),
    ("GET", "/docs/"),
    ("GET", "/openapi.json/"),
    ("GET", "/healthz/"),
    ("GET", "/.well-known/jwks.json/"),
    ("POST", "/oauth/token/"),
    ("POST", "/webhooks/customer-experience/"),
]


async def test_no_redirect_echoes_the_host_header(gateway: Gateway) -> None:  # noqa: F811
    for method, path in REDIRECTABLE:
        response = await gateway.client.request(
            method, path, headers={**headers(gateway), "Host": "evil.example"}
        )
        assert "location" not in response.headers, (method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert "evil.example" not in response.text
