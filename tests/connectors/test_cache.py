"""The read cache: TTLs, bounds, and stale values served while a system is down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from sales_graph.connectors import (
    CircuitBreaker,
    CircuitOpen,
    CustomerExperienceClient,
    InProcessCache,
    RedisCache,
    RetryPolicy,
)
from sales_graph.connectors.cache import Cache
from sales_graph.errors import UpstreamUnavailable
from sales_graph.simulators import RunningSimulators
from tests.connectors.conftest import Connect, FakeClock

CX = "customer_experience"
TTLS = {"health": 10.0}


async def test_in_process_entries_are_fresh_then_stale_then_gone() -> None:
    clock = FakeClock()
    cache = InProcessCache(clock=clock)
    await cache.set("k", {"score": 1}, ttl_s=10, stale_ttl_s=100)
    entry = await cache.get("k")
    assert entry is not None
    assert (entry.value, entry.fresh) == ({"score": 1}, True)
    clock.advance(10)
    entry = await cache.get("k")
    assert entry is not None
    assert not entry.fresh
    clock.advance(100)
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_in_process_cache_is_bounded_least_recently_used_first() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.set("a", 1, ttl_s=10, stale_ttl_s=10)
    await cache.set("b", 2, ttl_s=10, stale_ttl_s=10)
    await cache.get("a")
    await cache.set("c", 3, ttl_s=10, stale_ttl_s=10)
    assert await cache.get("b") is None
    assert [(await cache.get(k)) is not None for k in ("a", "c")] == [True, True]


async def test_in_process_values_are_copies() -> None:
    cache = InProcessCache()
    value = {"items": [1]}
    await cache.set("k", value, ttl_s=10, stale_ttl_s=10)
    value["items"].append(2)
    entry = await cache.get("k")
    assert entry is not None
    entry.value["items"].append(3)
    again = await cache.get("k")
    assert again is not None
    assert again.value == {"items": [1]}


async def test_a_fresh_read_is_served_from_cache(sims: RunningSimulators, connect: Connect) -> None:
    client = connect(CustomerExperienceClient, cache=InProcessCache(), ttls=TTLS)
    first = await client.health("acc-1")
    second = await client.health("acc-1")
    assert first == second
    assert not second.stale
    assert len(sims[CX].requests) == 1


async def stale_served_during_outage(
    sims: RunningSimulators, connect: Connect, cache: Cache, clock: FakeClock
) -> None:
    client = connect(CustomerExperienceClient, cache=cache, ttls=TTLS)
    fresh = await client.health("acc-1")
    clock.advance(11)
    sims[CX].set_knobs(outage=True)
    stale = await client.health("acc-1")
    assert stale.stale
    assert not fresh.stale
    assert stale.model_dump() == fresh.model_dump()
    assert [r.status for r in sims[CX].requests][-1] == 503  # it did ask first
    with pytest.raises(UpstreamUnavailable):
        await client.health("acc-2")  # nothing cached: the error stands


async def test_a_stale_in_process_value_is_served_during_an_outage(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    await stale_served_during_outage(sims, connect, InProcessCache(clock=clock), clock)


async def test_a_stale_value_is_served_while_the_circuit_is_open(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=60, clock=clock)
    client = connect(
        CustomerExperienceClient,
        cache=InProcessCache(clock=clock),
        ttls=TTLS,
        breaker=breaker,
        retry=RetryPolicy(max_attempts=1),
    )
    await client.health("acc-1")
    clock.advance(11)
    sims[CX].set_knobs(outage=True)
    assert (await client.health("acc-1")).stale  # this failure opens the circuit
    seen = len(sims[CX].requests)
    assert (await client.health("acc-1")).stale
    assert len(sims[CX].requests) == seen
    with pytest.raises(CircuitOpen):
        await client.health("acc-2")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    value = f"test:upstream:{uuid.uuid4().hex}:"
    yield value
    keys = [key async for key in redis.scan_iter(match=value + "*")]
    if keys:
        await redis.delete(*keys)


async def test_redis_entries_are_fresh_then_stale_and_expire_in_redis(
    redis: Redis, prefix: str
) -> None:
    clock = FakeClock(start=1_700_000_000)
    cache = RedisCache(redis, prefix=prefix, clock=clock)
    await cache.set("k", {"score": 7}, ttl_s=10, stale_ttl_s=50)
    entry = await cache.get("k")
    assert entry is not None
    assert (entry.value, entry.fresh) == ({"score": 7}, True)
    assert 0 < await redis.pttl(prefix + "k") <= 60_000
    clock.advance(10)
    entry = await cache.get("k")
    assert entry is not None
    assert not entry.fresh
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_a_stale_redis_value_is_served_during_an_outage(
    sims: RunningSimulators, connect: Connect, redis: Redis, prefix: str
) -> None:
    clock = FakeClock(start=1_700_000_000)
    await stale_served_during_outage(
        sims, connect, RedisCache(redis, prefix=prefix, clock=clock), clock
    )
    assert await redis.exists(prefix + f"{CX}:/api/v1/accounts/acc-1/health") == 1


async def test_a_broken_redis_never_fails_a_call(sims: RunningSimulators, connect: Connect) -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        client = connect(CustomerExperienceClient, cache=RedisCache(broken))
        assert (await client.health("acc-1")).account_id == "acc-1"
        assert (await client.health("acc-1")).account_id == "acc-1"
    finally:
        await broken.aclose()
    assert len(sims[CX].requests) == 2  # no cache, but no failure either


class CountingRedis:
    """The real client, with its MGET calls counted."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.mgets: list[int] = []

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        self.mgets.append(len(keys))
        result: list[bytes | None] = await self._redis.mget(keys)
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self._redis, name)


async def test_redis_reads_of_one_loop_turn_go_as_one_mget(redis: Redis, prefix: str) -> None:
    counting = CountingRedis(redis)
    cache = RedisCache(counting, prefix=prefix)  # type: ignore[arg-type]
    for n in range(0, 20, 2):
        await cache.set(f"k{n}", {"n": n}, ttl_s=10, stale_ttl_s=10)
    entries = await asyncio.gather(*(cache.get(f"k{n % 20}") for n in range(25)))
    assert counting.mgets == [20]  # 25 reads, 20 distinct keys, one round trip
    assert [e.value if e else None for e in entries] == [
        {"n": n % 20} if n % 2 == 0 else None for n in range(25)
    ]
    assert (await cache.get("k4")) is not None
    assert counting.mgets == [20, 1]
