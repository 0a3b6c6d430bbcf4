"""pipelineChanged and forecastUpdated: the owner's pipeline and the territory's live
forecasts after a change, as the queries answer them, several changes answered once."""

from __future__ import annotations

import pytest

from sales_graph.db.models import Account, User
from tests.subscriptions.conftest import UPDATE, LiveFactory, LiveGateway

PIPELINE = """subscription($owner: ID!) {
  pipelineChanged(ownerId: $owner, period: "Q2_2026") {
    period summary { totalCount totalAmount } byStage { stage count }
  }
}"""
FORECASTS = """subscription($territory: ID) {
  forecastUpdated(period: "Q2_2026", territoryId: $territory) {
    kind period forecastType amount territory { id }
  }
}"""


async def test_pipeline_after_changes_coalesced(live_embedded: LiveFactory) -> None:
    async with live_embedded(coalesce_s=2.0) as gateway:
        org = gateway.org
        async with gateway.ws(org.r1) as rep:
            await rep.acked()
            await rep.subscribe("p", PIPELINE, owner=str(org.r1.id))
            await gateway.until_listening(1)
            first = await gateway.create_opportunity(org.r1, "One")
            await gateway.create_opportunity(org.r1, "Two")
            # Both changes within the coalescing window: one answer with both deals.
            pipeline = (await rep.next("p"))["pipelineChanged"]
            assert pipeline["period"] == "Q2_2026"
            assert pipeline["summary"] == {"totalCount": 2, "totalAmount": 2000.0}
            assert {"stage": "DISCOVERY", "count": 2} in pipeline["byStage"]

            await gateway.create_opportunity(org.r2, "Not r1's")
            await gateway.data(org.r1, UPDATE, id=first, input={"amount": 1500})
            pipeline = (await rep.next("p"))["pipelineChanged"]
            assert pipeline["summary"] == {"totalCount": 2, "totalAmount": 2500.0}


async def _t1_account_of(gateway: LiveGateway, owner: User) -> str:
    """An account of territory T1 owned by ``owner`` (of T2): its deals are in T1."""
    async with gateway.runtime.db.session() as session:
        account = Account(
            name="T1 account of r4",
            name_normalized="t1 account of r4",
            owner_id=owner.id,
            territory_id=gateway.org.t1.id,
        )
        session.add(account)
    return str(account.id)


@pytest.mark.parametrize("coalesce_s", [0.0, 1.0])
async def test_pipeline_changes_the_subscriber_does_not_see_are_not_delivered(
    live_embedded: LiveFactory, coalesce_s: float
) -> None:
    """m1 (manager of T1) watches r4's pipeline (r4 is of T2): a change of r4's T2 deal, which
    m1 does not see, is not delivered (not even as the zeros m1's view of it is); a change of
    r4's T1 deal is, alone or after a hidden one in the same burst. The admin, who sees both,
    watches too: once the admin has an answer, m1's subscription has had the same event."""
    async with live_embedded(coalesce_s=coalesce_s) as gateway:
        org = gateway.org
        t1_account = await _t1_account_of(gateway, org.r4)
        async with gateway.ws(org.m1) as manager, gateway.ws(org.admin) as admin:
            for client in (manager, admin):
                await client.acked()
                await client.subscribe("p", PIPELINE, owner=str(org.r4.id))
            await gateway.until_listening(2)
            hidden = await gateway.create_opportunity(org.r4, "Hidden from m1")
            everything = (await admin.next("p"))["pipelineChanged"]
            assert everything["summary"] == {"totalCount": 1, "totalAmount": 1000.0}

            seen = await gateway.create_opportunity(
                org.r4, "Seen by m1", accountId=t1_account, amount=7000
            )
            pipeline = (await manager.next("p"))["pipelineChanged"]
            assert pipeline["summary"] == {"totalCount": 1, "totalAmount": 7000.0}

            # One after the other (one burst when coalescing), the hidden one first.
            await gateway.data(org.admin, UPDATE, id=hidden, input={"amount": 1500})
            await gateway.data(org.admin, UPDATE, id=seen, input={"amount": 8000})
            pipeline = (await manager.next("p"))["pipelineChanged"]
            assert pipeline["summary"] == {"totalCount": 1, "totalAmount": 8000.0}


async def test_forecasts_after_a_change(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        org = gateway.org
        async with gateway.ws(org.m1) as manager:
            await manager.acked()
            await manager.subscribe("f", FORECASTS, territory=str(org.t1.id))
            await gateway.until_listening(1)
            await gateway.create_opportunity(org.r1, "Forecast me", amount=5000)
            forecasts = (await manager.next("f", deadline_s=30))["forecastUpdated"]
            assert forecasts
            assert {f["territory"]["id"] for f in forecasts} == {str(org.t1.id)}
            assert {f["kind"] for f in forecasts} == {"GENERATED"}
            by_type = {f["forecastType"]: f["amount"] for f in forecasts}
            assert by_type["PIPELINE"] == 5000.0


async def test_forecasts_of_a_territory_the_caller_does_not_read(
    live_embedded: LiveFactory,
) -> None:
    async with live_embedded() as gateway:
        org = gateway.org
        async with gateway.ws(org.r1) as rep:
            await rep.acked()
            await rep.subscribe("f", FORECASTS, territory=str(org.t2.id))
            refused = await rep.receive()
            assert (refused["type"], refused["id"]) == ("error", "f"), refused
            assert refused["payload"][0]["extensions"]["code"] == "NOT_FOUND"
            await rep.subscribe("mine", FORECASTS, territory=str(org.t1.id))
            await gateway.until_listening(1)
