"""Periods: ``Q1_2026`` (fiscal quarter), ``M03_2026`` (calendar month), ``FY2026`` (fiscal year).

A fiscal year is named by the calendar year it starts in; its first month is the setting
``fiscal_year_start_month`` (January by default, when fiscal and calendar years agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from pydantic import Field, StringConstraints

from sales_graph.bounds import FIRST_DATE, LAST_DATE, YEAR_PATTERN
from sales_graph.errors import ValidationError

# A period's name, as the event schemas publish it (events/models.py).
PERIOD_PATTERN = r"^(?:Q([1-4])_(\d{4})|M(0[1-9]|1[0-2])_(\d{4})|FY(\d{4}))$"
# ASCII digits only, and ``fullmatch`` (a trailing newline is not a period).
_PATTERN = re.compile(PERIOD_PATTERN, re.ASCII)

# A period as JSON Schema says it (ECMA-262), within the years of business dates.
JSON_SCHEMA: dict[str, str] = {
    "type": "string",
    "pattern": rf"^(?:Q[1-4]_|M(?:0[1-9]|1[0-2])_|FY){YEAR_PATTERN}$",
    "description": "a period such as Q1_2026, M03_2026 or FY2026 "
    f"(years {FIRST_DATE.year} to {LAST_DATE.year})",
}
# A period's name in an input model; ``parse_period`` reads it.
PeriodName = Annotated[
    str,
    StringConstraints(max_length=16),
    Field(json_schema_extra={k: v for k, v in JSON_SCHEMA.items() if k != "type"}),
]


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    start: date
    end: date  # inclusive

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(name: str, fiscal_year_start_month: int = 1, field: str = "period") -> Period:
    match = _PATTERN.fullmatch(name or "")
    if match is None:
        raise ValidationError.of(field, "a period is Q1_2026, M03_2026 or FY2026")
    year = int(next(group for group in reversed(match.groups()) if group and len(group) == 4))
    if not FIRST_DATE.year <= year <= LAST_DATE.year:
        raise ValidationError.of(field, f"the year is {FIRST_DATE.year} to {LAST_DATE.year}")
    return _period(name, match, fiscal_year_start_month)


def _period(name: str, match: re.Match[str], fiscal_year_start_month: int) -> Period:
    quarter, q_year, month, m_year, fy_year = match.groups()
    if month:
        start = date(int(m_year), int(month), 1)
        length = 1
    elif quarter:
        start = _add_months(date(int(q_year), fiscal_year_start_month, 1), 3 * (int(quarter) - 1))
        length = 3
    else:
        start = date(int(fy_year), fiscal_year_start_month, 1)
        length = 12
    return Period(name, start, _add_months(start, length) - timedelta(days=1))


def quarter_of(day: date, fiscal_year_start_month: int = 1) -> Period:
    """The fiscal quarter a day falls in."""
    months_into_year = (day.month - fiscal_year_start_month) % 12
    fiscal_year = day.year if day.month >= fiscal_year_start_month else day.year - 1
    quarter = months_into_year // 3 + 1
    return parse_period(f"Q{quarter}_{fiscal_year}", fiscal_year_start_month)


def next_quarter(period: Period, fiscal_year_start_month: int = 1) -> Period:
    return quarter_of(period.end + timedelta(days=1), fiscal_year_start_month)


def months_in(period: Period) -> list[Period]:
    """The calendar months a period covers, in order (a month: itself)."""
    months = []
    day = period.start
    while day <= period.end:
        months.append(parse_period(f"M{day.month:02d}_{day.year}"))
        day = _add_months(day, 1)
    return months
