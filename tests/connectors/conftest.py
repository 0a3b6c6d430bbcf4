from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

import pytest
from pydantic import SecretStr

from sales_graph.connectors import CircuitBreaker, RetryPolicy, SystemClient
from sales_graph.connectors.cache import Cache
from sales_graph.settings import UpstreamSettings
from sales_graph.simulators import SYSTEMS, RunningSimulators, serve_simulators

KEYS = {system: f"test-{system}-key" for system in SYSTEMS}
FAST_RETRY = RetryPolicy(max_attempts=4, base_backoff_s=0.01, max_backoff_s=0.05)
C = TypeVar("C", bound=SystemClient)


class FakeClock:
    """A clock that moves only when told to, for TTLs and cool-downs without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Connect(Protocol):
    def __call__(
        self,
        cls: type[C],
        *,
        cache: Cache | None = None,
        retry: RetryPolicy = ...,
        breaker: CircuitBreaker | None = None,
        max_response_bytes: int = ...,
        ttls: dict[str, float] | None = None,
        **settings: Any,
    ) -> C: ...


@pytest.fixture
async def sims() -> AsyncIterator[RunningSimulators]:
    running = await serve_simulators(api_keys=KEYS)
    try:
        yield running
    finally:
        await running.stop()


def settings_for(sims: RunningSimulators, system: str, **overrides: Any) -> UpstreamSettings:
    values: dict[str, Any] = {
        "base_url": sims.urls[system],
        "api_key": SecretStr(sims.api_keys[system]),
        "connect_timeout_s": 1.0,
        "read_timeout_s": 2.0,
        "deadline_s": 2.0,
        **overrides,
    }
    return UpstreamSettings.model_validate(values)


@pytest.fixture
async def connect(sims: RunningSimulators) -> AsyncIterator[Connect]:
    """Builds a system's client against the simulators with test-sized retries; closes it after."""
    made: list[SystemClient] = []

    def build(
        cls: type[C],
        *,
        cache: Cache | None = None,
        retry: RetryPolicy = FAST_RETRY,
        breaker: CircuitBreaker | None = None,
        max_response_bytes: int = 1024 * 1024,
        ttls: dict[str, float] | None = None,
        **settings: Any,
    ) -> C:
        client = cls.from_settings(
            settings_for(sims, cls.SYSTEM, **settings),
            cache=cache,
            ttls=ttls,
            retry=retry,
            breaker=breaker,
            max_response_bytes=max_response_bytes,
            rng=random.Random(7),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


Statuses = Callable[[RunningSimulators, str], list[int | None]]


def statuses(sims: RunningSimulators, system: str) -> list[int | None]:
    return [r.status for r in sims[system].requests]
