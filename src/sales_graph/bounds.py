"""The ranges of values a request may hold, beyond their types: business dates.

Amounts are bounded by their decimal digits (``max_digits``), counts and percentages by the
input models, page sizes and offsets by ``db/paging.py``; JSON fields by ``jsonlimits``.
"""

from __future__ import annotations

from datetime import date

FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2199, 12, 31)
# The years of the window as an ECMA-262 pattern, for the OpenAPI document.
YEAR_PATTERN = r"(?:19[7-9][0-9]|2[01][0-9]{2})"
DATE_RANGE_TEXT = f"from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"


def date_problem(value: date) -> str | None:
    """Why a business date (close date, contract start, a filter's bound) is refused, or None."""
    if FIRST_DATE <= value <= LAST_DATE:
        return None
    return f"must be a date {DATE_RANGE_TEXT}"
