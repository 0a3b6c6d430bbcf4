"""Per-request dataloaders of the external systems' reads.

A request asks each system once per distinct key and resource (the loader deduplicates), and
the calls of one batch run concurrently, at most ``concurrency`` at a time per system. A failed
call fails only its own key: the field resolving it is null with an ``errors[]`` entry
(``UPSTREAM_UNAVAILABLE`` / ``UPSTREAM_TIMEOUT``); a 404 ("the system does not know this id")
is a null without an error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from sales_graph.connectors import Connectors, UpstreamNotFound
from sales_graph.connectors.billing.models import Contract
from sales_graph.connectors.customer_experience.models import (
    AccountHealth,
    AccountNps,
    AccountTickets,
    AccountUsage,
)
from sales_graph.connectors.finance.models import Revenue
from sales_graph.connectors.marketing.models import Campaign, LeadScore
from sales_graph.connectors.support.models import CriticalTickets, Escalations, FeatureRequests
from sales_graph.errors import UpstreamUnavailable

DEFAULT_CONCURRENCY = 10
V = TypeVar("V")
_MONTH = re.compile(r"^M(0[1-9]|1[0-2])_([0-9]{4})\Z")


def finance_period(period: str) -> str | None:
    """Our period name as Finance spells it: ``Q1_2026`` as is, ``M03_2026`` as ``2026-03``;
    Finance has no fiscal years (None)."""
    if match := _MONTH.match(period):
        return f"{match.group(2)}-{match.group(1)}"
    return period if period.startswith("Q") else None


class UpstreamLoader(Generic[V]):
    """One resource of one system, keyed by the system's id for it."""

    def __init__(self, fetch: Callable[[str], Awaitable[V]], limit: asyncio.Semaphore) -> None:
        self._fetch = fetch
        self._limit = limit
        # DataLoader rejects the future of a key whose value is an exception, and only that one.
        self._loader: DataLoader[str, Any] = DataLoader(
            batch_load_fn=self._batch, max_batch_size=500
        )

    async def load(self, key: str) -> V | None:
        value: V | None = await self._loader.load(key)
        return value

    async def _batch(self, keys: list[str]) -> list[Any]:
        return list(await asyncio.gather(*(self._one(key) for key in keys)))

    async def _one(self, key: str) -> V | Exception | None:
        async with self._limit:
            try:
                return await self._fetch(key)
            except UpstreamNotFound:
                return None
            except Exception as exc:  # handed to DataLoader, raised by load() of this key
                return exc


class UpstreamLoaders:
    def __init__(
        self,
        connectors: Connectors | None,
        *,
        concurrency: Mapping[str, int] | None = None,
    ) -> None:
        """``concurrency``: calls in flight per system in one request (its connection pool
        size, ``max_connections``, by default ``DEFAULT_CONCURRENCY``)."""
        self._connectors = connectors
        limits = {
            system: asyncio.Semaphore((concurrency or {}).get(system, DEFAULT_CONCURRENCY))
            for system in ("marketing", "customer_experience", "support", "billing", "finance")
        }
        cx = "customer_experience"
        self.health = UpstreamLoader[AccountHealth](
            lambda k: self._c().customer_experience.health(k), limits[cx]
        )
        self.usage = UpstreamLoader[AccountUsage](
            lambda k: self._c().customer_experience.usage(k), limits[cx]
        )
        self.tickets = UpstreamLoader[AccountTickets](
            lambda k: self._c().customer_experience.tickets(k), limits[cx]
        )
        self.nps = UpstreamLoader[AccountNps](
            lambda k: self._c().customer_experience.nps(k), limits[cx]
        )
        self.critical_tickets = UpstreamLoader[CriticalTickets](
            lambda k: self._c().support.critical_tickets(k), limits["support"]
        )
        self.escalations = UpstreamLoader[Escalations](
            lambda k: self._c().support.escalations(k), limits["support"]
        )
        self.feature_requests = UpstreamLoader[FeatureRequests](
            lambda k: self._c().support.feature_requests(k), limits["support"]
        )
        self.campaign = UpstreamLoader[Campaign](
            lambda k: self._c().marketing.campaign(k), limits["marketing"]
        )
        self.lead_score = UpstreamLoader[LeadScore](
            lambda k: self._c().marketing.lead_score(k), limits["marketing"]
        )
        self.contract = UpstreamLoader[Contract](
            lambda k: self._c().billing.get_contract(k), limits["billing"]
        )
        # Keyed by our period name (Q1_2026, M03_2026, FY2026).
        self.revenue = UpstreamLoader[Revenue | None](self._revenue, limits["finance"])

    def _c(self) -> Connectors:
        if self._connectors is None:
            raise UpstreamUnavailable(
                "The external systems are not configured", details={"reason": "not_configured"}
            )
        return self._connectors

    async def _revenue(self, period: str) -> Revenue | None:
        name = finance_period(period)
        return await self._c().finance.revenue(name) if name else None


__all__ = ["UpstreamLoader", "UpstreamLoaders", "finance_period"]
