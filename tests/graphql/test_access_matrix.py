"""Every query and mutation x every kind of caller: data, NOT_FOUND or FORBIDDEN.

r1 owns the lead, account, opportunity and quota under test, in territory T1 (owned by m1).
Callers: r1 (the rep), r2 (another rep, same territory), m1 (r1's manager), m2 (an unrelated
manager), admin, a partner key holding every scope, and a partner key holding none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from sales_graph.auth.clients import issue_api_key
from sales_graph.db.models import Account, Lead, Opportunity, OpportunityProduct, Quota, User
from sales_graph.domain.permissions import KNOWN_SCOPES
from tests.graphql.conftest import Gateway

ALL_SCOPES = KNOWN_SCOPES
CALLERS = ("r1", "r2", "m1", "m2", "admin", "partner", "partner_unscoped")
OK, NF, FB = "OK", "NOT_FOUND", "FORBIDDEN"


@dataclass
class World:
    gateway: Gateway
    keys: dict[str, str]
    ids: dict[str, str]

    async def call(self, caller: str, query: str, **variables: Any) -> httpx.Response:
        if caller.startswith("partner"):
            headers = {"X-API-Key": self.keys[caller]}
        else:
            user: User = getattr(self.gateway.org, caller)
            headers = {"Authorization": f"Bearer {self.gateway.token(user)}"}
        return await self.gateway.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )


@pytest.fixture
async def world(gateway: Gateway) -> World:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        account = Account(
            name="Owned", name_normalized="owned", owner_id=org.r1.id, territory_id=org.t1.id
        )
        lead = Lead(
            email="owned@lead.io",
            email_normalized="owned@lead.io",
            status="working",
            assigned_to_id=org.r1.id,
            territory_id=org.t1.id,
        )
        session.add_all([account, lead])
        await session.flush()
        opportunity = Opportunity(
            name="Owned deal",
            account_id=account.id,
            stage="discovery",
            amount=1000,
            probability=20,
            forecast_category="pipeline",
            owner_id=org.r1.id,
            territory_id=org.t1.id,
            expected_close_date=date(2026, 2, 1),
        )
        session.add(opportunity)
        await session.flush()
        session.add(
            OpportunityProduct(
                opportunity_id=opportunity.id, product_id="p", quantity=1, unit_price=1000
            )
        )
        quota = Quota(period="Q1_2026", user_id=org.r1.id, amount=5000)
        session.add(quota)
        full = await issue_api_key(
            session, name="full", scopes=ALL_SCOPES, expires_at=None, client=None
        )
        none = await issue_api_key(
            session, name="none", scopes=frozenset({"unrelated:read"}), expires_at=None, client=None
        )
    ids = {
        "lead": str(lead.id),
        "account": str(account.id),
        "opportunity": str(opportunity.id),
        "quota": str(quota.id),
        "r1": str(org.r1.id),
        "r2": str(org.r2.id),
        "t1": str(org.t1.id),
    }
    return World(gateway, {"partner": full.plaintext, "partner_unscoped": none.plaintext}, ids)


def outcome(response: httpx.Response) -> str:
    body = response.json()
    if response.status_code != 200:
        return str(body["error"]["code"])
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return OK


#            query, variables (from world.ids), expected per caller in CALLERS order
READS: list[tuple[str, str, dict[str, str], tuple[str, ...]]] = [
    (
        "lead",
        "query($id: ID!) { lead(id: $id) { id } }",
        {"id": "lead"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "account",
        "query($id: ID!) { account(id: $id) { id } }",
        {"id": "account"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "opportunity",
        "query($id: ID!) { opportunity(id: $id) { id } }",
        {"id": "opportunity"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "forecasts",
        'query($t: ID!) { forecasts(period: "Q1_2026", territoryId: $t) { amount } }',
        {"t": "t1"},
        (OK, OK, OK, NF, OK, OK, FB),
    ),
    ("territories", "{ territories { id } }", {}, (OK, OK, OK, OK, OK, OK, FB)),
    ("leads", "{ leads { totalCount } }", {}, (OK, OK, OK, OK, OK, OK, FB)),
    ("opportunities", "{ opportunities { totalCount } }", {}, (OK, OK, OK, OK, OK, OK, FB)),
    (
        "pipeline",
        'query($o: ID!) { pipeline(ownerId: $o, period: "Q1_2026") { period } }',
        {"o": "r1"},
        (OK, OK, OK, OK, OK, OK, FB),
    ),
    ("quotas", "{ quotas { id } }", {}, (OK, OK, OK, OK, OK, OK, FB)),
]

WRITES: list[tuple[str, str, dict[str, str], tuple[str, ...]]] = [
    (
        "updateLead",
        'mutation($id: ID!) { updateLead(id: $id, input: {title: "CTO"}) { id } }',
        {"id": "lead"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "assignTerritory",
        'mutation($l: ID!, $t: ID!) { assignTerritory(input: {leadId: $l, territoryId: $t, reason: "r"}) { method } }',
        {"l": "lead", "t": "t1"},
        (FB, FB, OK, NF, OK, FB, FB),
    ),
    (
        "updateOpportunity",
        'mutation($id: ID!) { updateOpportunity(id: $id, input: {name: "Renamed"}) { id } }',
        {"id": "opportunity"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "reassignOpportunity",
        "mutation($id: ID!, $o: ID!) { reassignOpportunity(id: $id, ownerId: $o) { id } }",
        {"id": "opportunity", "o": "r1"},
        (FB, FB, OK, NF, OK, FB, FB),
    ),
    (
        "createOpportunity",
        'mutation($a: ID!, $o: ID!) { createOpportunity(input: {name: "New", accountId: $a, ownerId: $o}) { id } }',
        {"a": "account", "o": "r1"},
        (OK, NF, OK, NF, OK, OK, FB),
    ),
    (
        "updateTerritory",
        'mutation($id: ID!) { updateTerritory(id: $id, input: {description: "d"}) { id } }',
        {"id": "t1"},
        (FB, FB, OK, FB, OK, FB, FB),
    ),
    (
        "createTerritory",
        'mutation($o: ID!) { createTerritory(input: {name: "New T", ownerId: $o}) { id } }',
        {"o": "r1"},
        (FB, FB, FB, FB, "VALIDATION_ERROR", FB, FB),
    ),
    (
        "createForecast",
        'mutation($t: ID!) { createForecast(input: {period: "Q1_2026", territoryId: $t, forecastType: COMMIT, amount: 10}) { id } }',
        {"t": "t1"},
        (FB, FB, OK, FB, OK, OK, FB),
    ),
    (
        "updateQuota",
        "mutation($id: ID!) { updateQuota(id: $id, input: {amount: 10}) { id } }",
        {"id": "quota"},
        (FB, FB, OK, NF, OK, OK, FB),
    ),
]


@pytest.mark.parametrize(
    ("name", "query", "variables", "expected"),
    READS + WRITES,
    ids=[row[0] for row in READS + WRITES],
)
async def test_access_matrix(
    world: World, name: str, query: str, variables: dict[str, str], expected: tuple[str, ...]
) -> None:
    values = {key: world.ids[ref] for key, ref in variables.items()}
    outcomes = {caller: outcome(await world.call(caller, query, **values)) for caller in CALLERS}
    assert outcomes == dict(zip(CALLERS, expected, strict=True)), name


async def test_invisible_records_do_not_count_in_lists_or_totals(world: World) -> None:
    query = """query($o: ID!) { leads { totalCount } opportunities { totalCount }
      pipeline(ownerId: $o, period: "Q1_2026") { summary { totalAmount } } quotas { id } }"""
    seen = {}
    for caller in ("r1", "r2", "m1", "m2", "admin", "partner"):
        body = (await world.call(caller, query, o=world.ids["r1"])).json()["data"]
        seen[caller] = (
            body["leads"]["totalCount"],
            body["opportunities"]["totalCount"],
            body["pipeline"]["summary"]["totalAmount"],
            len(body["quotas"]),
        )
    full, empty = (1, 1, 1000.0, 1), (0, 0, 0.0, 0)
    assert seen == {
        "r1": full,
        "r2": empty,
        "m1": full,
        "m2": empty,
        "admin": full,
        "partner": full,
    }
