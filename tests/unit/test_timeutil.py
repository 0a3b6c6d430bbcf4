from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sales_graph.timeutil import format_datetime


def test_whole_seconds_render_like_the_spec() -> None:
    assert format_datetime(datetime(2026, 2, 11, 8, 0, tzinfo=UTC)) == "2026-02-11T08:00:00Z"


def test_other_zones_are_converted_to_utc_and_fractions_kept_to_milliseconds() -> None:
    cet = timezone(timedelta(hours=1))
    value = datetime(2026, 2, 11, 9, 0, 0, 123456, tzinfo=cet)
    assert format_datetime(value) == "2026-02-11T08:00:00.123Z"
