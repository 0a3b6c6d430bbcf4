"""What each system's client shares: one :class:`UpstreamClient` and how it is built."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar, Self, TypedDict, Unpack

from sales_graph.connectors.base import UpstreamClient
from sales_graph.connectors.breaker import CircuitBreaker
from sales_graph.connectors.cache import Cache
from sales_graph.connectors.retry import RetryPolicy
from sales_graph.settings import UpstreamSettings


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of :class:`UpstreamClient` a system client passes through."""

    cache: Cache | None
    stale_ttl_s: float
    retry: RetryPolicy | None
    breaker: CircuitBreaker | None
    max_response_bytes: int
    rng: random.Random | None


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
        ttls: Mapping[str, float] | None = None,
        **options: Unpack[ClientOptions],
    ) -> Self:
        """``ttls`` adds to :attr:`DEFAULT_TTLS`; other options go to :class:`UpstreamClient`."""
        upstream = UpstreamClient(
            cls.SYSTEM, settings, ttls={**cls.DEFAULT_TTLS, **(ttls or {})}, **options
        )
        return cls(upstream)

    async def aclose(self) -> None:
        await self.upstream.aclose()
