"""Per-request dataloaders of the external systems' reads.

A request asks each system once per distinct key and resource (the loader deduplicates), and
the calls of one batch run concurrently, at most ``concurrency`` at a time per system. A failed
call fails only its own key: the field resolving it is null with an ``errors[]`` entry
(``UPSTREAM_UNAVAILABLE`` / ``UPSTREAM_TIMEOUT``); a 404 ("the system does not know this id")
is a null without an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from sales_graph.connectors import Connectors, UpstreamNotFound
from sales_graph.connectors.billing.models import Contract
from sales_graph.connectors.customer_experience.models import (
    AccountHealth,
    AccountNps,
    AccountTickets,
    AccountUsage,
)
from sales_graph.connectors.finance.client import finance_period
from sales_graph.connectors.finance.models import Revenue
from sales_graph.connectors.marketing.models import Campaign, LeadScore
from sales_graph.connectors.support.models import CriticalTickets, Escalations, FeatureRequests
from sales_graph.errors import UpstreamUnavailable
from sales_graph.schema.dataloader import Loader
from sales_graph.settings import UPSTREAM_SYSTEMS

DEFAULT_CONCURRENCY = 10
V = TypeVar("V")


def upstream_loader(
    fetch: Callable[[str], Awaitable[V | None]], limit: asyncio.Semaphore
) -> Loader[str, V | None]:
    """One resource of one system, keyed by the system's id for it."""

    async def one(key: str) -> V | Exception | None:
        async with limit:
            try:
                return await fetch(key)
            except UpstreamNotFound:
                return None
            except Exception as exc:  # fails the load of this key only
                return exc

    async def batch(keys: Sequence[str]) -> list[V | Exception | None]:
        return await asyncio.gather(*(one(key) for key in keys))

    return Loader(batch)


class UpstreamLoaders:
    health: Loader[str, AccountHealth | None]
    usage: Loader[str, AccountUsage | None]
    tickets: Loader[str, AccountTickets | None]
    nps: Loader[str, AccountNps | None]
    critical_tickets: Loader[str, CriticalTickets | None]
    escalations: Loader[str, Escalations | None]
    feature_requests: Loader[str, FeatureRequests | None]
    campaign: Loader[str, Campaign | None]
    lead_score: Loader[str, LeadScore | None]
    contract: Loader[str, Contract | None]
    # Keyed by our period name (Q1_2026, M03_2026, FY2026); None for a fiscal year.
    revenue: Loader[str, Revenue | None]

    def __init__(
        self,
        connectors: Connectors | None,
        *,
        concurrency: Mapping[str, int] | None = None,
    ) -> None:
        """``concurrency``: calls in flight per system in one request (its connection pool
        size, ``max_connections``, by default ``DEFAULT_CONCURRENCY``)."""
        self._connectors = connectors
        self._limits = {
            system: asyncio.Semaphore((concurrency or {}).get(system, DEFAULT_CONCURRENCY))
            for system in UPSTREAM_SYSTEMS
        }
        cx = "customer_experience"
        self.health = self._read(cx, lambda c: c.customer_experience.health)
        self.usage = self._read(cx, lambda c: c.customer_experience.usage)
        self.tickets = self._read(cx, lambda c: c.customer_experience.tickets)
        self.nps = self._read(cx, lambda c: c.customer_experience.nps)
        self.critical_tickets = self._read("support", lambda c: c.support.critical_tickets)
        self.escalations = self._read("support", lambda c: c.support.escalations)
        self.feature_requests = self._read("support", lambda c: c.support.feature_requests)
        self.campaign = self._read("marketing", lambda c: c.marketing.campaign)
        self.lead_score = self._read("marketing", lambda c: c.marketing.lead_score)
        self.contract = self._read("billing", lambda c: c.billing.get_contract)
        self.revenue = upstream_loader(self._revenue, self._limits["finance"])

    def _read(
        self, system: str, call: Callable[[Connectors], Callable[[str], Awaitable[V | None]]]
    ) -> Loader[str, V | None]:
        """The loader of one call of ``system``'s client (``call(connectors)``), under the
        system's limit."""
        return upstream_loader(lambda key: call(self._c())(key), self._limits[system])

    def _c(self) -> Connectors:
        if self._connectors is None:
            raise UpstreamUnavailable(
                "The external systems are not configured", details={"reason": "not_configured"}
            )
        return self._connectors

    async def _revenue(self, period: str) -> Revenue | None:
        return await self._c().finance.revenue(period) if finance_period(period) else None


__all__ = ["UpstreamLoaders", "finance_period", "upstream_loader"]
