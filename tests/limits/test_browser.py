"""Browsers: CORS for the listed origins only, security headers on every response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from typer.testing import CliRunner

from sales_graph import cli
from tests.limits.conftest import Api, make_settings, serve

ALLOWED = "https://crm.ionoi-inc.com"
OTHER = "https://evil.example"
HEALTH = {"query": "{ health { status } }"}


@pytest.fixture
async def browser_api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, http={"cors_origins": [ALLOWED]})
    async with serve(settings) as api:

        async def boom(_request: Request) -> Response:
            raise RuntimeError("boom")

        api.app.add_route("/test/boom", boom)
        yield api


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers


async def test_a_preflight_from_an_allowed_origin_is_answered(browser_api: Api) -> None:
    response = await browser_api.client.options("/graphql", headers=preflight(ALLOWED))
    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-origin"] == ALLOWED
    assert headers["access-control-allow-credentials"] == "true"
    assert "POST" in headers["access-control-allow-methods"]
    allowed_headers = headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert headers["access-control-max-age"] == "600"
    assert_security_headers(response)


async def test_a_preflight_from_another_origin_is_refused(browser_api: Api) -> None:
    response = await browser_api.client.options("/graphql", headers=preflight(OTHER))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {"cors": ["origin"]}
    assert error["request_id"] == response.headers["x-request-id"]


async def test_requests_from_the_allowed_origin_may_read_the_answer(browser_api: Api) -> None:
    response = await browser_api.client.post(
        "/graphql", json=HEALTH, headers={"Origin": ALLOWED, **browser_api.bearer()}
    )
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"]
    assert "X-RateLimit-Remaining" in exposed
    assert "X-Request-ID" in exposed
    # Errors too (here a 401), so that a browser app can show them.
    refused = await browser_api.client.post(
        "/graphql", json=HEALTH, headers={"Origin": ALLOWED, "Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED


async def test_other_origins_get_no_allow_origin(browser_api: Api) -> None:
    response = await browser_api.client.post("/graphql", json=HEALTH, headers={"Origin": OTHER})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_no_origin_is_allowed_by_default(api: Api) -> None:
    response = await api.client.options("/graphql", headers=preflight(ALLOWED))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/healthz", {}, 200),
        ("POST", "/graphql", {"json": HEALTH}, 200),
        ("GET", "/nothing-here", {}, 404),
        ("POST", "/graphql", {"data": {"a": "b"}}, 415),
        ("GET", "/test/boom", {}, 500),
    ],
)
async def test_security_headers_on_every_response(
    browser_api: Api, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await browser_api.client.request(method, path, **kwargs)
    assert response.status_code == status
    assert_security_headers(response)


def test_uvicorn_sends_no_server_header(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALES_GRAPH_DATA_DIR", str(tmp_path))  # restored afterwards
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0  # serve needs a database
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert calls[0]["server_header"] is False
    assert calls[0]["proxy_headers"] is False
