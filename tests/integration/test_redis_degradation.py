"""Redis cut under a gateway (a toxiproxy proxy disabled): every request is still served, the
outage is logged and counted once, not per request, and the gateway recovers by itself."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from sales_graph.app import create_app
from sales_graph.cache.forecasts import Pair, RedisForecastCache
from sales_graph.connectors.cache import RedisCache
from sales_graph.degradation import REDIS, Component, Dependency
from sales_graph.limiter import RedisStore
from sales_graph.settings import RateLimitSettings
from sales_graph.simulators import RunningSimulators, serve_simulators
from sales_graph.web.webhooks import Claim, SeenDeliveries
from tests.federation.conftest import KEYS, make_accounts, signed_headers, upstream_settings
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway
from tests.services import ServiceUrls, require_reachable

pytestmark = pytest.mark.redis

# The rate limiter (every request), the upstream cache (health), the forecast cache (forecasts).
QUERY = """query($id: ID!) { account(id: $id) { name health { score } }
  forecasts(period: "Q1_2026") { forecastType amount } }"""
COMPONENTS = [component.value for component in Component]


@dataclass
class RedisProxy:
    """A toxiproxy proxy in front of the real Redis; ``cut`` closes it, ``restore`` reopens."""

    api: httpx.AsyncClient
    name: str
    url: str

    async def _enabled(self, enabled: bool) -> None:
        response = await self.api.post(f"/proxies/{self.name}", json={"enabled": enabled})
        response.raise_for_status()

    async def cut(self) -> None:
        await self._enabled(False)

    async def restore(self) -> None:
        await self._enabled(True)


@pytest.fixture
async def redis_proxy(services: ServiceUrls, redis_url: str) -> AsyncIterator[RedisProxy]:
    require_reachable("toxiproxy", services.toxiproxy)
    name = f"sales-graph-redis-{uuid.uuid4().hex[:12]}"
    upstream = redis_url.split("//", 1)[1].split("/", 1)[0]
    async with httpx.AsyncClient(base_url=services.toxiproxy, timeout=5) as api:
        created = await api.post(
            "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
        )
        created.raise_for_status()
        try:
            yield RedisProxy(api, name, f"redis://{created.json()['listen']}/0")
        finally:
            await api.delete(f"/proxies/{name}")


@pytest.fixture
async def sims() -> AsyncIterator[RunningSimulators]:
    running = await serve_simulators(api_keys=KEYS)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """The rate limiter's key prefix of this test (its global window its own), removed after."""
    name = f"sales-graph-test:{uuid.uuid4().hex}"
    yield name
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{name}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _counters() -> dict[str, float]:
    values = {"outages": _sample("sales_graph_dependency_degradations_total", dependency="redis")}
    for component in COMPONENTS:
        values[component] = _sample(
            "sales_graph_degraded_operations_total", dependency="redis", component=component
        )
    return values


def _events(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == event and line.get("dependency") == "redis"]


async def _round(gateway: Gateway, account_id: str, n: int) -> list[int]:
    """One GraphQL request and one webhook delivery; their statuses."""
    response = await gateway.post(gateway.org.admin, QUERY, id=account_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["account"]["health"] is not None
    assert body["data"]["forecasts"]
    delivery = orjson.dumps(
        {
            "type": "account.signals_updated",
            "timestamp": "2026-02-01T09:00:00Z",
            "data": {"account_id": account_id, "health_score": n % 100},
        }
    )
    webhook = await gateway.client.post(
        "/webhooks/customer-experience", content=delivery, headers=signed_headers(delivery)
    )
    return [response.status_code, webhook.status_code]


async def _recovered(
    gateway: Gateway, account_id: str, logs: list[dict[str, Any]], count: int
) -> None:
    """Requests until ``count`` ``dependency.recovered`` lines were logged (10 s at most)."""
    deadline = time.monotonic() + 10
    n = 0
    while len(_events(logs, "dependency.recovered")) < count:
        assert time.monotonic() < deadline, "Redis came back but no request noticed"
        assert set(await _round(gateway, account_id, n)) <= {200, 204}
        n += 1


async def _outage(
    gateway: Gateway, proxy: RedisProxy, account_id: str, logs: list[dict[str, Any]], nth: int
) -> None:
    before = _counters()
    await proxy.cut()
    statuses = [status for n in range(30) for status in await _round(gateway, account_id, n)]
    assert len(statuses) == 60
    assert set(statuses) <= {200, 204}
    degraded = _events(logs, "dependency.degraded")
    assert len(degraded) == nth, degraded
    assert degraded[-1]["log_level"] == "warning"
    assert degraded[-1]["component"] in COMPONENTS
    assert "ConnectionError" in degraded[-1]["error"]
    after = _counters()
    assert after["outages"] - before["outages"] == 1
    for component in COMPONENTS:
        assert after[component] > before[component], component
    # Nothing else warned about, per request or otherwise.
    warned = [line["event"] for line in logs if line["log_level"] in {"warning", "error"}]
    assert warned == ["dependency.degraded"] * nth
    assert REDIS.degraded

    await proxy.restore()
    await _recovered(gateway, account_id, logs, nth)
    recovered = _events(logs, "dependency.recovered")
    assert len(recovered) == nth
    assert recovered[-1]["log_level"] == "info"
    assert recovered[-1]["degraded_operations"] >= 30
    assert recovered[-1]["outage_s"] > 0
    assert not REDIS.degraded
    assert _counters()["outages"] - before["outages"] == 1


async def test_a_redis_outage_is_served_logged_once_and_recovered_from(
    tmp_path: Path,
    fresh_sqlite: str,
    sims: RunningSimulators,
    redis_proxy: RedisProxy,
    prefix: str,
) -> None:
    org = await seeded_org(fresh_sqlite)
    settings = gateway_settings(
        tmp_path,
        fresh_sqlite,
        # Production: the upstream cache is in Redis too.
        env="production",
        log_level="INFO",
        redis_url=redis_proxy.url,
        # Every request tries Redis (no pause after a failure): the most lines there could be.
        rate_limit=RateLimitSettings(key_prefix=prefix, store_retry_s=0),
        **upstream_settings(sims),
    )
    app = create_app(settings)
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        runtime = gateway.runtime
        assert runtime.rate_limiter is not None
        assert isinstance(runtime.rate_limiter.store, RedisStore)
        assert isinstance(runtime.forecast_cache, RedisForecastCache)
        assert runtime.connectors is not None
        assert isinstance(runtime.connectors.customer_experience.upstream.cache, RedisCache)
        (account_id,) = await make_accounts(gateway, 1)
        assert set(await _round(gateway, account_id, 0)) == {200, 204}
        REDIS.reset()  # whatever an earlier test left behind in this process
        settle_s, REDIS.settle_s = REDIS.settle_s, 0.0  # two outages back to back
        with capture_logs() as logs:
            await _outage(gateway, redis_proxy, account_id, logs, nth=1)
            await _outage(gateway, redis_proxy, account_id, logs, nth=2)
        REDIS.settle_s = settle_s


async def test_an_invalidation_redis_missed_is_applied_before_the_cache_is_used_again(
    redis_proxy: RedisProxy,
) -> None:
    redis = Redis.from_url(redis_proxy.url, socket_connect_timeout=1)
    health = Dependency("redis")
    cache = RedisForecastCache(
        redis, ttl_s=60, prefix=f"sales-graph-test:{uuid.uuid4().hex}:", health=health
    )
    pair = Pair(uuid.uuid4(), "Q1_2026")
    try:
        version = await cache.version(pair.territory_id)
        assert version is not None
        await cache.put(pair, "commit", {"amount": "1"}, version)
        assert await cache.get(pair, "commit") == {"amount": "1"}

        await redis_proxy.cut()
        # The consumer is told (it retries the message) and the cache remembers it.
        with pytest.raises(RedisConnectionError):
            await cache.invalidate([pair.territory_id])
        assert cache.unapplied == {pair.territory_id}
        assert health.degraded
        assert await cache.get(pair, "commit") is None
        assert await cache.version(pair.territory_id) is None
        assert await cache.due_refreshes(time.time(), 10) == []

        await redis_proxy.restore()
        # The consumer gave up on the message: the first use of the cache applies it.
        assert await cache.get(pair, "commit") is None
        assert cache.unapplied == set()
        assert not health.degraded
        assert health.outages == 1
        # Computed again after the invalidation, it is served.
        fresh = await cache.version(pair.territory_id)
        assert fresh is not None
        assert fresh != version
        await cache.put(pair, "commit", {"amount": "2"}, fresh)
        assert await cache.get(pair, "commit") == {"amount": "2"}
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{cache.prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_seen_webhook_ids_fall_back_to_the_process_while_redis_is_away(
    redis_proxy: RedisProxy,
) -> None:
    redis = Redis.from_url(redis_proxy.url, socket_connect_timeout=1)
    health = Dependency("redis")
    seen = SeenDeliveries(redis, prefix=f"sales-graph-test:{uuid.uuid4().hex}:", health=health)
    try:
        await redis_proxy.cut()
        assert await seen.claim("msg_1") is Claim.NEW
        await seen.complete("msg_1")
        assert await seen.claim("msg_1") is Claim.DONE
        assert health.degraded
        assert health.outages == 1
        await redis_proxy.restore()
        assert await seen.claim("msg_2") is Claim.NEW
        assert not health.degraded
        await seen.forget("msg_2")
    finally:
        await redis.aclose()
