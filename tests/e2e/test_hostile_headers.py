"""Property: whatever values the headers the server reads carry, the answer is never a 5xx,
always has a plain ``X-Request-ID``, and reflects nothing that could split a header."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# The gateway over SQLite and PostgreSQL.
from tests.graphql.conftest import Gateway, gateway  # noqa: F401
from tests.rest.test_contract import CREATE_LEAD, UPDATE_STAGE

READ_HEADERS = (
    "authorization",
    "x-api-key",
    "content-type",
    "content-length",
    "content-encoding",
    "accept",
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
    "x-request-id",
    "x-correlation-id",
    "if-match",
    "idempotency-key",
    "host",
    "x-forwarded-for",
)
ENDPOINTS: tuple[tuple[str, str, bytes], ...] = (
    ("POST", "/graphql", b'{"query": "{ health { status } }"}'),
    ("POST", "/graphql", b'{"query": "{ me { id } }"}'),
    ("GET", "/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D", b""),
    ("HEAD", "/graphql", b""),
    ("POST", "/api/v1/leads", json.dumps(CREATE_LEAD).encode()),
    ("GET", "/api/v1/leads?limit=2", b""),
    ("PUT", f"/api/v1/opportunities/{uuid.UUID(int=7)}/stage", json.dumps(UPDATE_STAGE).encode()),
    ("POST", "/oauth/token", b"grant_type=client_credentials"),
    ("GET", "/.well-known/jwks.json", b""),
    ("OPTIONS", "/api/v1/leads", b""),
    ("GET", "/healthz", b""),
    ("DELETE", "/api/v1/leads", b""),
)
# What a field value may hold on the wire (RFC 9110 section 5.5): HTAB, SP, VCHAR, obs-text.
FIELD_BYTES = bytes([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])
GENERIC = (b"", b" ", b"*", b"null", b"\xe9", b"x" * 10240, b"a,b", b'"', b"[", b"-1")
# Values that mean something to the reader of each header, and their near misses.
SPECIFIC: dict[str, tuple[bytes, ...]] = {
    "authorization": (
        b"Bearer",
        b"Bearer ",
        b"Bearer a.b.c",
        b"Bearer \xe9",
        b"Basic \xe9",
        b"Basic Og==",
        b"Basic //79",
        b"Basic " + b"QQ" * 3000,
        b"bearer x",
    ),
    "x-api-key": (b"sgk_0123456789ab_" + b"a" * 43, b"sgk_", b"sgk_0123456789ab_\xe9"),
    "content-type": (
        b"application/json",
        b"Application/JSON; Charset=UTF-8",
        b"application/json; charset=\xff",
        b"multipart/form-data; boundary=",
        b"application/x-www-form-urlencoded",
        b"text/plain",
        b"application/json;;;=;",
    ),
    "content-length": (b"\xb2", b"\xbd", b"9" * 30, b"0", b"1", b" 5", b"1e3"),
    "content-encoding": (b"gzip", b"identity", b"identity, gzip", b","),
    "accept": (
        b"application/graphql-response+json;q=1e999",
        b"application/graphql-response+json",
        b"*/*;q=nan",
        b"multipart/mixed",
        b"text/html",
    ),
    "origin": (b"https://evil.example", b"null", b"https://crm.ionoi-inc.com"),
    "access-control-request-method": (b"POST", b"TRACE", b"post"),
    "access-control-request-headers": (b"authorization, content-type", b"x-evil", b",,"),
    "x-request-id": (b"abc", b"a" * 129, b"a b", b"a\tb"),
    "x-correlation-id": (b"abc", b"a" * 129, b"a b"),
    "if-match": (b'W/"1"', b'"1"', b'"1", "2"', b'"' + b"9" * 5000 + b'"', b'"0"'),
    "idempotency-key": (b"k", b"k" * 256, b"k\x7f", b"\xe9"),
    "host": (b"[", b"[::1", b"a:b:c", b"gateway:99999", b"evil.example"),
    "x-forwarded-for": (b"203.0.113.7", b"unknown", b"1.1.1.1, 2.2.2.2"),
}
PREFIXES = (b"Bearer ", b"Basic ", b"sgk_", b"application/json;", b"W/", b'"', b"text/")
SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
JSON = b"application/json"


def _field(raw: bytes) -> bytes:
    return bytes(FIELD_BYTES[b % len(FIELD_BYTES)] for b in raw)


def _header(name: str) -> st.SearchStrategy[tuple[str, bytes]]:
    value = st.one_of(
        st.sampled_from(SPECIFIC[name]),
        st.sampled_from(GENERIC),
        st.binary(max_size=80).map(_field),
        st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=60).map(_field)).map(b"".join),
    )
    return st.tuples(st.just(name), value)


headers = st.lists(st.sampled_from(READ_HEADERS).flatmap(_header), min_size=1, max_size=4)


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    request_id = response.headers["x-request-id"]
    assert SAFE_ID.fullmatch(request_id), request_id
    assert response.headers["x-content-type-options"] == "nosniff"
    for name, value in response.headers.raw:
        assert not set(name + value) & {0x00, 0x0A, 0x0D}, (name, value)
    if response.headers.get("content-type") == "application/json" and response.content:
        body: Any = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            assert body["error"]["request_id"] == request_id
            assert body["error"]["code"] != "INTERNAL_ERROR"


async def _send_everywhere(
    gateway: Gateway,  # noqa: F811
    extra: list[tuple[str, bytes]],
    *,
    authenticated: bool,
) -> None:
    """The headers go to every endpoint, so each value meets every reader of its header."""
    for method, path, body in ENDPOINTS:
        sent: list[tuple[bytes, bytes]] = []
        if authenticated:
            sent.append((b"authorization", f"Bearer {gateway.token(gateway.org.admin)}".encode()))
        if body and not any(name == "content-type" for name, _ in extra):
            form = path == "/oauth/token"
            sent.append((b"content-type", b"application/x-www-form-urlencoded" if form else JSON))
        sent.extend((name.encode(), value) for name, value in extra)
        _check(await gateway.client.request(method, path, content=body, headers=sent))


async def test_each_meaningful_value_alone_meets_every_endpoint(gateway: Gateway) -> None:  # noqa: F811
    """Deterministic: one hostile header at a time, so no earlier refusal hides a reader."""
    for name in READ_HEADERS:
        credential = name in {"authorization", "x-api-key"}
        for value in SPECIFIC[name]:
            await _send_everywhere(gateway, [(name, value)], authenticated=not credential)


@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(extra=headers, authenticated=st.booleans())
# Both were 500s: a non-ASCII Basic credential, a Content-Length that int() refuses.
@example(extra=[("authorization", b"Basic \xe9")], authenticated=False)
@example(extra=[("content-length", b"\xb2")], authenticated=True)
async def test_hostile_header_values_never_cause_a_server_error(
    gateway: Gateway,  # noqa: F811
    extra: list[tuple[str, bytes]],
    authenticated: bool,
) -> None:
    await _send_everywhere(gateway, extra, authenticated=authenticated)
