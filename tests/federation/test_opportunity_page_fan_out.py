"""A page of 50 opportunities over 20 accounts: one call per account and endpoint, in parallel."""

from __future__ import annotations

import uuid
from collections import Counter

from sales_graph.db.models import Opportunity
from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import make_accounts
from tests.graphql.conftest import Gateway

PAGE = """{ opportunities(limit: 50) { items { name
  account { name health { score } nps { score } criticalTickets { items { ticketId } } } } } }"""
LATENCY_MS = 100


async def test_fifty_opportunities_call_each_endpoint_once_per_account_concurrently(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    accounts = await make_accounts(gateway, 20)
    async with gateway.runtime.db.session() as session:
        session.add_all(
            Opportunity(
                name=f"Deal {n}",
                account_id=uuid.UUID(accounts[n % 20]),
                stage="discovery",
                probability=20,
                forecast_category="pipeline",
                owner_id=gateway.org.r1.id,
                territory_id=gateway.org.t1.id,
            )
            for n in range(50)
        )
    for system in ("customer_experience", "support"):
        sims[system].set_knobs(latency_ms=LATENCY_MS)

    data = await gateway.data(gateway.org.admin, PAGE)
    items = data["opportunities"]["items"]
    assert len(items) == 50
    assert all(item["account"]["health"] is not None for item in items)

    requests = sims["customer_experience"].requests + sims["support"].requests
    per_endpoint = Counter(r.path.rsplit("/", 1)[-1] for r in requests)
    assert per_endpoint == {"health": 20, "nps": 20, "critical": 20}
    # None repeated: every (account, endpoint) pair was asked once.
    assert len({r.path for r in requests}) == 60
    # Concurrent: every call had arrived before the first one could have been answered,
    # so the 60 calls cost one round trip of upstream time, not sixty.
    arrivals = sorted(r.monotonic for r in requests)
    assert arrivals[-1] - arrivals[0] < LATENCY_MS / 1000
