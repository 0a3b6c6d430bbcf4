"""Who sees which leads and accounts: the role and territory rules of DESIGN.md."""

from __future__ import annotations

from sqlmodel import select

from sales_graph.db.models import Account, Lead
from tests.graphql.conftest import Gateway
from tests.graphql.test_leads import CREATE, lead_input

IDS = "{ leads(limit: 200) { totalCount items { id } } }"


async def test_each_role_sees_its_own_leads(gateway: Gateway) -> None:
    org = gateway.org
    for n in range(6):
        await gateway.data(org.admin, CREATE, input=lead_input(n, country="US"))
    await gateway.data(org.admin, CREATE, input=lead_input(99, country="FR"))
    # One unassigned lead in T1, as if no member had capacity.
    async with gateway.runtime.db.session() as session:
        session.add(
            Lead(
                email="free@example.com",
                email_normalized="free@example.com",
                territory_id=org.t1.id,
                status="new",
            )
        )

    counts = {}
    for name in ("admin", "m1", "m2", "r1", "r4"):
        data = await gateway.data(getattr(org, name), IDS)
        counts[name] = data["leads"]["totalCount"]
        assert len(data["leads"]["items"]) == counts[name]
    assert counts == {"admin": 8, "m1": 7, "m2": 1, "r1": 3, "r4": 1}


async def test_accounts_follow_ownership(gateway: Gateway) -> None:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        session.add_all(
            [
                Account(name="Mine", name_normalized="mine", owner_id=org.r1.id),
                Account(
                    name="Theirs",
                    name_normalized="theirs",
                    owner_id=org.r4.id,
                    territory_id=org.t2.id,
                ),
            ]
        )
    query = "{ accounts { totalCount items { name owner { name } } } }"
    assert (await gateway.data(org.r1, query))["accounts"]["totalCount"] == 1
    assert (await gateway.data(org.m1, query))["accounts"]["items"][0]["name"] == "Mine"
    assert (await gateway.data(org.m2, query))["accounts"]["items"][0]["name"] == "Theirs"
    assert (await gateway.data(org.admin, query))["accounts"]["totalCount"] == 2
    async with gateway.runtime.db.session() as session:
        theirs = (await session.exec(select(Account).where(Account.name == "Theirs"))).one()
    error = await gateway.error(
        org.r1, "query($id: ID!) { account(id: $id) { name } }", id=str(theirs.id)
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_anonymous_callers_get_unauthorized(gateway: Gateway) -> None:
    response = await gateway.post(None, IDS)
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHORIZED"


async def test_nested_opportunities_and_totals_obey_access(gateway: Gateway) -> None:
    """r2 owns the account, r1 owns a deal on it: r2 reaches neither the deal nor its amount."""
    from datetime import date

    from sales_graph.db.models import Opportunity

    org = gateway.org
    async with gateway.runtime.db.session() as session:
        account = Account(name="Shared", name_normalized="shared", owner_id=org.r2.id)
        session.add(account)
        await session.flush()
        session.add(
            Opportunity(
                name="r1's deal",
                account_id=account.id,
                stage="proposal",
                amount=1000,
                probability=60,
                forecast_category="best_case",
                owner_id=org.r1.id,
                expected_close_date=date(2026, 2, 1),
            )
        )
    nested = "{ accounts { items { name opportunities { name } } } }"
    assert (await gateway.data(org.r2, nested))["accounts"]["items"] == [
        {"name": "Shared", "opportunities": []}
    ]
    assert (await gateway.data(org.m1, nested))["accounts"]["items"] == [
        {"name": "Shared", "opportunities": [{"name": "r1's deal"}]}
    ]
    totals = """query($o: ID!) { pipeline(ownerId: $o, period: "Q1_2026") { summary { totalAmount } }
      opportunities { totalCount } }"""
    seen = await gateway.data(org.r2, totals, o=str(org.r1.id))
    assert seen == {
        "pipeline": {"summary": {"totalAmount": 0.0}},
        "opportunities": {"totalCount": 0},
    }
    seen = await gateway.data(org.m2, totals, o=str(org.r1.id))
    assert seen["pipeline"]["summary"]["totalAmount"] == 0.0
    seen = await gateway.data(org.m1, totals, o=str(org.r1.id))
    assert seen["pipeline"]["summary"]["totalAmount"] == 1000.0
