"""The Customer Experience system: account health, usage, recent tickets, NPS."""

from __future__ import annotations

from sales_graph.connectors.customer_experience.models import (
    AccountHealth,
    AccountNps,
    AccountTickets,
    AccountUsage,
)
from sales_graph.connectors.system_client import SystemClient
from sales_graph.connectors.wire import segment


class CustomerExperienceClient(SystemClient):
    SYSTEM = "customer_experience"
    DEFAULT_TTLS = {"health": 300.0, "usage": 900.0, "tickets": 120.0, "nps": 3600.0}

    async def health(self, account_id: str) -> AccountHealth:
        return await self.upstream.read("health", _path(account_id, "health"), AccountHealth)

    async def usage(self, account_id: str) -> AccountUsage:
        return await self.upstream.read("usage", _path(account_id, "usage"), AccountUsage)

    async def tickets(self, account_id: str) -> AccountTickets:
        return await self.upstream.read("tickets", _path(account_id, "tickets"), AccountTickets)

    async def nps(self, account_id: str) -> AccountNps:
        return await self.upstream.read("nps", _path(account_id, "nps"), AccountNps)

    async def forget_account(self, account_id: str) -> None:
        """The system told us (by webhook) that the account changed: drop its cached reads."""
        for resource in self.DEFAULT_TTLS:
            await self.upstream.forget(_path(account_id, resource))


def _path(account_id: str, resource: str) -> str:
    return f"/api/v1/accounts/{segment(account_id)}/{resource}"
