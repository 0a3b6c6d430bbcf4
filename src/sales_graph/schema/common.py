"""Pieces every domain's types share: paging info, money, and input conversion."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from sales_graph.errors import ValidationError


@strawberry.type(description="Cursor paging: pass endCursor as `after` to get the next page.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def parse_id(value: strawberry.ID | str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError(
            "Invalid request data", details={"fields": {field: "must be a UUID"}}
        ) from None


def input_values(value: Any) -> Any:
    """A Strawberry input as plain data, leaving out the fields the caller did not send."""
    if isinstance(value, list):
        return [input_values(item) for item in value]
    if isinstance(value, Enum):
        return value
    fields = getattr(value, "__strawberry_definition__", None)
    if fields is None:
        return value
    result: dict[str, Any] = {}
    for field in fields.fields:
        item = getattr(value, field.python_name)
        if item is strawberry.UNSET:
            continue
        result[field.python_name] = input_values(item)
    return result
