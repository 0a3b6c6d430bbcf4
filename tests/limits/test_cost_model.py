"""The numbers behind the limits (no I/O): depth, aliases and cost of known documents."""

from __future__ import annotations

from typing import Any

import pytest

from graphql import parse
from sales_graph.resolvers import build_schema
from sales_graph.schema.limits import Measure, measure
from sales_graph.settings import GraphQLSettings

SCHEMA = build_schema()._schema
LIMITS = GraphQLSettings()


def measured(query: str, **variables: Any) -> Measure:
    (result,) = measure(SCHEMA, parse(query), LIMITS, variables)
    return result


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ health { status } }", 2),
        # leads 1 + totalCount 1 + items 1 + 10 x id
        ("{ leads(limit: 10) { totalCount items { id } } }", 13),
        # no limit: the default page of 50
        ("{ leads { items { id } } }", 52),
        # a limit over max_page_size is priced at max_page_size (200)
        ("{ leads(first: 5000) { items { id } } }", 202),
        # a list without a size argument: 50 territories, each with 50 members
        ("{ territories { members { id name } } }", 1 + 50 * (1 + 50 * 2)),
        # users has its own limit argument and returns the list itself
        ("{ users(limit: 20) { id manager { id } } }", 1 + 20 * 3),
    ],
)
def test_cost_is_the_number_of_field_resolutions(query: str, cost: int) -> None:
    assert measured(query).cost == cost


def test_page_size_variables_and_their_defaults() -> None:
    query = "query($n: Int = 7) { leads(limit: $n) { items { id } } }"
    assert measured(query).cost == 2 + 7
    assert measured(query, n=3).cost == 2 + 3
    assert measured(query, n=None).cost == 2 + 50
    # Not an integer: coercion will refuse it; until then it is priced as the largest page.
    assert measured(query, n="lots").cost == 2 + 200


def test_depth_counts_fields_on_the_longest_path() -> None:
    assert measured("{ health { status } }").depth == 2
    ten = "{ me " + "{ manager " * 8 + "{ id }" + " }" * 8 + " }"
    assert measured(ten).depth == 10
    # Past the maximum the walk stops: it only needs to know that the limit is exceeded.
    deep = "{ me " + "{ manager " * 40 + "{ id }" + " }" * 40 + " }"
    assert measured(deep).depth == LIMITS.max_depth + 1


def test_fragments_count_where_they_are_spread() -> None:
    query = """
    { a: leads(limit: 2) { ...Page } b: leads(limit: 4) { ...Page } }
    fragment Page on LeadConnection { items { x: id y: email } }
    """
    result = measured(query)
    assert result.aliases == 2 + 2 * 2
    assert result.cost == (1 + 1 + 2 * 2) + (1 + 1 + 4 * 2)
    assert result.depth == 3


def test_cycles_and_unknown_fragments_end_the_walk() -> None:
    cyclic = "{ ...A } fragment A on Query { health { status } ...B } fragment B on Query { ...A }"
    assert measured(cyclic) == Measure(depth=2, aliases=0, cost=2)
    assert measured("{ ...Missing health { status } }").cost == 2


def test_introspection_is_not_priced() -> None:
    result = measured("{ __typename __schema { types { fields { name } } } }")
    assert result.cost == 2
