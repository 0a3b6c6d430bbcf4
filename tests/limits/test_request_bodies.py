"""Request bodies: a size limit on every endpoint, JSON only for /graphql, no mutation by GET."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from typer.testing import CliRunner

from sales_graph import cli
from sales_graph.app import create_app
from tests.gateways import server_config
from tests.limits.conftest import Api, make_settings, serve

LIMIT = 4096


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[Api]:
    """An app with a 4 KiB body limit and a test endpoint that reads its body."""
    async with serve(make_settings(tmp_path, http={"max_body_bytes": LIMIT})) as api:

        async def echo(request: Request) -> Response:
            return JSONResponse({"received": len(await request.body())})

        api.app.add_route("/test/echo", echo, methods=["POST"])
        yield api


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


async def chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_a_body_within_the_limit_is_read(small: Api) -> None:
    response = await small.client.post("/test/echo", content=b"x" * LIMIT)
    assert response.json() == {"received": LIMIT}


async def test_a_declared_length_over_the_limit_is_refused_before_reading(small: Api) -> None:
    response = await small.client.post("/test/echo", content=b"x" * (LIMIT + 1))
    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"max_bytes": LIMIT}


async def test_a_streamed_body_without_length_is_cut_off(small: Api) -> None:
    request = small.client.build_request("POST", "/test/echo", content=chunks(LIMIT * 3))
    assert "content-length" not in request.headers
    assert_envelope(await small.client.send(request), 413, "PAYLOAD_TOO_LARGE")


async def test_a_lying_content_length_does_not_get_a_larger_body_through(small: Api) -> None:
    request = small.client.build_request("POST", "/test/echo", content=chunks(LIMIT * 3))
    request.headers["Content-Length"] = "10"
    assert_envelope(await small.client.send(request), 413, "PAYLOAD_TOO_LARGE")


async def test_a_too_large_graphql_body_is_refused(small: Api) -> None:
    query = "{ health { status } }" + " " * LIMIT
    response = await small.client.post("/graphql", json={"query": query}, headers=small.bearer())
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    request = small.client.build_request(
        "POST",
        "/graphql",
        content=chunks(LIMIT * 2),
        headers={"content-type": "application/json", **small.bearer()},
    )
    assert_envelope(await small.client.send(request), 413, "PAYLOAD_TOO_LARGE")


async def test_the_default_limit_is_one_mebibyte(api: Api) -> None:
    big = {"query": "{ health { status } }", "variables": {"pad": "x" * (1024 * 1024)}}
    assert_envelope(await api.client.post("/graphql", json=big), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    "send",
    [
        {"data": {"query": "{ health { status } }"}},  # application/x-www-form-urlencoded
        {"files": {"query": (None, "{ health { status } }")}},  # multipart/form-data
        {"content": b"{ health { status } }", "headers": {"content-type": "text/plain"}},
        {"content": b'{"query": "{ health { status } }"}'},  # no content type at all
    ],
    ids=["urlencoded", "multipart", "text-plain", "none"],
)
async def test_graphql_posts_must_be_json(api: Api, send: dict[str, Any]) -> None:
    error = assert_envelope(
        await api.client.post("/graphql", **send), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert error["details"]["supported"] == ["application/json"]


async def test_json_with_a_charset_is_json(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ health { status } }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.json() == {"data": {"health": {"status": "ok"}}}


async def test_a_mutation_over_get_is_refused_and_does_nothing(api: Api) -> None:
    mutation = 'mutation { createLead(input: {email: "get@example.com"}) { id } }'
    response = await api.client.get("/graphql", params={"query": mutation}, headers=api.admin())
    error = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["message"] == "mutations are not allowed when using GET"
    count = await api.post("{ leads { totalCount } }", api.admin())
    assert count.json()["data"]["leads"]["totalCount"] == 0


async def test_a_query_over_get_is_fine(api: Api) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "{ health { status } }"}, headers=api.admin()
    )
    assert response.json() == {"data": {"health": {"status": "ok"}}}


async def test_an_encoded_graphql_body_is_refused(api: Api) -> None:
    """The body is read as it comes: an encoding we do not undo is a 415, as on REST."""
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ health { status } }"}',
        headers={"content-type": "application/json", "content-encoding": "br", **api.admin()},
    )
    assert response.status_code == 415
    assert response.headers["accept-encoding"] == "identity"
    assert response.json()["error"]["details"] == {"content_encoding": ["br"]}


def test_websocket_messages_are_bounded_like_bodies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``sales-graph serve`` gives uvicorn the body limit as its WebSocket message limit
    (``web/server.py``), not uvicorn's 16 MiB; the tests' servers run with what it gives."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALES_GRAPH_DATA_DIR", str(tmp_path))  # restored afterwards
    monkeypatch.setenv("SALES_GRAPH_HTTP__MAX_BODY_BYTES", str(LIMIT))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0  # serve needs a database
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    (served,) = calls
    assert served["ws_max_size"] == LIMIT

    config = server_config(create_app(make_settings(tmp_path, http={"max_body_bytes": LIMIT})))
    for option, value in served.items():
        if option not in ("factory", "host", "port", "workers"):
            assert getattr(config, option) == value, option
