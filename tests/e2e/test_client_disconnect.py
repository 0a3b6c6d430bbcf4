"""A client that goes away before its body arrives is not a server error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.graphql.conftest import Gateway
from tests.graphql.conftest import gateway as gateway  # the fixture, for this module


@pytest.mark.parametrize("path", ["/graphql", "/api/v1/leads"])
async def test_a_body_cut_off_by_the_client_is_no_server_error(gateway: Gateway, path: str) -> None:
    messages = [
        {"type": "http.request", "body": b'{"query":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    token = gateway.token(gateway.org.admin)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
        "state": {},
    }
    await gateway.app(scope, receive, send)
    # Nobody is left to answer; whatever was sent is not a 5xx.
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert all(m["status"] < 500 for m in starts), starts
