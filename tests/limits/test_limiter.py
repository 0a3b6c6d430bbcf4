"""The limiter's rules without HTTP (no I/O): windows, refusals, failing open."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from sales_graph.limiter import Decision, MemoryStore, Quota, RateLimiter


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def quota(**changes: int) -> Quota:
    values = {"limit": 5, "burst": 5, "global_limit": 100, "window_ms": 60_000}
    values.update(changes)
    return Quota(burst_window_ms=1_000, **values)


async def test_a_refused_request_uses_up_nothing() -> None:
    store = MemoryStore(quota(limit=1, global_limit=3), Clock())
    assert (await store.hit("a")).allowed
    for _ in range(5):
        assert not (await store.hit("a")).allowed
    # Had a's refusals counted globally, c would be refused.
    assert (await store.hit("b")).allowed
    assert (await store.hit("c")).allowed
    assert not (await store.hit("d")).allowed


async def test_a_window_opens_at_the_first_request_and_ends_after_its_length() -> None:
    clock = Clock(1_000.5)
    store = MemoryStore(quota(limit=2), clock)
    first = await store.hit("a")
    assert first == Decision(True, 2, 1, 1_061, 0)
    clock.now = 1_030.0
    assert (await store.hit("a")).remaining == 0
    refused = await store.hit("a")
    assert refused == Decision(False, 2, 0, 1_061, 31)  # 30.5 s left, rounded up
    clock.now = 1_060.5
    assert await store.hit("a") == Decision(True, 2, 1, 1_121, 0)


async def test_expired_windows_are_swept() -> None:
    clock = Clock()
    store = MemoryStore(quota(), clock)
    for n in range(100):
        await store.hit(f"address:10.0.0.{n}")
    clock.now += 61
    await store.hit("address:10.0.1.1")
    assert len(store._windows) == 3  # the new key's two windows and the global one


class FailingStore:
    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, key: str) -> Decision:
        self.calls += 1
        raise RedisConnectionError("Connection refused")


async def test_a_failing_store_falls_back_and_is_retried_after_a_while() -> None:
    monotonic = Clock(0.0)
    failing = FailingStore()
    limiter = RateLimiter(
        failing, fallback=MemoryStore(quota(), Clock()), retry_s=5.0, monotonic=monotonic
    )
    for _ in range(3):
        decision = await limiter.hit("a")
        assert decision.allowed
    assert (limiter.store_failures, failing.calls) == (1, 1)
    monotonic.now = 5.0
    assert (await limiter.hit("a")).remaining == 1  # the fallback kept counting
    assert (limiter.store_failures, failing.calls) == (2, 2)
