"""Upstream fields are read once per distinct key and resource, concurrently."""

from __future__ import annotations

import time

from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import make_accounts
from tests.graphql.conftest import Gateway

HEALTH_AND_NPS = """{ accounts(limit: 20) { items { id name
  health { score status drivers { name score } calculatedAt stale } nps { score respondents } } } }"""


async def test_twenty_accounts_cost_one_request_per_account_and_field_in_parallel(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    ids = await make_accounts(gateway, 20)
    cx = sims["customer_experience"]
    latency_s = 0.1
    cx.set_knobs(latency_ms=latency_s * 1000)

    started = time.monotonic()
    data = await gateway.data(gateway.org.admin, HEALTH_AND_NPS)
    elapsed = time.monotonic() - started

    items = data["accounts"]["items"]
    assert [item["id"] for item in items] == ids
    assert all(0 <= item["health"]["score"] <= 100 for item in items)
    assert all(item["health"]["stale"] is False for item in items)
    assert all(-100 <= item["nps"]["score"] <= 100 for item in items)
    paths = sorted(r.path for r in cx.requests)
    expected = sorted(f"/api/v1/accounts/{i}/{field}" for i in ids for field in ("health", "nps"))
    assert paths == expected
    # Sequential calls would take 40 x 100 ms; 10 at a time take about 4 x 100 ms.
    sequential_s = len(paths) * latency_s
    ratio = elapsed / sequential_s
    print(f"fan-out: {elapsed:.3f}s for {len(paths)} calls, ratio {ratio:.3f}")
    assert ratio < 0.4, (elapsed, sequential_s)


async def test_the_same_account_twice_in_a_request_is_read_once(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    query = """query($id: ID!) { a: account(id: $id) { health { score } usage { licensedSeats } }
      b: account(id: $id) { health { score } tickets { items { subject } } } }"""
    data = await gateway.data(gateway.org.admin, query, id=account_id)
    assert data["a"]["health"] == data["b"]["health"]
    paths = sorted(r.path for r in sims["customer_experience"].requests)
    assert paths == [f"/api/v1/accounts/{account_id}/{r}" for r in ("health", "tickets", "usage")]


async def test_a_second_request_is_served_from_the_cache(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    query = "query($id: ID!) { account(id: $id) { escalations { items { level } } } }"
    first = await gateway.data(gateway.org.admin, query, id=account_id)
    second = await gateway.data(gateway.org.admin, query, id=account_id)
    assert first == second
    assert len(sims["support"].requests) == 1
