from __future__ import annotations

from datetime import date

import pytest

from sales_graph.domain.periods import next_quarter, parse_period, quarter_of
from sales_graph.errors import ValidationError


@pytest.mark.parametrize(
    ("name", "start_month", "start", "end"),
    [
        ("Q1_2026", 1, date(2026, 1, 1), date(2026, 3, 31)),
        ("Q4_2026", 1, date(2026, 10, 1), date(2026, 12, 31)),
        ("M02_2028", 1, date(2028, 2, 1), date(2028, 2, 29)),
        ("FY2026", 1, date(2026, 1, 1), date(2026, 12, 31)),
        ("FY2026", 2, date(2026, 2, 1), date(2027, 1, 31)),
        ("Q4_2026", 2, date(2026, 11, 1), date(2027, 1, 31)),
        ("M03_2026", 7, date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
def test_periods(name: str, start_month: int, start: date, end: date) -> None:
    period = parse_period(name, start_month)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "name", ["Q5_2026", "Q1-2026", "M13_2026", "M3_2026", "FY26", "", "q1_2026"]
)
def test_malformed_periods_are_validation_errors(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_period(name)
    assert "period" in caught.value.details["fields"]


def test_quarter_of_and_next() -> None:
    assert quarter_of(date(2026, 2, 11)).name == "Q1_2026"
    assert quarter_of(date(2026, 1, 15), 2).name == "Q4_2025"
    assert next_quarter(parse_period("Q4_2026")).name == "Q1_2027"
