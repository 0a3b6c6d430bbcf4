"""Planned execution (schema/execution.py) against graphql-core's generic execution: the same
documents and REST routes, sent to a gateway of each kind over the same database, give the
same bytes (request ids aside), with the same SQL statements; the test suite's own check of
every inline value fails a request whose planned value differs."""

from __future__ import annotations

import gc
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event

from sales_graph.app import create_app
from sales_graph.auth.admin import create_api_key
from sales_graph.schema import execution
from sales_graph.settings import GraphQLSettings
from tests.gateways import app_client
from tests.graphql.conftest import Gateway, StatementCounter
from tests.graphql.test_opportunities import create

# What differs between two answers of the same request: its id, in a REST error its time, and
# the time a forecast generated for the request was generated.
_PER_REQUEST = re.compile(
    rb'"(request_id|timestamp)":"[^"]*"|(?<="kind":"generated",)(.*?"created_at":)"[^"]*"'
)


def _normal(content: bytes) -> bytes:
    return _PER_REQUEST.sub(lambda m: m[0][: m[0].rindex(b":") + 1] + b'""', content)


LEADS = """
query($limit: Int) {
  leads(limit: $limit) {
    totalCount hasMore
    items { id __typename status firstName lastName email phone company title industry
      employeeCount annualRevenue country region source score campaignId metadata
      assignedAt convertedAt version createdAt updatedAt disqualifiedReason
      assignedTo { id name email role manager { id name } }
      territory { id name isActive owner { id name } }
      again: status
      ... on Lead { email status }
      withFragment: assignedTo { ...who } }
  }
}
fragment who on User { id name role isActive createdAt }
"""

OPPORTUNITIES = """
query($limit: Int, $skipOwner: Boolean!) {
  opportunities(limit: $limit) {
    items { id name stage amount probability expectedCloseDate forecastCategory
      account { id name owner { id } territory { id name } }
      owner @skip(if: $skipOwner) { id name }
      territory { id name }
      history { field oldValue newValue changedBy { id name } } }
  }
}
"""

# Every REST read; {lead}, {opportunity} and {account} name a record of the admin's lists,
# {owner} the rep r1.
REST_READS = [
    "/api/v1/leads?limit=50",
    "/api/v1/leads?limit=2&status=new",
    "/api/v1/leads/{lead}",
    "/api/v1/opportunities?limit=50",
    "/api/v1/opportunities/{opportunity}",
    "/api/v1/opportunities/pipeline?owner_id={owner}&period=Q4_2026",
    "/api/v1/accounts/{account}",
    "/api/v1/forecasts/Q4_2026",
    "/api/v1/territories",
]


@pytest.fixture
async def generic(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway on the same database and keys that executes every field the generic
    way."""
    settings = gateway.runtime.settings.model_copy(
        update={"graphql": GraphQLSettings(execution="generic")}
    )
    async with app_client(create_app(settings)) as client:
        yield client


async def _records(gateway: Gateway) -> None:
    org = gateway.org
    for n, country in enumerate(["US", "US", "DE", None, "US"]):
        body = {"firstName": f"F{n}", "lastName": "L", "email": f"p{n}@example.com"}
        if country:
            body["country"] = country
        await gateway.data(
            org.admin,
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }",
            input=body,
        )
    for n in range(3):
        await create(gateway, suffix=str(n))


def _same(planned: httpx.Response, generic: httpx.Response) -> bytes:
    assert planned.status_code == generic.status_code
    body = _normal(planned.content)
    assert body == _normal(generic.content)
    return body


def _count(gateway: Gateway) -> StatementCounter:
    counter = StatementCounter()
    event.listen(gateway.runtime.db.engine.sync_engine, "before_cursor_execute", counter)
    return counter


@pytest.mark.parametrize("role", ["admin", "m1", "r1", "r4"])
async def test_graphql_answers_are_byte_identical(
    gateway: Gateway, generic: httpx.AsyncClient, role: str
) -> None:
    await _records(gateway)
    user = getattr(gateway.org, role)
    headers = {"Authorization": f"Bearer {gateway.token(user)}"}
    counter = _count(gateway)
    cases: list[tuple[str, dict[str, Any]]] = [
        (LEADS, {"limit": 50}),
        (LEADS, {"limit": 1}),
        (OPPORTUNITIES, {"limit": 50, "skipOwner": False}),
        (OPPORTUNITIES, {"limit": 50, "skipOwner": True}),
    ]
    for query, variables in cases:
        payload = {"query": query, "variables": variables}
        before = len(counter.statements)
        planned = await gateway.client.post("/graphql", json=payload, headers=headers)
        planned_statements = counter.statements[before:]
        generic_answer = await generic.post("/graphql", json=payload, headers=headers)
        body = _same(planned, generic_answer)
        assert b'"items":[' in body
        # Loading ahead batches what the items would have loaded: the same statements.
        sent = [s for s in planned_statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
        assert len(sent) <= 12, sent


async def test_rest_answers_are_byte_identical(
    gateway: Gateway, generic: httpx.AsyncClient
) -> None:
    await _records(gateway)
    org = gateway.org
    lead = (await gateway.data(org.admin, "{ leads(limit: 1) { items { id } } }"))["leads"]
    opportunities = await gateway.data(
        org.admin, "{ opportunities(limit: 1) { items { id account { id } } } }"
    )
    opportunity = opportunities["opportunities"]["items"][0]
    ids = {
        "lead": lead["items"][0]["id"],
        "opportunity": opportunity["id"],
        "account": opportunity["account"]["id"],
        "owner": str(org.r1.id),
    }
    answered = set()
    for role in ("admin", "m1", "r1", "r4"):
        headers = {"Authorization": f"Bearer {gateway.token(getattr(org, role))}"}
        for read in REST_READS:
            path = read.format(**ids)
            planned = await gateway.client.get(path, headers=headers)
            _same(planned, await generic.get(path, headers=headers))
            answered.add((read, planned.status_code))
    # Every read answered with its records for someone (others may be refused or not find it).
    assert {read for read, status in answered if status == 200} == set(REST_READS), answered


async def test_errors_of_related_records_are_the_same(
    gateway: Gateway, generic: httpx.AsyncClient
) -> None:
    """A related record the caller may not read is null with an error, item by item, both ways:
    a partner key without users:read and territories:read asks for owners and territories, so
    the look-ahead loads fail."""
    await _records(gateway)
    key = await create_api_key(
        gateway.runtime.settings, name="partner", scopes="opportunities:read accounts:read"
    )
    headers = {"X-API-Key": key.api_key}
    payload = {"query": OPPORTUNITIES, "variables": {"limit": 50, "skipOwner": False}}
    planned = await gateway.client.post("/graphql", json=payload, headers=headers)
    body = _same(planned, await generic.post("/graphql", json=payload, headers=headers))
    errors = orjson.loads(body)["errors"]
    # One error per item and relation the key may not read (its owner and territory, and its
    # account's), in the order of the response.
    assert len(errors) == 12, errors
    assert [error["path"][2:] for error in errors[:4]] == [
        [0, "account", "owner"],
        [0, "account", "territory"],
        [0, "owner"],
        [0, "territory"],
    ]
    assert {error["extensions"]["code"] for error in errors} == {"FORBIDDEN"}


async def test_the_suite_checks_every_inline_value(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the test suite's "verified" execution, an inline value that differs from the
    generic one fails the request (so every document the suite sends is a differential test)."""
    await _records(gateway)
    assert gateway.runtime.settings.graphql.execution == "verified"
    complete = execution._complete

    def tampered(plain: execution.PlainField, source: Any) -> Any:
        value = complete(plain, source)
        return "tampered" if plain.name == "email" else value

    monkeypatch.setattr(execution, "_complete", tampered)
    body = await gateway.gql(gateway.org.admin, "{ leads { items { id email } } }")
    messages = [error["message"] for error in body["errors"]]
    assert messages, body
    assert all("Internal" in m or "unexpected" in m.lower() for m in messages), messages


async def test_a_cancelled_list_leaves_no_unread_failure(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A list whose loads ahead fail (a key without accounts:read) is cancelled when a non-null
    sibling fails (a lead that is not there): the failed loads are not logged as never
    retrieved."""
    await _records(gateway)
    key = await create_api_key(
        gateway.runtime.settings, name="partner", scopes="opportunities:read leads:read"
    )
    query = f"""{{ opportunities(limit: 50) {{ items {{ account {{ id }} }} }}
        a: lead(id: "{uuid.uuid4()}") {{ id }} }}"""
    for _ in range(5):
        response = await gateway.client.post(
            "/graphql", json={"query": query}, headers={"X-API-Key": key.api_key}
        )
        assert response.json()["data"] is None
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
