"""Scalars: ``DateTime`` is UTC ISO-8601 with ``Z``; ``Date`` is ISO ``YYYY-MM-DD``; ``JSON`` is
free-form JSON within ``sales_graph.jsonlimits`` (in) and that can be encoded (out)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from graphql.error import GraphQLError
from graphql.language import ValueNode
from graphql.utilities import value_from_ast_untyped
from strawberry import scalars as strawberry_scalars
from strawberry.types.scalar import ScalarDefinition

from sales_graph import bounds, jsonlimits
from sales_graph.errors import SalesGraphError
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


def _parse_date(value: Any) -> date:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise GraphQLError("must be a date YYYY-MM-DD")
    if problem := bounds.date_problem(parsed):
        raise GraphQLError(problem)
    return parsed


def _parse_date_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> date:
    try:
        return _parse_date(value_from_ast_untyped(node, variables))
    except GraphQLError as exc:
        raise GraphQLError(exc.message, node) from None


Date: ScalarDefinition = strawberry.scalar(
    name="Date",
    description=f"A calendar date, ISO-8601 YYYY-MM-DD; in input {bounds.DATE_RANGE_TEXT}",
    serialize=date.isoformat,
    parse_value=_parse_date,
    parse_literal=_parse_date_literal,
)


class UnreadableValue(SalesGraphError):
    """A stored value that cannot be served: its field is null, with this error at its path."""

    default_message = "The stored value cannot be read"


def _parse_json(value: Any) -> Any:
    if problem := jsonlimits.violation(value, nul=False):
        # A GraphQLError keeps graphql-core from wrapping it: the message is the reason alone.
        raise GraphQLError(problem)
    return value


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    value = value_from_ast_untyped(node, variables)
    if problem := jsonlimits.violation(value, nul=False):
        # At the literal's position, so that the error names the argument or input field.
        raise GraphQLError(problem, node)
    return value


def _serialize_json(value: Any) -> Any:
    if not jsonlimits.readable(value):
        raise UnreadableValue(details={"unreadable": True})
    return value


_ECMA_404 = (
    "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf"
)
JSON: ScalarDefinition = strawberry.scalar(
    name="JSON",
    description=(
        f"The `JSON` scalar type represents JSON values as specified by [ECMA-404]({_ECMA_404})."
    ),
    specified_by_url=_ECMA_404,
    serialize=_serialize_json,
    parse_value=_parse_json,
    parse_literal=_parse_json_literal,
)

SCALAR_OVERRIDES: dict[object, Any] = {
    datetime: DateTime,
    date: Date,
    strawberry_scalars.JSON: JSON,
}
