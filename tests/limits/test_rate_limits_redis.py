"""Rate limits in the real Redis: shared by instances, one round trip, failing open."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from sales_graph.degradation import REDIS
from sales_graph.limiter import RedisStore
from tests.limits.conftest import make_settings, serve
from tests.services import ServiceUrls, require_reachable

pytestmark = pytest.mark.redis

HEALTH = {"query": "{ health { status } }"}


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own (so its global window is its own too), removed after."""
    name = f"sales-graph-test:{uuid.uuid4().hex}"
    yield name
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{name}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_two_instances_share_one_limit(tmp_path: Path, redis_url: str, prefix: str) -> None:
    settings = make_settings(
        tmp_path,
        redis_url=redis_url,
        rate_limit={"principal_limit": 5, "burst_limit": 100, "key_prefix": prefix},
    )
    async with serve(settings) as first, serve(settings) as second:
        assert isinstance(first.runtime.rate_limiter.store, RedisStore)  # type: ignore[union-attr]
        user = first.bearer()
        remaining = []
        for n in range(5):
            instance = (first, second)[n % 2]
            response = await instance.client.post("/graphql", json=HEALTH, headers=user)
            assert response.status_code == 200
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        for instance in (first, second):
            refused = await instance.client.post("/graphql", json=HEALTH, headers=user)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        # The windows end by themselves: Redis expires the counters.
        redis = first.runtime.redis
        assert redis is not None
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        assert len(keys) == 3
        for key in keys:
            assert 0 < await redis.pttl(key) <= 60_000


async def test_one_round_trip_per_request(tmp_path: Path, redis_url: str, prefix: str) -> None:
    settings = make_settings(tmp_path, redis_url=redis_url, rate_limit={"key_prefix": prefix})
    async with serve(settings) as api:
        redis = api.runtime.redis
        assert redis is not None
        user = api.bearer()
        # The first call may load the script (NOSCRIPT, SCRIPT LOAD); count after it.
        await api.client.post("/graphql", json=HEALTH, headers=user)
        commands: list[Any] = []
        execute: Any = redis.execute_command

        async def counting(*args: Any, **options: Any) -> Any:
            commands.append(args[0])
            return await execute(*args, **options)

        redis.execute_command = counting  # type: ignore[method-assign]
        for _ in range(10):
            response = await api.client.post("/graphql", json=HEALTH, headers=user)
            assert response.status_code == 200
        assert commands == ["EVALSHA"] * 10
        assert response.headers["x-ratelimit-remaining"] == "989"


async def test_redis_unreachable_requests_are_served_and_the_failure_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        tmp_path,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        rate_limit={"store_retry_s": 0},
    )
    REDIS.reset()  # whatever an earlier test left behind in this process
    async with serve(settings) as api:
        limiter = api.runtime.rate_limiter
        assert limiter is not None
        user = api.bearer()
        for n in range(3):
            response = await api.client.post("/graphql", json=HEALTH, headers=user)
            assert response.status_code == 200
            # Counted in process meanwhile, so the headers are still there.
            assert response.headers["x-ratelimit-remaining"] == str(999 - n)
        assert limiter.store_failures == 3
    # Three failures, one outage: logged once (sales_graph.degradation), not per request.
    logged = [line for line in capsys.readouterr().err.splitlines() if "redis" in line.lower()]
    assert len(logged) == 1
    assert '"event": "dependency.degraded"' in logged[0]
    assert '"component": "rate_limiter"' in logged[0]


async def test_after_a_failure_redis_is_left_alone_for_a_while(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        rate_limit={"store_retry_s": 300},
    )
    async with serve(settings) as api:
        limiter = api.runtime.rate_limiter
        assert limiter is not None
        for _ in range(5):
            response = await api.client.post("/graphql", json=HEALTH)
            assert response.status_code == 200
        assert limiter.store_failures == 1


@pytest.fixture
async def stalled_redis(services: ServiceUrls, redis_url: str) -> AsyncIterator[str]:
    """A toxiproxy in front of the real Redis that accepts connections and never answers."""
    require_reachable("toxiproxy", services.toxiproxy)
    name = f"sales-graph-test-{uuid.uuid4().hex[:12]}"
    upstream = redis_url.split("//", 1)[1].split("/", 1)[0]
    async with httpx.AsyncClient(base_url=services.toxiproxy, timeout=5) as toxiproxy:
        created = await toxiproxy.post(
            "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
        )
        created.raise_for_status()
        listen = created.json()["listen"]
        try:
            stall = {"type": "timeout", "attributes": {"timeout": 0}}
            (await toxiproxy.post(f"/proxies/{name}/toxics", json=stall)).raise_for_status()
            yield f"redis://{listen}/0"
        finally:
            await toxiproxy.delete(f"/proxies/{name}")


async def test_a_stalled_redis_costs_at_most_the_store_timeout(
    tmp_path: Path, stalled_redis: str
) -> None:
    settings = make_settings(
        tmp_path,
        redis_url=stalled_redis,
        rate_limit={"store_timeout_s": 0.2, "store_retry_s": 0},
    )
    async with serve(settings) as api:
        limiter = api.runtime.rate_limiter
        assert limiter is not None
        begun = time.perf_counter()
        response = await api.client.post("/graphql", json=HEALTH, headers=api.bearer())
        assert time.perf_counter() - begun < 1.5
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "999"
        assert limiter.store_failures == 1
