from __future__ import annotations

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
