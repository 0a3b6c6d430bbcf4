"""The app over real HTTP: the envelope and X-Request-ID on every error case."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from sales_graph.app import create_app
from sales_graph.settings import Settings
from tests.gateways import live_server


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)

    async def boom(_request: Request) -> Response:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_route("/test/boom", boom)
    async with live_server(app) as http:
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response.headers["x-request-id"]
    stamp = datetime.fromisoformat(error["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 30
    return error


async def test_unknown_path_is_not_found(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": "{ health', headers={"content-type": "application/json"}
    )
    assert_envelope(response, 400, "VALIDATION_ERROR")


async def test_unexpected_exception_is_masked_and_logged_with_the_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = f"trace-{uuid.uuid4().hex}"
    response = await client.get("/test/boom", headers={"X-Request-ID": request_id})
    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert error["request_id"] == request_id
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    logged = capsys.readouterr().err
    failure = [line for line in logged.splitlines() if "http.unhandled_error" in line]
    assert failure
    assert request_id in failure[0]
    assert "hunter2" in failure[0]


async def test_bad_bearer_token_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ health { status } }"}, headers={"Authorization": "Bearer x.y"}
    )
    assert_envelope(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.status_code == 200
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert uuid.UUID(generated.headers["x-request-id"])
    # A value unfit to log and echo is replaced, not reflected.
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "a b<script>"})
    assert unsafe.headers["x-request-id"] != "a b<script>"
    assert uuid.UUID(unsafe.headers["x-request-id"])


async def test_graphql_errors_carry_code_and_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"X-Request-ID": "gql-1"}
    )
    # No credentials and a protected field: the operation is refused before it runs.
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHORIZED", "request_id": "gql-1"}
    assert "data" not in response.json()  # refused before anything ran
    public = await client.post("/graphql", json={"query": "{ health { status } }"})
    assert public.status_code == 200
    assert public.json()["data"]["health"]["status"]
    invalid = await client.post("/graphql", json={"query": "{ nope }"})
    [error] = invalid.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"


async def test_deeply_nested_json_is_a_validation_error_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", content=b"[" * 100_000, headers={"content-type": "application/json"}
    )
    assert_envelope(response, 400, "VALIDATION_ERROR")
