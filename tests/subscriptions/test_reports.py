"""pipelineChanged and forecastUpdated: the owner's pipeline and the territory's live
forecasts after a change, as the queries answer them, several changes answered once."""

from __future__ import annotations

from tests.subscriptions.conftest import UPDATE, LiveFactory

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
