"""What a careless or hostile caller found: closed deals stay closed, a concurrent duplicate is
a CONFLICT (never two rows, never a 500), text with NUL is a VALIDATION_ERROR everywhere, and a
write-only key sees what it wrote."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from sales_graph.auth.clients import issue_api_key
from sales_graph.db.models import Account, Lead, Opportunity, OutboxEvent, Quota, Territory
from tests.graphql.conftest import Gateway


async def _won_deal(gateway: Gateway) -> Opportunity:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        account = Account(name="Won Co", name_normalized="won co", owner_id=org.r1.id)
        session.add(account)
        await session.flush()
        deal = Opportunity(
            name="Won",
            account_id=account.id,
            stage="closed_won",
            amount=5000,
            probability=100,
            forecast_category="closed",
            expected_close_date=date.today(),
            owner_id=org.r1.id,
            territory_id=org.t1.id,
        )
        session.add(deal)
    return deal


async def test_a_closed_deal_is_not_reassigned(gateway: Gateway) -> None:
    deal = await _won_deal(gateway)
    error = await gateway.error(
        gateway.org.m1,
        "mutation($id: ID!, $o: ID!) { reassignOpportunity(id: $id, ownerId: $o) { id } }",
        id=str(deal.id),
        o=str(gateway.org.m1.id),
    )
    assert error["extensions"]["code"] == "CONFLICT"
    async with gateway.runtime.db.session() as session:
        stored = await session.get(Opportunity, deal.id)
        assert stored is not None
        assert stored.owner_id == gateway.org.r1.id


async def _count(gateway: Gateway, model: Any, *where: Any) -> int:
    async with gateway.runtime.db.session() as session:
        statement = select(func.count()).select_from(model).where(*where)
        return int((await session.exec(statement)).one())


async def test_concurrent_quotas_for_one_target_make_one_quota(gateway: Gateway) -> None:
    org = gateway.org
    query = """mutation($u: ID!) { setQuota(input: {period: "Q3_2027", amount: 1000, userId: $u})
      { id } }"""
    bodies = await asyncio.gather(
        *(gateway.gql(org.m1, query, u=str(org.r2.id)) for _ in range(12))
    )
    outcomes = Counter(
        "ok" if body.get("data") else body["errors"][0]["extensions"]["code"] for body in bodies
    )
    assert outcomes == {"ok": 1, "CONFLICT": 11}
    assert await _count(gateway, Quota, Quota.period == "Q3_2027") == 1
    assert await _count(gateway, OutboxEvent, OutboxEvent.event_type == "quota.set") == 1


async def test_concurrent_territories_of_one_name_make_one_territory(gateway: Gateway) -> None:
    query = """mutation($o: ID!) { createTerritory(input: {name: "Twins", ownerId: $o}) { id } }"""
    bodies = await asyncio.gather(
        *(gateway.gql(gateway.org.admin, query, o=str(gateway.org.m1.id)) for _ in range(12))
    )
    outcomes = Counter(
        "ok" if body.get("data") else body["errors"][0]["extensions"]["code"] for body in bodies
    )
    assert outcomes == {"ok": 1, "CONFLICT": 11}
    assert await _count(gateway, Territory, Territory.name == "Twins") == 1


async def test_text_with_nul_is_refused_wherever_it_is_sent(gateway: Gateway) -> None:
    deal = await _won_deal(gateway)
    cases = [
        ("query($s: String) { leads(search: $s) { totalCount } }", {"s": "a\x00b"}),
        ('{ accounts(search: "a\\u0000b") { totalCount } }', {}),
        (
            "mutation($id: ID!, $r: String!) { disqualifyLead(id: $id, reason: $r) { id } }",
            {"id": str(deal.id), "r": "x\x00"},
        ),
    ]
    for query, variables in cases:
        error = await gateway.error(gateway.org.admin, query, **variables)
        assert error["extensions"]["code"] == "VALIDATION_ERROR", (query, error)


async def test_a_write_only_key_sees_the_lead_it_created(gateway: Gateway) -> None:
    async with gateway.runtime.db.session() as session:
        issued = await issue_api_key(
            session,
            name="lead source",
            scopes=frozenset({"leads:write"}),
            expires_at=None,
            client=None,
        )
    response = await gateway.client.post(
        "/graphql",
        json={
            "query": 'mutation { createLead(input: {email: "w@only.io"}) '
            "{ id email assignments { method } assignedTo { id } } }"
        },
        headers={"X-API-Key": issued.plaintext},
    )
    body = response.json()
    created = body["data"]["createLead"]
    assert created["email"] == "w@only.io"
    assert created["assignments"] is None
    assert created["assignedTo"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert await _count(gateway, Lead, Lead.email_normalized == "w@only.io") == 1
