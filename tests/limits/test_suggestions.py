"""No "Did you mean" at the source: without the message scrubbing of ``schema.errors``."""

from __future__ import annotations

import strawberry

from graphql import execute, parse
from sales_graph.resolvers import build_schema
from sales_graph.resolvers.query import Query
from sales_graph.schema.limits import QueryLimits, SuggestionFreeExecutor
from sales_graph.settings import GraphQLSettings

TYPO = "{ heath { status } }"


async def test_validation_hides_suggestions() -> None:
    plain = strawberry.Schema(query=Query)
    assert "Did you mean" in str((await plain.execute(TYPO)).errors)
    limited = strawberry.Schema(query=Query, extensions=[lambda: QueryLimits(GraphQLSettings())])
    errors = (await limited.execute(TYPO)).errors
    assert errors
    assert "Cannot query field 'heath'" in errors[0].message
    assert "Did you mean" not in errors[0].message


def test_variable_coercion_hides_suggestions() -> None:
    schema = build_schema()._schema
    document = parse("query($s: LeadStatus) { leads(status: $s) { totalCount } }")
    plain = execute(schema, document, variable_values={"s": "NEWW"})
    assert "Did you mean" in str(plain.errors)  # type: ignore[union-attr]
    hidden = execute(
        schema, document, variable_values={"s": "NEWW"}, executor_class=SuggestionFreeExecutor
    )
    assert hidden.errors  # type: ignore[union-attr]
    assert "Did you mean" not in str(hidden.errors)  # type: ignore[union-attr]
