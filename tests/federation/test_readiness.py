"""/readyz reports each upstream system's circuit breaker; an open one does not fail it."""

from __future__ import annotations

from sales_graph.settings import UPSTREAM_SYSTEMS
from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import make_accounts
from tests.graphql.conftest import Gateway


async def test_breaker_states_are_reported(gateway: Gateway, sims: RunningSimulators) -> None:
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["upstreams"] == dict.fromkeys(UPSTREAM_SYSTEMS, "closed")

    sims["customer_experience"].set_knobs(outage=True)
    for account_id in await make_accounts(gateway, 6):
        await gateway.gql(
            gateway.org.admin,
            "query($id: ID!) { account(id: $id) { nps { score } } }",
            id=account_id,
        )
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["upstreams"]["customer_experience"] == "open"
    assert ready.json()["upstreams"]["support"] == "closed"
