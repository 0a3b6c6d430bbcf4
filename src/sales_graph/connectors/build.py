"""The connectors of all five systems, built once from the settings by the composition root."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar, get_type_hints

from redis.asyncio import Redis

from sales_graph.connectors.billing import BillingClient
from sales_graph.connectors.breaker import CircuitBreaker
from sales_graph.connectors.cache import Cache, InProcessCache, RedisCache
from sales_graph.connectors.customer_experience import CustomerExperienceClient
from sales_graph.connectors.finance import FinanceClient
from sales_graph.connectors.marketing import MarketingClient
from sales_graph.connectors.retry import RetryPolicy
from sales_graph.connectors.support import SupportClient
from sales_graph.connectors.system_client import SystemClient
from sales_graph.settings import UPSTREAM_SYSTEMS, Settings

DEFAULT_CACHE_PREFIX = "sales-graph:upstream:"
C = TypeVar("C", bound=SystemClient)


@dataclass
class Connectors:
    # One typed client per upstream system, named as in settings.UPSTREAM_SYSTEMS (the only
    # place here that names the systems: clients() and build_connectors() read these fields).
    marketing: MarketingClient
    customer_experience: CustomerExperienceClient
    support: SupportClient
    billing: BillingClient
    finance: FinanceClient
    cache: Cache

    def breaker_states(self) -> dict[str, str]:
        """Each system's circuit breaker: closed, open or half_open (for /readyz)."""
        return {c.SYSTEM: c.upstream.breaker.state.value for c in self.clients()}

    def clients(self) -> tuple[SystemClient, ...]:
        """Every system's client, in the order of ``UPSTREAM_SYSTEMS``."""
        return tuple(getattr(self, system) for system in UPSTREAM_SYSTEMS)

    async def aclose(self) -> None:
        """Close the HTTP clients; the Redis client belongs to whoever passed it in."""
        await asyncio.gather(*(client.aclose() for client in self.clients()))


def build_connectors(
    settings: Settings,
    redis: Redis | None = None,
    *,
    cache: Cache | None = None,
    cache_prefix: str = DEFAULT_CACHE_PREFIX,
    in_process_cache_entries: int = 10_000,
    ttls: Mapping[str, Mapping[str, float]] | None = None,
    stale_ttl_s: float | None = None,
    retry: RetryPolicy | None = None,
    breaker_failure_threshold: int | None = None,
    breaker_reset_timeout_s: float | None = None,
    max_response_bytes: int | None = None,
) -> Connectors:
    """One client per system, sharing one cache: Redis when ``redis`` is given, else in-process.

    Retries, breaker, payload cap, stale TTL and resource TTLs come from each system's
    :class:`UpstreamSettings`; an argument given here overrides them for every system.
    ``ttls`` overrides resource TTLs per system, e.g. ``{"customer_experience": {"health": 60}}``.
    A system without ``base_url`` gets a client whose calls raise ``UpstreamUnavailable``.
    """
    shared: Cache = cache or (
        RedisCache(redis, prefix=cache_prefix)
        if redis is not None
        else InProcessCache(max_entries=in_process_cache_entries)
    )
    overrides = ttls or {}

    def build(cls: type[C]) -> C:
        system = settings.upstream(cls.SYSTEM)
        return cls.from_settings(
            system,
            cache=shared,
            ttls={**system.cache_ttls, **overrides.get(cls.SYSTEM, {})},
            stale_ttl_s=system.stale_ttl_s if stale_ttl_s is None else stale_ttl_s,
            retry=retry
            or RetryPolicy(
                max_attempts=system.retry_max_attempts,
                base_backoff_s=system.retry_base_backoff_s,
                max_backoff_s=system.retry_max_backoff_s,
            ),
            breaker=CircuitBreaker(
                name=cls.SYSTEM,
                failure_threshold=breaker_failure_threshold or system.breaker_failure_threshold,
                reset_timeout_s=system.breaker_reset_timeout_s
                if breaker_reset_timeout_s is None
                else breaker_reset_timeout_s,
            ),
            max_response_bytes=max_response_bytes or system.max_response_bytes,
        )

    hints = get_type_hints(Connectors)
    clients = {system: build(hints[system]) for system in UPSTREAM_SYSTEMS}
    return Connectors(cache=shared, **clients)
