"""What each system's client shares: one :class:`UpstreamClient` and how it is built."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar, Self

from sales_graph.connectors.base import DEFAULT_STALE_TTL_S, MAX_RESPONSE_BYTES, UpstreamClient
from sales_graph.connectors.breaker import CircuitBreaker
from sales_graph.connectors.cache import Cache
from sales_graph.connectors.retry import RetryPolicy
from sales_graph.settings import UpstreamSettings


class SystemClient:
    SYSTEM: ClassVar[str]
    # Seconds a read stays fresh, per resource; a resource missing here gets DEFAULT_TTL_S.
    DEFAULT_TTLS: ClassVar[Mapping[str, float]] = {}

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    @classmethod
    def from_settings(
        cls,
        settings: UpstreamSettings,
        *,
        cache: Cache | None = None,
        ttls: Mapping[str, float] | None = None,
        stale_ttl_s: float = DEFAULT_STALE_TTL_S,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        rng: random.Random | None = None,
    ) -> Self:
        upstream = UpstreamClient(
            cls.SYSTEM,
            settings,
            cache=cache,
            ttls={**cls.DEFAULT_TTLS, **(ttls or {})},
            stale_ttl_s=stale_ttl_s,
            retry=retry,
            breaker=breaker,
            max_response_bytes=max_response_bytes,
            rng=rng,
        )
        return cls(upstream)

    async def aclose(self) -> None:
        await self.upstream.aclose()
