"""During an outage a cached copy is served as data, flagged ``stale``."""

from __future__ import annotations

from typing import Any

import pytest

from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import make_accounts
from tests.graphql.conftest import Gateway

HEALTH = "query($id: ID!) { account(id: $id) { health { score status stale } } }"


@pytest.fixture
def upstream_overrides() -> dict[str, dict[str, Any]]:
    # Stale at once, so the second read goes to the system and falls back to the copy.
    return {"customer_experience": {"cache_ttls": {"health": 0}}}


async def test_the_last_good_value_is_served_while_the_system_is_down(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    fresh = await gateway.data(gateway.org.admin, HEALTH, id=account_id)
    assert fresh["account"]["health"]["stale"] is False

    sims["customer_experience"].set_knobs(outage=True)
    body = await gateway.gql(gateway.org.admin, HEALTH, id=account_id)

    assert "errors" not in body
    served = body["data"]["account"]["health"]
    assert served == {**fresh["account"]["health"], "stale": True}
    assert [r.status for r in sims["customer_experience"].requests][-1] == 503


async def test_without_a_copy_the_outage_is_an_error(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    sims["customer_experience"].set_knobs(outage=True)
    body = await gateway.gql(gateway.org.admin, HEALTH, id=account_id)
    assert body["data"]["account"] == {"health": None}
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
