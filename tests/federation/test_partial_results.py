"""A failing system nulls its own fields, with one coded error each; the rest stays intact."""

from __future__ import annotations

from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import DEADLINE_S, make_accounts
from tests.graphql.conftest import Gateway

MIXED = """{ accounts(limit: 3) { items { id name owner { name }
  health { score } criticalTickets { items { title } } escalations { items { level } } } } }"""


async def test_a_support_outage_nulls_support_fields_only(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    ids = await make_accounts(gateway, 3)
    sims["support"].set_knobs(outage=True)

    body = await gateway.gql(gateway.org.admin, MIXED)

    items = body["data"]["accounts"]["items"]
    assert [item["id"] for item in items] == ids
    for n, item in enumerate(items):
        assert item["name"] == f"Account {n:02d}"
        assert item["owner"] == {"name": "User R1"}
        assert 0 <= item["health"]["score"] <= 100
        assert item["criticalTickets"] is None
        assert item["escalations"] is None
    errors = body["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_UNAVAILABLE"}
    assert sorted(tuple(e["path"]) for e in errors) == sorted(
        ("accounts", "items", n, field)
        for n in range(3)
        for field in ("criticalTickets", "escalations")
    )
    assert all(e["extensions"]["details"]["system"] == "support" for e in errors)
    assert sims["customer_experience"].requests


async def test_a_system_slower_than_the_deadline_is_a_timeout(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    sims["support"].set_knobs(latency_ms=DEADLINE_S * 1000 + 500)
    query = """query($id: ID!) { account(id: $id) { name nps { score }
      featureRequests { items { title } } } }"""

    body = await gateway.gql(gateway.org.admin, query, id=account_id)

    assert body["data"]["account"]["name"] == "Account 00"
    assert body["data"]["account"]["nps"] is not None
    assert body["data"]["account"]["featureRequests"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert error["path"] == ["account", "featureRequests"]


async def test_unknown_ids_are_null_without_an_error(gateway: Gateway) -> None:
    """Ids starting with "missing" are unknown to the simulators (404)."""
    from sales_graph.db.models import Lead

    async with gateway.runtime.db.session() as session:
        session.add(
            Lead(
                email="m@example.com",
                email_normalized="m@example.com",
                status="new",
                campaign_id="missing-campaign",
                assigned_to_id=gateway.org.r1.id,
            )
        )
    data = await gateway.data(gateway.org.r1, "{ leads { items { campaign { name } } } }")
    assert data["leads"]["items"] == [{"campaign": None}]
