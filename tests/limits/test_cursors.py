"""Forged cursors are the caller's mistake: 400 VALIDATION_ERROR naming ``after``, never a 500."""

from __future__ import annotations

import base64
import json
import uuid

from tests.graphql.conftest import Gateway, gateway  # noqa: F401


def cursor(*parts: object) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ROW = str(uuid.UUID(int=7))
FORGED = {
    "CREATED_AT_DESC": [
        cursor("CREATED_AT_DESC", "9999-12-31T23:59:59.999999-01:00", ROW),
        cursor("CREATED_AT_DESC", "0001-01-01T00:00:00", ROW),
        cursor("CREATED_AT_DESC", "+10000-01-01T00:00:00+00:00", ROW),
        cursor("CREATED_AT_DESC", 1e308, ROW),
        cursor("CREATED_AT_DESC", None, ROW),
        cursor("CREATED_AT_DESC", [1], ROW),
        cursor("CREATED_AT_DESC", "2026-01-01T00:00:00+00:00", 42),
        cursor("CREATED_AT_DESC", "2026-01-01T00:00:00+00:00"),
        cursor("SCORE_DESC", 1, ROW),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        base64.urlsafe_b64encode(b'{"a": 1, "b": 2, "c": 3}').decode(),
        "not base64 at all!",
        "",
        "A" * 100_000,
    ],
    "SCORE_DESC": [
        cursor("SCORE_DESC", 2**70, ROW),
        cursor("SCORE_DESC", 2**31, ROW),
        cursor("SCORE_DESC", 1e308, ROW),
        cursor("SCORE_DESC", "1" * 5000, ROW),
        cursor("SCORE_DESC", True, ROW),
    ],
}
ACCOUNTS = [
    cursor("NAME_ASC", "a\u0000b", ROW),
    cursor("NAME_ASC", "x" * 10_000, ROW),
    cursor("NAME_ASC", {"not": "text"}, ROW),
]


async def test_forged_cursors_are_validation_errors(gateway: Gateway) -> None:  # noqa: F811
    admin = gateway.org.admin
    query = """query($after: String, $order: LeadOrder!) {
        leads(first: 5, after: $after, orderBy: $order) { totalCount items { id } } }"""
    for order, cursors in FORGED.items():
        for after in cursors:
            error = await gateway.error(admin, query, after=after, order=order)
            assert error["extensions"]["code"] == "VALIDATION_ERROR", (after[:80], error)
            assert set(error["extensions"]["details"]["fields"]) == {"after"}
    for after in ACCOUNTS:
        error = await gateway.error(
            admin, "query($a: String) { accounts(first: 1, after: $a) { totalCount } }", a=after
        )
        assert error["extensions"]["code"] == "VALIDATION_ERROR", (after[:80], error)


async def test_two_forged_cursors_in_one_request_answer_both(gateway: Gateway) -> None:  # noqa: F811
    # Once a 500: the first cursor failed in PostgreSQL, the second met an aborted transaction.
    query = """query($a: String, $b: String) {
        a: accounts(first: 1, after: $a) { totalCount }
        b: leads(first: 1, orderBy: SCORE_DESC, after: $b) { totalCount } }"""
    response = await gateway.post(
        gateway.org.admin, query, a=ACCOUNTS[0], b=cursor("SCORE_DESC", 2**70, ROW)
    )
    assert response.status_code == 200, response.text
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"VALIDATION_ERROR"}


async def test_a_real_cursor_pages_on(gateway: Gateway) -> None:  # noqa: F811
    admin = gateway.org.admin
    for n in range(3):
        await gateway.data(
            admin,
            "mutation($e: String!) { createLead(input: {email: $e, score: 5}) { id } }",
            e=f"p{n}@example.com",
        )
    seen: list[str] = []
    after = None
    for _ in range(3):
        data = await gateway.data(
            admin,
            """query($after: String) { leads(first: 1, after: $after, orderBy: SCORE_DESC) {
                items { email } pageInfo { endCursor } } }""",
            after=after,
        )
        seen += [i["email"] for i in data["leads"]["items"]]
        after = data["leads"]["pageInfo"]["endCursor"]
    assert sorted(seen) == ["p0@example.com", "p1@example.com", "p2@example.com"]
