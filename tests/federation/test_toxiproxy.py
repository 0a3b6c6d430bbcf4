"""Faults on the wire between the gateway and Customer Experience, made by toxiproxy."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import DEADLINE_S, make_accounts
from tests.graphql.conftest import Gateway
from tests.services import ServiceUrls, require_reachable

HEALTH = "query($id: ID!) { account(id: $id) { name health { score stale } } }"


class Proxy:
    def __init__(self, api: httpx.AsyncClient, name: str, listen: str) -> None:
        self.api, self.name, self.listen = api, name, listen

    async def toxic(self, kind: str, **attributes: Any) -> None:
        response = await self.api.post(
            f"/proxies/{self.name}/toxics",
            json={"name": kind, "type": kind, "stream": "downstream", "attributes": attributes},
        )
        response.raise_for_status()

    async def clear(self, kind: str) -> None:
        (await self.api.delete(f"/proxies/{self.name}/toxics/{kind}")).raise_for_status()


@pytest.fixture
async def cx_proxy(services: ServiceUrls, sims: RunningSimulators) -> AsyncIterator[Proxy]:
    require_reachable("toxiproxy", services.toxiproxy)
    upstream = sims.urls["customer_experience"].removeprefix("http://").rstrip("/")
    name = f"cx-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=services.toxiproxy, timeout=5) as api:
        created = await api.post(
            "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
        )
        created.raise_for_status()
        try:
            yield Proxy(api, name, created.json()["listen"])
        finally:
            await api.delete(f"/proxies/{name}")


@pytest.fixture
def upstream_overrides(cx_proxy: Proxy) -> dict[str, dict[str, Any]]:
    # The gateway reaches Customer Experience through the proxy; health is stale at once.
    return {
        "customer_experience": {
            "base_url": f"http://{cx_proxy.listen}",
            "cache_ttls": {"health": 0},
            "breaker_failure_threshold": 100,
        }
    }


async def test_ten_seconds_of_latency_ends_at_the_deadline(
    gateway: Gateway, cx_proxy: Proxy
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    await cx_proxy.toxic("latency", latency=10_000)
    began = time.monotonic()
    body = await gateway.gql(gateway.org.admin, HEALTH, id=account_id)
    elapsed = time.monotonic() - began
    assert body["data"]["account"]["health"] is None
    assert body["data"]["account"]["name"]
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert body["errors"][0]["path"] == ["account", "health"]
    # Bounded by the 1 s deadline, not by the proxy's 10 s.
    assert elapsed < 10 * DEADLINE_S / 2


async def test_a_connection_reset_is_unavailable_and_a_copy_is_served(
    gateway: Gateway, cx_proxy: Proxy
) -> None:
    first, second = await make_accounts(gateway, 2)
    fresh = await gateway.data(gateway.org.admin, HEALTH, id=first)
    await cx_proxy.toxic("reset_peer", timeout=0)
    copy = await gateway.gql(gateway.org.admin, HEALTH, id=first)
    assert "errors" not in copy
    assert copy["data"]["account"]["health"] == {**fresh["account"]["health"], "stale": True}
    none = await gateway.gql(gateway.org.admin, HEALTH, id=second)
    assert none["data"]["account"]["health"] is None
    assert none["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    await cx_proxy.clear("reset_peer")
    healed = await gateway.data(gateway.org.admin, HEALTH, id=second)
    assert healed["account"]["health"]["stale"] is False
