"""The Support system: critical open tickets, escalation history, active feature requests."""

from __future__ import annotations

from sales_graph.connectors.support.models import CriticalTickets, Escalations, FeatureRequests
from sales_graph.connectors.system_client import SystemClient
from sales_graph.connectors.wire import segment


class SupportClient(SystemClient):
    SYSTEM = "support"
    DEFAULT_TTLS = {"critical_tickets": 60.0, "escalations": 300.0, "feature_requests": 900.0}

    async def critical_tickets(self, account_id: str) -> CriticalTickets:
        path = _path(account_id, "tickets/critical")
        return await self.upstream.read("critical_tickets", path, CriticalTickets)

    async def escalations(self, account_id: str) -> Escalations:
        path = _path(account_id, "escalations")
        return await self.upstream.read("escalations", path, Escalations)

    async def feature_requests(self, account_id: str) -> FeatureRequests:
        path = _path(account_id, "feature-requests")
        return await self.upstream.read("feature_requests", path, FeatureRequests)


def _path(account_id: str, resource: str) -> str:
    return f"/api/v1/accounts/{segment(account_id)}/{resource}"
