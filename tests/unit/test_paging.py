from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from sales_graph.db.paging import Cursor, page_request
from sales_graph.errors import ValidationError


def _page(**values: int | str | None) -> object:
    arguments = {"limit": None, "offset": None, "first": None, "after": None, **values}
    return page_request(**arguments, default_size=50, max_size=200)  # type: ignore[arg-type]


def test_defaults_and_bounds() -> None:
    assert _page().limit == 50  # type: ignore[attr-defined]
    assert _page(limit=200).limit == 200  # type: ignore[attr-defined]
    for bad in ({"limit": 201}, {"first": 0}, {"offset": -1}, {"limit": 1, "first": 1}):
        with pytest.raises(ValidationError):
            _page(**bad)  # type: ignore[arg-type]


def test_cursor_round_trip_and_garbage() -> None:
    cursor = Cursor("CREATED_AT_DESC", "2026-02-11T08:00:00+00:00", "0" * 8)
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(ValidationError):
        Cursor.decode("!!!")
    with pytest.raises(ValidationError):
        _page(after=cursor.encode(), offset=10)


def test_a_cursor_is_read_only_as_minted() -> None:
    from sales_graph.db.repositories.accounts import ORDERS as ACCOUNT_ORDERS
    from sales_graph.db.repositories.leads import ORDERS as LEAD_ORDERS
    from sales_graph.db.repositories.opportunities import ORDERS as OPPORTUNITY_ORDERS

    text = LEAD_ORDERS["CREATED_AT_DESC"].cursor_for(
        datetime(2026, 2, 11, 8, tzinfo=UTC), uuid.UUID(int=7)
    )
    Cursor.decode(text)  # as minted: read
    for forged in (text + "@@@", "***" + text, text[:5] + " " + text[5:], text + "===="):
        with pytest.raises(ValidationError):
            Cursor.decode(forged)
    # The standard alphabet's spelling of the same bytes is no cursor of ours.
    standard = base64.b64encode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    if standard.decode().rstrip("=") != text:
        with pytest.raises(ValidationError):
            Cursor.decode(standard.decode().rstrip("="))
    # A cursor names its list: one list's cursor is no cursor of another with the same order.
    cursor = Cursor.decode(text)
    LEAD_ORDERS["CREATED_AT_DESC"]._decode_values(cursor)
    for other in (OPPORTUNITY_ORDERS["CREATED_AT_DESC"], ACCOUNT_ORDERS["CREATED_AT_DESC"]):
        with pytest.raises(ValidationError) as refused:
            other._decode_values(cursor)
        assert "cursor is for leads.CREATED_AT_DESC" in str(refused.value.details)


def test_a_key_is_read_only_as_minted() -> None:
    from sales_graph.db.repositories.leads import ORDERS

    order = ORDERS["CREATED_AT_DESC"]
    for value in (
        "2026-01-01T00:00:00\x00+00:00",
        "2026-01-01 00:00:00+00:00",
        "2026-01-01T00:00Z",
    ):
        with pytest.raises(ValidationError):
            order._decode_values(Cursor(order.tag, value, str(uuid.UUID(int=1))))
