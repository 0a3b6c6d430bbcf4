"""Scalars: ``DateTime`` is UTC ISO-8601 with ``Z``; ``Date`` is ISO ``YYYY-MM-DD``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition

from sales_graph.timeutil import format_datetime


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone, e.g. 2026-02-11T08:00:00Z")
    return parsed


DateTime: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="A UTC instant, ISO-8601 with Z: 2026-02-11T08:00:00Z",
    serialize=format_datetime,
    parse_value=_parse_datetime,
)

SCALAR_OVERRIDES: dict[object, Any] = {datetime: DateTime}
