"""HTTP edges the standard way (RFC 9110): who before what, JSON bodies only, HEAD, 405 with
Allow, CORS preflights, singleton headers sent twice and hostile header values."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sales_graph.app import create_app
from sales_graph.auth.challenge import ANONYMOUS
from sales_graph.db.models import Account
from sales_graph.rest.routes import ROUTES
from sales_graph.rest.table import RestRoute
from sales_graph.settings import HTTPSettings, Settings
from tests.gateways import app_client, gateway_settings, live_server

# The gateway over SQLite and PostgreSQL, and the REST helpers.
from tests.graphql.conftest import Gateway, gateway  # noqa: F401
from tests.rest.conftest import Rest, account, rest  # noqa: F401
from tests.rest.test_contract import UPDATE_STAGE, create_opportunity, new_lead

JSON = "application/json"
HEALTH = b'{"query": "{ health { status } }"}'
PLACEHOLDER = re.compile(r"{\w+}")
SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
BODY_ROUTES = [route for route in ROUTES if route.body is not None]


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def admin(gateway: Gateway) -> dict[str, str]:  # noqa: F811
    return {"Authorization": f"Bearer {gateway.token(gateway.org.admin)}"}


async def lead_count(gateway: Gateway) -> int:  # noqa: F811
    response = await gateway.client.get("/api/v1/leads", headers=admin(gateway))
    assert response.status_code == 200, response.text
    total: int = response.json()["pagination"]["total"]
    return total


def example(route: RestRoute) -> bytes:
    return json.dumps(route.example or {}).encode()


# ---------------------------------------------------------------- who comes before what


async def test_anonymous_rest_requests_are_refused_before_they_are_read(
    gateway: Gateway,  # noqa: F811
) -> None:
    """Whatever an anonymous request carries, it gets the 401 and learns nothing about it."""
    hostile: list[tuple[dict[str, str], bytes]] = [
        (
            {"Content-Type": JSON, "If-Match": "junk", "Idempotency-Key": ""},
            b'{"sneaky_field": [1], "email": 5}',
        ),
        ({"Content-Type": "text/plain"}, b"sneaky_field"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"sneaky_field=1"),
        ({}, b""),
    ]
    for route in ROUTES:
        path = PLACEHOLDER.sub("not-a-uuid", route.path) + "?sneaky_param=x&limit=-1"
        methods = [route.method, *(["HEAD"] if route.method == "GET" else [])]
        for method in methods:
            for headers, content in hostile:
                response = await gateway.client.request(
                    method, path, headers=headers, content=content
                )
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"] == ANONYMOUS
                if method == "HEAD":
                    assert response.content == b""
                    continue
                error = envelope(response, 401, "UNAUTHORIZED")
                assert error["details"] == {}
                assert error["message"] == "Missing or invalid authentication"
                assert "sneaky" not in response.text
    assert await lead_count(gateway) == 0


# ---------------------------------------------------------------- media types


async def test_media_types_are_compared_case_insensitively(gateway: Gateway) -> None:  # noqa: F811
    headers = {**admin(gateway), "Content-Type": 'Application/JSON; Charset="UTF-8"'}
    create_lead = next(r for r in ROUTES if r.operation_id == "createLead")
    created = await gateway.client.post(
        "/api/v1/leads", content=example(create_lead), headers=headers
    )
    assert created.status_code == 201, created.text
    answer = await gateway.client.post("/graphql", content=HEALTH, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"health": {"status": "ok"}}}
    shouting = {**admin(gateway), "Content-Type": "APPLICATION/JSON"}
    me = await gateway.client.post(
        "/graphql", content=b'{"query": "{ me { id } }"}', headers=shouting
    )
    assert me.json() == {"data": {"me": {"id": str(gateway.org.admin.id)}}}


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "text/plain; charset=utf-8",
        "text/json",
        "application/jsonx",
        "application/json-patch+json",
        "",
    ],
)
async def test_rest_bodies_are_json_only(
    gateway: Gateway,  # noqa: F811
    content_type: str | None,
) -> None:
    for route in BODY_ROUTES:
        headers = admin(gateway)
        if content_type is not None:
            headers["Content-Type"] = content_type
        path = PLACEHOLDER.sub(str(uuid.uuid4()), route.path)
        response = await gateway.client.request(
            route.method, path, content=example(route), headers=headers
        )
        error = envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert error["details"]["supported"] == [JSON]
        assert response.headers["accept"] == JSON
        assert response.headers.get("accept-post") == (JSON if route.method == "POST" else None)
    assert await lead_count(gateway) == 0


async def test_encoded_rest_bodies_are_415_naming_identity(gateway: Gateway) -> None:  # noqa: F811
    create_lead = next(r for r in ROUTES if r.operation_id == "createLead")
    for coding in ("gzip", "identity, br", "x-unknown"):
        headers = {**admin(gateway), "Content-Type": JSON, "Content-Encoding": coding}
        response = await gateway.client.post(
            "/api/v1/leads", content=example(create_lead), headers=headers
        )
        envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert response.headers["accept-encoding"] == "identity"
    plain = {**admin(gateway), "Content-Type": JSON, "Content-Encoding": "identity"}
    created = await gateway.client.post(
        "/api/v1/leads", content=example(create_lead), headers=plain
    )
    assert created.status_code == 201, created.text


async def test_graphql_posts_are_json_only(gateway: Gateway) -> None:  # noqa: F811
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        headers = {**admin(gateway), "Content-Type": content_type}
        response = await gateway.client.post("/graphql", content=HEALTH, headers=headers)
        envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert response.headers["accept"] == JSON


async def test_the_openapi_document_takes_json_bodies_only(gateway: Gateway) -> None:  # noqa: F811
    document = (await gateway.client.get("/openapi.json")).json()
    bodies = 0
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "401" in operation["responses"]
            if "requestBody" in operation:
                bodies += 1
                assert list(operation["requestBody"]["content"]) == [JSON]
                assert "415" in operation["responses"]
    assert bodies == len(BODY_ROUTES)
    responses = document["components"]["responses"]
    assert "WWW-Authenticate" in responses["UNAUTHORIZED"]["headers"]
    assert "Accept" in responses["UNSUPPORTED_MEDIA_TYPE"]["headers"]


# ---------------------------------------------------------------- methods


async def test_head_is_get_without_the_content(gateway: Gateway) -> None:  # noqa: F811
    paths = [
        "/api/v1/leads",
        "/api/v1/opportunities",
        "/api/v1/territories",
        "/api/v1/forecasts/Q1_2026",
        "/graphql?query=%7B%20health%20%7B%20status%20%7D%20%7D",
        "/openapi.json",
        "/docs",
        "/healthz",
        "/.well-known/jwks.json",
    ]
    for path in paths:
        got = await gateway.client.get(path, headers=admin(gateway))
        head = await gateway.client.head(path, headers=admin(gateway))
        assert got.status_code == 200, (path, got.text)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert int(head.headers["content-length"]) == len(got.content), path


async def test_unknown_methods_are_405_with_allow(gateway: Gateway) -> None:  # noqa: F811
    by_path: dict[str, set[str]] = {}
    for route in ROUTES:
        by_path.setdefault(route.path, set()).add(route.method)
    expected = {
        path: methods | ({"HEAD"} if "GET" in methods else set())
        for path, methods in by_path.items()
    }
    expected |= {"/graphql": {"GET", "HEAD", "POST"}, "/oauth/token": {"POST"}}
    for path, allowed in expected.items():
        concrete = PLACEHOLDER.sub(str(uuid.uuid4()), path)
        others = ("DELETE", "PATCH", "OPTIONS", "TRACE", "PUT", "POST")
        for method in (m for m in others if m not in allowed):
            response = await gateway.client.request(method, concrete, headers=admin(gateway))
            envelope(response, 405, "METHOD_NOT_ALLOWED")
            assert set(response.headers["allow"].split(", ")) == allowed, (path, method)


# ---------------------------------------------------------------- CORS preflights

ALLOWED_ORIGIN = "https://crm.ionoi-inc.com"


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings(tmp_path, http=HTTPSettings(cors_origins=[ALLOWED_ORIGIN]))
    app = create_app(settings)
    async with app_client(app) as client:
        yield client


@pytest.mark.parametrize(
    "origin",
    [
        "https://crm.ionoi-inc.com.evil.example",
        "https://evil.example",
        "null",
        "http://crm.ionoi-inc.com",
        "https://crm.ionoi-inc.com:8443",
        "https://crm.ionoi-inc.com/",
        "https://" + "a" * 4000 + ".example",
        "https://crm.ionoi-inc.com, https://evil.example",
        "*",
    ],
)
async def test_preflights_from_other_origins_are_refused(
    browser: httpx.AsyncClient, origin: str
) -> None:
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = await browser.options("/api/v1/leads", headers=preflight)
    error = envelope(response, 400, "VALIDATION_ERROR")
    assert "origin" in error["details"]["cors"]
    assert "access-control-allow-origin" not in response.headers
    assert all(origin not in value for value in response.headers.values())
    # A simple request from there gets no CORS headers either.
    simple = await browser.get("/healthz", headers={"Origin": origin})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_a_preflight_asking_for_other_methods_or_headers_is_refused(
    browser: httpx.AsyncClient,
) -> None:
    allowed = await browser.options(
        "/api/v1/leads",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    for method, request_headers in (("TRACE", "content-type"), ("POST", "x-evil, cookie")):
        refused = await browser.options(
            "/api/v1/leads",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": request_headers,
            },
        )
        envelope(refused, 400, "VALIDATION_ERROR")
        assert "access-control-allow-origin" not in refused.headers


# ---------------------------------------------------------------- headers sent twice


async def test_singleton_headers_sent_twice_are_refused(
    gateway: Gateway,  # noqa: F811
    rest: Rest,  # noqa: F811
    account: Account,  # noqa: F811
) -> None:
    token = admin(gateway)["Authorization"]
    create_lead = next(r for r in ROUTES if r.operation_id == "createLead")
    twice: list[tuple[str, str, list[tuple[str, str]], int, str]] = [
        (
            "POST",
            "/api/v1/leads",
            [("Content-Type", JSON), ("Content-Type", JSON)],
            400,
            "Content-Type",
        ),
        (
            "POST",
            "/api/v1/leads",
            [("Content-Type", JSON), ("Content-Type", "text/plain")],
            400,
            "Content-Type",
        ),
        (
            "POST",
            "/api/v1/leads",
            [("Content-Type", JSON), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
            400,
            "Idempotency-Key",
        ),
        ("POST", "/graphql", [("Content-Type", JSON), ("Content-Type", JSON)], 400, "Content-Type"),
    ]
    for method, path, headers, status, field in twice:
        body = example(create_lead) if path.startswith("/api") else HEALTH
        response = await gateway.client.request(
            method, path, content=body, headers=[("Authorization", token), *headers]
        )
        error = envelope(response, status, "VALIDATION_ERROR")
        assert error["details"]["fields"] == {field: "sent more than once"}
    assert await lead_count(gateway) == 0

    opportunity = await _opportunity(rest, account)
    stage = f"/api/v1/opportunities/{opportunity}/stage"
    response = await gateway.client.put(
        stage,
        json=UPDATE_STAGE,
        headers=[("Authorization", token), ("If-Match", '"1"'), ("If-Match", '"1"')],
    )
    error = envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["fields"] == {"If-Match": "sent more than once"}

    for name, value in (("Authorization", token), ("X-API-Key", "sgk_0123456789ab_" + "a" * 43)):
        response = await gateway.client.get("/api/v1/leads", headers=[(name, value), (name, value)])
        envelope(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"]


# ---------------------------------------------------------------- hostile values


async def _opportunity(rest: Rest, account: Account) -> str:  # noqa: F811
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    opportunity_id: str = created["id"]
    return opportunity_id


async def test_if_match_values(
    gateway: Gateway,  # noqa: F811
    rest: Rest,  # noqa: F811
    account: Account,  # noqa: F811
) -> None:
    opportunity = await _opportunity(rest, account)
    stage = f"/api/v1/opportunities/{opportunity}/stage"
    version = (await rest.ok(gateway.org.admin, "GET", f"/api/v1/opportunities/{opportunity}"))[
        "version"
    ]
    refused: list[tuple[bytes, int, str]] = [
        (f'W/"{version}"'.encode(), 412, "PRECONDITION_FAILED"),
        (b"yesterday", 400, "VALIDATION_ERROR"),
        (b"", 400, "VALIDATION_ERROR"),
        (b'"' + b"9" * 5000 + b'"', 400, "VALIDATION_ERROR"),
        (f'"{version}", "{version + 1}"'.encode(), 400, "VALIDATION_ERROR"),
        (b'"1\x7f"', 400, "VALIDATION_ERROR"),
        (b'"\xe9"', 400, "VALIDATION_ERROR"),
        (b"**", 400, "VALIDATION_ERROR"),
    ]
    for value, status, code in refused:
        headers = [
            (b"authorization", admin(gateway)["Authorization"].encode()),
            (b"if-match", value),
        ]
        response = await gateway.client.put(stage, json=UPDATE_STAGE, headers=headers)
        error = envelope(response, status, code)
        if status == 412:
            assert error["details"] == {"if_match": "weak entity tag"}
    unchanged = await rest.ok(gateway.org.admin, "GET", f"/api/v1/opportunities/{opportunity}")
    assert unchanged["version"] == version
    anything = await gateway.client.put(
        stage, json=UPDATE_STAGE, headers={**admin(gateway), "If-Match": "*"}
    )
    assert anything.status_code == 200, anything.text


async def test_idempotency_key_values(gateway: Gateway) -> None:  # noqa: F811
    create_lead = next(r for r in ROUTES if r.operation_id == "createLead")
    for value in (b"", b" ", b"a" * 256, b"\xe9t\xe9", b"a b", b"a\tb", b"\x7f"):
        headers = [
            (b"authorization", admin(gateway)["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"idempotency-key", value),
        ]
        response = await gateway.client.post(
            "/api/v1/leads", content=example(create_lead), headers=headers
        )
        error = envelope(response, 400, "VALIDATION_ERROR")
        assert list(error["details"]["fields"]) == ["Idempotency-Key"]
    assert await lead_count(gateway) == 0
    keyed = {**admin(gateway), "Content-Type": JSON, "Idempotency-Key": "~!" + "k" * 253}
    first = await gateway.client.post("/api/v1/leads", content=example(create_lead), headers=keyed)
    again = await gateway.client.post("/api/v1/leads", content=example(create_lead), headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert await lead_count(gateway) == 1


async def test_content_length_that_lies_is_no_server_error(gateway: Gateway) -> None:  # noqa: F811
    for declared in (b"\xb2", b"abc", b"-5", b"1", b"0", b" 12", b"\xbd"):
        headers = [
            (b"authorization", admin(gateway)["Authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"content-length", declared),
        ]
        response = await gateway.client.post("/graphql", content=HEALTH, headers=headers)
        assert response.status_code == 200, (declared, response.text)
    huge = [(b"content-type", b"application/json"), (b"content-length", b"9" * 30)]
    envelope(
        await gateway.client.post("/graphql", content=HEALTH, headers=huge),
        413,
        "PAYLOAD_TOO_LARGE",
    )


async def test_odd_accept_values_are_ignored_safely(gateway: Gateway) -> None:  # noqa: F811
    for accept in (
        "*/*;q=abc",
        "application/json;q=nan",
        "application/graphql-response+json;q=1e999",
        ",,,;;;=",
        "text/html",
        "a" * 8000,
        "application/json;q=-1, */*;q=0",
    ):
        answer = await gateway.client.post(
            "/graphql",
            content=HEALTH,
            headers={**admin(gateway), "Content-Type": JSON, "Accept": accept},
        )
        assert answer.status_code == 200, (accept, answer.text)
        assert answer.json() == {"data": {"health": {"status": "ok"}}}
        listed = await gateway.client.get(
            "/api/v1/leads", headers={**admin(gateway), "Accept": accept}
        )
        assert listed.status_code == 200, (accept, listed.text)


@pytest.fixture
async def logged_app(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app that logs every request (INFO, JSON lines on stderr)."""
    settings = gateway_settings(tmp_path, log_level="INFO", log_json=True)
    app = create_app(settings)
    async with app_client(app) as client:
        yield client


async def test_hostile_request_and_correlation_ids_are_neither_echoed_nor_logged(
    logged_app: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for value in (
        b"abc\n",
        b"a\x01b",
        b"x" * 10240,
        b"<script>",
        b"id with space",
        b"\xe9t\xe9",
        b"a" * 129,
    ):
        for path in ("/healthz", "/nothing-here"):
            headers = [(b"x-request-id", value), (b"x-correlation-id", value)]
            response = await logged_app.get(path, headers=headers)
            request_id = response.headers["x-request-id"]
            assert uuid.UUID(request_id), request_id
            if response.status_code == 404:
                assert envelope(response, 404, "NOT_FOUND")["request_id"] == request_id
            logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
            requests = [entry for entry in logged if entry["event"] == "http.request"]
            assert [entry["request_id"] for entry in requests] == [request_id]
            assert requests[0]["correlation_id"] == request_id
            hostile = value.decode("latin-1")
            assert not any(
                isinstance(v, str) and hostile in v for entry in logged for v in entry.values()
            )
    plain = await logged_app.get(
        "/healthz", headers={"X-Request-ID": "req-1.2:3", "X-Correlation-ID": "flow-9"}
    )
    assert plain.headers["x-request-id"] == "req-1.2:3"
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [
        (e["request_id"], e["correlation_id"]) for e in logged if e["event"] == "http.request"
    ] == [("req-1.2:3", "flow-9")]


async def test_over_real_http_head_and_challenges_hold(settings: Settings) -> None:
    """The same answers through uvicorn, which owns the HEAD framing."""
    async with live_server(create_app(settings)) as http:
        head = await http.head("/graphql", params={"query": "{ health { status } }"})
        got = await http.get("/graphql", params={"query": "{ health { status } }"})
        assert (head.status_code, head.content) == (200, b"")
        assert int(head.headers["content-length"]) == len(got.content)
        anonymous = await http.head("/api/v1/leads")
        assert (anonymous.status_code, anonymous.content) == (401, b"")
        assert anonymous.headers["www-authenticate"] == ANONYMOUS
        shouting = await http.post(
            "/graphql", content=HEALTH, headers={"Content-Type": "APPLICATION/JSON; CHARSET=UTF-8"}
        )
        assert shouting.json() == {"data": {"health": {"status": "ok"}}}
        form = await http.post(
            "/api/v1/leads", content=b"a=1", headers={"Content-Type": "text/plain"}
        )
        envelope(form, 401, "UNAUTHORIZED")
