"""Properties: any JSON or bytes in, never a 5xx; a limit broken is a VALIDATION_ERROR naming
the field. Derandomized (the same examples every run) and small, so CI stays fast and stable."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Coroutine
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sales_graph import jsonlimits
from sales_graph.db.paging import Cursor, Order
from sales_graph.errors import ValidationError
from tests.graphql.conftest import Gateway, gateway  # noqa: F401

PURE = settings(max_examples=300, derandomize=True, deadline=None)
OVER_HTTP = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
KEYS = st.text(max_size=12) | st.text(min_size=95, max_size=110)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=40,
)
# Objects: deep chains and wide ones, to reach every limit.
DEEP = st.integers(min_value=1, max_value=40).map(
    lambda n: orjson.loads(b'{"a":' * (n - 1) + b"{}" + b"}" * (n - 1))
)
WIDE = st.integers(min_value=0, max_value=260).map(lambda n: {str(k): k for k in range(n)})
OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=6) | DEEP | WIDE


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *itertools.chain.from_iterable(_keys(v) for v in value.values())]
    if isinstance(value, list):
        return list(itertools.chain.from_iterable(_keys(v) for v in value))
    return []


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *itertools.chain.from_iterable(_texts(v) for v in value.values())]
    if isinstance(value, list):
        return list(itertools.chain.from_iterable(_texts(v) for v in value))
    return []


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return list(itertools.chain.from_iterable(_ints(v) for v in value.values()))
    if isinstance(value, list):
        return list(itertools.chain.from_iterable(_ints(v) for v in value))
    return []


def within_limits(value: Any) -> bool:
    """The limits as docs/limits.md says them, written the obvious (recursive) way."""
    keys = _keys(value)
    return (
        _depth(value) <= jsonlimits.MAX_DEPTH
        and len(keys) <= jsonlimits.MAX_KEYS
        and all(len(k) <= jsonlimits.MAX_KEY_LENGTH for k in keys)
        and not any("\x00" in t for t in _texts(value))
        and all(-(2**63) <= i < 2**63 for i in _ints(value))
        and len(orjson.dumps(value)) <= jsonlimits.MAX_BYTES
    )


@PURE
@given(OBJECTS)
def test_the_check_agrees_with_the_documented_limits(value: dict[str, Any]) -> None:
    assert (jsonlimits.violation(value) is None) == within_limits(value)


ORDER = Order("SCORE_DESC", key=None, id_column=None, descending=True, kind="int", value_of=int)


@PURE
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_cursor_bytes_decode_or_are_a_validation_error(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        ORDER._decode_values(Cursor.decode(text))
    except ValidationError as exc:
        fields = exc.details["fields"]
    else:
        return
    assert set(fields) == {"after"}


@PURE
@given(
    st.sampled_from(["SCORE_DESC", "CREATED_AT_DESC", "NAME_ASC"]),
    JSON_VALUES,
    st.sampled_from(["datetime", "int", "str", "date"]),
)
def test_any_cursor_value_is_read_or_refused(order: str, value: Any, kind: Any) -> None:
    forged = Cursor(order, value, "00000000-0000-0000-0000-000000000007")
    reader = Order(order, key=None, id_column=None, descending=True, kind=kind, value_of=int)
    try:
        reader._decode_values(forged)
    except ValidationError as exc:
        fields = exc.details["fields"]
    else:
        return
    assert set(fields) == {"after"}


def _run(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)


CREATE = "mutation($input: CreateLeadInput!) { createLead(input: $input) { id metadata } }"


@pytest.mark.parametrize("entrance", ["graphql", "rest"])
async def test_any_metadata_is_stored_or_refused_naming_it(
    gateway: Gateway,  # noqa: F811
    entrance: str,
) -> None:
    loop = asyncio.get_running_loop()
    emails = (f"h{n}@example.com" for n in itertools.count())
    auth = {"Authorization": f"Bearer {gateway.token(gateway.org.admin)}"}

    async def send(metadata: Any) -> tuple[int, dict[str, Any]]:
        email = next(emails)
        if entrance == "rest":
            body = {"email": email, "metadata": metadata}
            response = await gateway.client.post(
                "/api/v1/leads",
                content=json.dumps(body).encode(),
                headers={**auth, "content-type": "application/json"},
            )
            return response.status_code, response.json()
        body = {"query": CREATE, "variables": {"input": {"email": email, "metadata": metadata}}}
        response = await gateway.client.post(
            "/graphql",
            content=json.dumps(body).encode(),
            headers={**auth, "content-type": "application/json"},
        )
        return response.status_code, response.json()

    @OVER_HTTP
    @given(OBJECTS)
    def check(metadata: dict[str, Any]) -> None:
        status, body = _run(loop, send(metadata))
        assert status < 500, body
        if entrance == "rest":
            error = body.get("error")
            fields = (error or {}).get("details", {}).get("fields", {})
        else:
            errors = body.get("errors") or [{}]
            error = body.get("errors") and errors[0]["extensions"]
            fields = (error or {}).get("details", {}).get("fields", {})
        if jsonlimits.violation(metadata) is not None:
            assert error, body
            assert error["code"] == "VALIDATION_ERROR", body
            assert any(f.split(".")[0] == "metadata" for f in fields), body
        elif len(metadata) <= 50:  # the lead's own rule: at most 50 top-level keys
            assert error is None, body

    await asyncio.to_thread(check)
