"""The GraphQL abuse suite: every hostile document is refused with a clear error, never a 500."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graphql import get_introspection_query
from sales_graph.schema import limits
from tests.limits.conftest import Api


def assert_refused(errors: list[dict[str, Any]], text: str, limit: str | None = None) -> None:
    assert any(text in error["message"] for error in errors), errors
    for error in errors:
        assert error["extensions"]["code"] == "VALIDATION_ERROR", error
        assert error["extensions"]["request_id"]
        assert "Did you mean" not in error["message"]
    if limit is not None:
        details = [e["extensions"].get("details", {}) for e in errors]
        assert any(d.get("limit") == limit for d in details), details


async def test_an_ordinary_nested_query_is_within_the_limits(api: Api) -> None:
    response = await api.post(
        """query($n: Int!) {
          leads(limit: $n) { totalCount items { id email assignments { reason method } } }
          territories { name members { name } rules { country } }
          me { name manager { name } }
        }""",
        api.admin(),
        n=100,
    )
    body = response.json()
    assert response.status_code == 200
    assert "errors" not in body, body
    assert body["data"]["me"]["name"] == "User ADMIN"


async def test_a_15_deep_query_is_refused(api: Api) -> None:
    query = "{ me " + "{ manager " * 14 + "{ id }" + " }" * 14 + " }"
    errors = await api.errors(query)
    assert_refused(errors, "maximum depth of 10", "depth")


async def test_depth_counts_through_fragments(api: Api) -> None:
    query = """
    { me { ...Chain } }
    fragment Chain on User { manager { manager { manager { ...Deeper } } } }
    fragment Deeper on User { manager { manager { manager { manager { manager { manager { id } } } } } } }
    """
    assert_refused(await api.errors(query), "maximum depth of 10", "depth")


async def test_100_aliases_are_refused(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: health {{ status }}" for i in range(100)) + " }"
    errors = await api.errors(query)
    assert_refused(errors, "100 aliases", "aliases")
    assert errors[0]["extensions"]["details"] == {"limit": "aliases", "maximum": 30, "actual": 100}


async def test_aliases_in_a_fragment_count_at_every_spread(api: Api) -> None:
    fragment = " ".join(f"a{i}: health {{ status }}" for i in range(10))
    query = "{ " + "...Ten " * 10 + "} fragment Ten on Query { " + fragment + " }"
    assert_refused(await api.errors(query), "100 aliases", "aliases")


@pytest.mark.parametrize(
    "query",
    [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ me { ...U } } fragment U on User { manager { ...U } }",
        "{ ...A } fragment A on Query { health { status } ...A }",
    ],
    ids=["mutual", "through-a-field", "self"],
)
async def test_circular_fragments_are_refused(api: Api, query: str) -> None:
    assert_refused(await api.errors(query), "Cannot spread fragment")


async def test_an_unknown_fragment_is_a_validation_error(api: Api) -> None:
    assert_refused(await api.errors("{ ...Nowhere }"), "Unknown fragment 'Nowhere'")


async def test_5000_repeated_fields_exceed_the_token_limit(api: Api) -> None:
    query = "{ health { " + "status " * 5000 + "} }"
    assert_refused(await api.errors(query), "more than 2000 tokens")


async def test_200_by_nested_lists_exceed_the_cost_limit(api: Api) -> None:
    query = """{ leads(limit: 200) { items { id assignments {
        reason territory { members { id email } } } } } }"""
    errors = await api.errors(query)
    assert_refused(errors, "exceeds the maximum of 50000", "cost")
    # 200 leads x 50 assignments (no limit argument: the default page) x 50 members.
    assert errors[0]["extensions"]["details"]["actual"] > 1_000_000


async def test_page_sizes_given_as_variables_are_priced(api: Api) -> None:
    query = """query($n: Int) { accounts(limit: $n) { items { id name
        contacts { id email firstName lastName title phone } } } }"""
    assert_refused(await api.errors(query, n=200), "exceeds the maximum", "cost")
    response = await api.post(query, api.admin(), n=10)
    assert "errors" not in response.json(), response.text


async def test_doubling_fragments_are_priced_without_being_walked_exponentially(api: Api) -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(60))
    query = "{ ...F0 } " + fragments + " fragment F60 on Query { health { status } }"
    begun = time.perf_counter()
    errors = await api.errors(query)
    assert time.perf_counter() - begun < 2.0
    assert_refused(errors, "exceeds the maximum", "cost")
    # 2^61 saturates below 2^53, so the number stays a JSON integer.
    assert errors[0]["extensions"]["details"]["actual"] <= 10**15


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ leads { itemz } }", {}),
        ("{ leads(limt: 5) { totalCount } }", {}),
        ("{ leads(status: NEWW) { totalCount } }", {}),
        ("query($s: LeadStatus) { leads(status: $s) { totalCount } }", {"s": "NEWW"}),
        ("{ ...X } fragment X on Quer { health { status } }", {}),
        ("{ heath { status } }", {}),
        (
            "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }",
            {"i": {"emial": "x@example.com"}},
        ),
    ],
)
async def test_no_error_suggests_a_name(api: Api, query: str, variables: dict[str, Any]) -> None:
    response = await api.post(query, api.admin(), **variables)
    assert response.status_code == 200
    assert "Did you mean" not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


async def test_introspection_works_in_development(api: Api) -> None:
    response = await api.post(get_introspection_query(descriptions=True), api.admin())
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_is_refused_in_production(production_api: Api) -> None:
    for query in (
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Lead") { fields { name } } }',
        get_introspection_query(),
    ):
        errors = await production_api.errors(query)
        assert_refused(errors, "introspection has been disabled")
    response = await production_api.post("{ __typename health { status } }", production_api.admin())
    assert response.json()["data"] == {"__typename": "Query", "health": {"status": "ok"}}


async def test_production_errors_suggest_nothing_either(production_api: Api) -> None:
    response = await production_api.post("{ leads { itemz } }", production_api.admin())
    assert "Did you mean" not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


async def test_an_integer_too_long_to_convert_leaks_nothing(api: Api) -> None:
    response = await api.post("{ leads(limit: " + "9" * 5000 + ") { totalCount } }", api.admin())
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] in {"VALIDATION_ERROR", "INTERNAL_ERROR"}
    assert "int_max_str_digits" not in response.text


async def test_a_failure_inside_the_limits_is_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(limits._Measurer, "operation", broken)
    response = await api.post("{ health { status } }", api.admin())
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    assert "secret" not in response.text


@pytest.mark.parametrize("digits", [12, 5000])
async def test_an_int_literal_of_thousands_of_digits_is_a_validation_error(
    api: Api, digits: int
) -> None:
    # 5,000 digits is beyond what Python converts to int at all: refused before coercion.
    errors = await api.errors("{ leads(limit: %s) { totalCount } }" % ("9" * digits))
    assert_refused(errors, "Int cannot represent non 32-bit signed integer value")


async def test_a_document_validated_once_is_measured_again_with_each_requests_variables(
    api: Api,
) -> None:
    """Valid documents are not validated twice (a cache by text), but their cost depends on
    the variables and is measured every time."""
    query = """query($n: Int!) { leads(limit: $n) { items { id assignments {
        territory { members { id } } } } } }"""
    first = await api.post(query, api.admin(), n=2)
    assert "errors" not in first.json(), first.json()
    errors = await api.errors(query, n=200)
    assert_refused(errors, "exceeds the maximum of 50000", "cost")
    again = await api.post(query, api.admin(), n=2)
    assert "errors" not in again.json(), again.json()
