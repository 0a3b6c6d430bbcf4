"""Leads over GraphQL: the spec's create, assignment, paging, N+1, validation."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.graphql.conftest import Gateway, StatementCounter

CREATE = """
mutation($input: CreateLeadInput!) {
  createLead(input: $input) {
    id status email createdAt
    assignedTo { id name }
    territory { id name }
    assignments { method reason assignedTo { id } }
  }
}
"""

# The spec's Create Lead request body, field for field, in GraphQL's spelling.
SPEC_CREATE_LEAD = {
    "source": "webinar",
    "firstName": "John",
    "lastName": "Doe",
    "email": "john.doe@example.com",
    "phone": "+1-555-0100",
    "company": "Acme Corp",
    "title": "VP Engineering",
    "industry": "Technology",
    "employeeCount": 500,
    "annualRevenue": 50000000,
    "score": 85,
    "metadata": {"campaign_id": "uuid", "utm_source": "linkedin"},
}


def lead_input(n: int, **overrides: Any) -> dict[str, Any]:
    return {"email": f"lead{n}@example.com", "company": f"Company {n}", **overrides}


async def test_spec_create_lead_is_created_and_assigned(gateway: Gateway) -> None:
    data = await gateway.data(gateway.org.admin, CREATE, input=SPEC_CREATE_LEAD)
    lead = data["createLead"]
    assert lead["status"] == "NEW"
    assert lead["email"] == "john.doe@example.com"
    created = datetime.fromisoformat(lead["createdAt"].replace("Z", "+00:00"))
    assert lead["createdAt"].endswith("Z")
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    # No country: the catch-all territory T2 and its only member r4.
    assert lead["territory"]["id"] == str(gateway.org.t2.id)
    assert lead["assignedTo"]["id"] == str(gateway.org.r4.id)
    [assignment] = lead["assignments"]
    assert assignment["method"] == "round_robin"
    assert "T2" in assignment["reason"]

    fetched = await gateway.data(
        gateway.org.admin,
        "query($id: ID!) { lead(id: $id) { source score company metadata attribution { firstTouch } } }",
        id=lead["id"],
    )
    assert fetched["lead"] == {
        "source": "webinar",
        "score": 85,
        "company": "Acme Corp",
        "metadata": {"campaign_id": "uuid", "utm_source": "linkedin"},
        "attribution": None,
    }


async def test_rules_pick_the_first_matching_territory(gateway: Gateway) -> None:
    data = await gateway.data(gateway.org.admin, CREATE, input=lead_input(1, country="us"))
    lead = data["createLead"]
    assert lead["territory"]["id"] == str(gateway.org.t1.id)
    assert lead["assignedTo"]["id"] in {str(r.id) for r in gateway.org.t1_reps}


async def test_concurrent_creation_deals_leads_evenly(gateway: Gateway) -> None:
    async def create(n: int) -> dict[str, Any]:
        return await gateway.data(gateway.org.m1, CREATE, input=lead_input(n, country="US"))

    results = await asyncio.gather(*(create(n) for n in range(60)))
    owners = Counter(r["createLead"]["assignedTo"]["id"] for r in results)
    assert set(owners) == {str(r.id) for r in gateway.org.t1_reps}
    assert sorted(owners.values()) == [20, 20, 20]
    assert all(r["createLead"]["territory"]["id"] == str(gateway.org.t1.id) for r in results)


async def test_capacity_sends_leads_to_members_with_room(gateway: Gateway) -> None:
    async with gateway.runtime.db.session() as session:
        r1 = await session.get(type(gateway.org.r1), gateway.org.r1.id)
        assert r1 is not None
        r1.lead_capacity = 1
        session.add(r1)
    results = [
        await gateway.data(gateway.org.m1, CREATE, input=lead_input(n, country="US"))
        for n in range(9)
    ]
    owners = Counter(r["createLead"]["assignedTo"]["id"] for r in results)
    assert owners[str(gateway.org.r1.id)] == 1
    assert owners[str(gateway.org.r2.id)] == 4
    assert owners[str(gateway.org.r3.id)] == 4


NESTED_PAGE = """
query($limit: Int!) {
  leads(limit: $limit) {
    items { id assignedTo { name } territory { name owner { name } } }
  }
}
"""


async def test_nested_page_costs_the_same_statements_for_10_and_50(
    gateway: Gateway, count_statements: StatementCounter
) -> None:
    for n in range(50):
        country = "US" if n % 2 else "FR"
        await gateway.data(gateway.org.admin, CREATE, input=lead_input(n, country=country))
    counts = []
    for limit in (10, 50):
        count_statements.statements.clear()
        data = await gateway.data(gateway.org.admin, NESTED_PAGE, limit=limit)
        assert len(data["leads"]["items"]) == limit
        assert all(item["territory"]["owner"]["name"] for item in data["leads"]["items"])
        counts.append(len(count_statements.statements))
    assert counts[0] == counts[1], count_statements.statements
    # Authentication reads the user as it is now (its own transaction: BEGIN and one SELECT),
    # then the page, users, territories, territory owners: one per level.
    assert counts[1] <= 7, count_statements.statements


async def test_cursor_paging_walks_every_lead_once_in_order(gateway: Gateway) -> None:
    for n in range(23):
        await gateway.data(gateway.org.admin, CREATE, input=lead_input(n, score=n % 7))
    query = """
    query($after: String, $order: LeadOrder!) {
      leads(first: 5, after: $after, orderBy: $order) {
        items { id score createdAt } pageInfo { hasNextPage endCursor } totalCount
      }
    }"""
    for order in ("CREATED_AT_DESC", "SCORE_DESC", "CREATED_AT_ASC"):
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            page = (await gateway.data(gateway.org.admin, query, after=after, order=order))["leads"]
            assert page["totalCount"] == 23
            seen.extend(page["items"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == 23
        assert len({item["id"] for item in seen}) == 23
        if order == "SCORE_DESC":
            scores = [item["score"] for item in seen]
            assert scores == sorted(scores, reverse=True)


async def test_offset_paging_reports_has_more_and_total(gateway: Gateway) -> None:
    for n in range(7):
        await gateway.data(gateway.org.admin, CREATE, input=lead_input(n))
    query = "query($o: Int!) { leads(limit: 3, offset: $o) { items { id } totalCount limit offset hasMore } }"
    first = (await gateway.data(gateway.org.admin, query, o=0))["leads"]
    last = (await gateway.data(gateway.org.admin, query, o=6))["leads"]
    assert (first["totalCount"], first["hasMore"], len(first["items"])) == (7, True, 3)
    assert (last["offset"], last["hasMore"], len(last["items"])) == (6, False, 1)


async def test_filters_and_search(gateway: Gateway) -> None:
    org = gateway.org
    await gateway.data(org.admin, CREATE, input=lead_input(1, country="US", company="Zeta Labs"))
    await gateway.data(org.admin, CREATE, input=lead_input(2, country="FR"))
    by_territory = await gateway.data(
        org.admin,
        "query($t: ID!) { leads(territoryId: $t) { totalCount } }",
        t=str(org.t2.id),
    )
    assert by_territory["leads"]["totalCount"] == 1
    searched = await gateway.data(org.admin, '{ leads(search: "zeta") { items { company } } }')
    assert searched["leads"]["items"] == [{"company": "Zeta Labs"}]
    assigned = await gateway.data(
        org.admin,
        "query($u: ID!) { leads(assignedTo: $u, status: NEW) { totalCount } }",
        u=str(org.r4.id),
    )
    assert assigned["leads"]["totalCount"] == 1


async def test_search_matches_its_text_literally(gateway: Gateway) -> None:
    """``%``, ``_`` and ``\\`` in a search are characters to find, not LIKE wildcards."""
    org = gateway.org
    await gateway.data(org.admin, CREATE, input=lead_input(1, company="Ratio 50% Co"))
    await gateway.data(org.admin, CREATE, input=lead_input(2, company="Snake_Case Ltd"))
    await gateway.data(org.admin, CREATE, input=lead_input(3, company="SnakeXCase Ltd"))
    query = "query($s: String!) { leads(search: $s) { totalCount items { company } } }"
    expected = {
        "%": ["Ratio 50% Co"],
        "50%": ["Ratio 50% Co"],
        "_": ["Snake_Case Ltd"],
        "snake_case": ["Snake_Case Ltd"],
        "a%e": [],
        "\\": [],
    }
    for text, companies in expected.items():
        found = (await gateway.data(org.admin, query, s=text))["leads"]
        assert [item["company"] for item in found["items"]] == companies, text
        assert found["totalCount"] == len(companies), text


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"employeeCount": -1}, {"employeeCount"}),
        ({"annualRevenue": -5.0}, {"annualRevenue"}),
        ({"score": 101}, {"score"}),
        ({"firstName": "x" * 101, "company": "y" * 201}, {"firstName", "company"}),
        ({"country": "USA"}, {"country"}),
        # PostgreSQL stores no NUL character, in text or JSON: refused up front, not a 500.
        ({"company": "Acme\x00", "metadata": {"k": ["\x00"]}}, {"company", "metadata"}),
        (
            {"email": "bad", "employeeCount": -3, "title": "t" * 300},
            {"email", "employeeCount", "title"},
        ),
    ],
)
async def test_invalid_input_names_each_bad_field(
    gateway: Gateway, overrides: dict[str, Any], fields: set[str]
) -> None:
    error = await gateway.error(gateway.org.admin, CREATE, input=lead_input(1, **overrides))
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert set(error["extensions"]["details"]["fields"]) == fields


async def test_unknown_enum_value_is_a_validation_error_naming_the_field(gateway: Gateway) -> None:
    literal = await gateway.error(gateway.org.admin, "{ leads(status: SLEEPING) { totalCount } }")
    assert literal["extensions"]["code"] == "VALIDATION_ERROR"
    assert set(literal["extensions"]["details"]["fields"]) == {"status"}
    assert "Did you mean" not in literal["message"]
    variable = await gateway.error(
        gateway.org.admin,
        "query($s: LeadStatus) { leads(status: $s) { totalCount } }",
        s="SLEEPING",
    )
    assert variable["extensions"]["code"] == "VALIDATION_ERROR"
    assert "s" in variable["extensions"]["details"]["fields"]


async def test_duplicate_email_is_a_conflict_naming_the_existing_lead(gateway: Gateway) -> None:
    first = await gateway.data(gateway.org.admin, CREATE, input=lead_input(1))
    error = await gateway.error(
        gateway.org.admin, CREATE, input=lead_input(2, email="LEAD1@example.com")
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["details"]["existing_lead_id"] == first["createLead"]["id"]


async def test_unknown_id_is_not_found_and_malformed_id_invalid(gateway: Gateway) -> None:
    query = "query($id: ID!) { lead(id: $id) { id } }"
    missing = await gateway.error(
        gateway.org.admin, query, id="00000000-0000-0000-0000-000000000001"
    )
    assert missing["extensions"]["code"] == "NOT_FOUND"
    malformed = await gateway.error(gateway.org.admin, query, id="nope")
    assert malformed["extensions"]["code"] == "VALIDATION_ERROR"
    assert set(malformed["extensions"]["details"]["fields"]) == {"id"}


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ("limit: 201", "limit"),
        ("limit: 0", "limit"),
        ("first: 500", "first"),
        ("offset: -1", "offset"),
        ('after: "garbage!!"', "after"),
        ("limit: 5, first: 5", "first"),
    ],
)
async def test_paging_beyond_limits_is_refused(
    gateway: Gateway, arguments: str, field: str
) -> None:
    error = await gateway.error(gateway.org.admin, f"{{ leads({arguments}) {{ totalCount }} }}")
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert field in error["extensions"]["details"]["fields"]


async def test_default_page_size_is_the_setting(gateway: Gateway) -> None:
    for n in range(3):
        await gateway.data(gateway.org.admin, CREATE, input=lead_input(n))
    data = await gateway.data(gateway.org.admin, "{ leads { limit items { id } } }")
    assert data["leads"]["limit"] == gateway.runtime.settings.graphql.default_page_size == 50
