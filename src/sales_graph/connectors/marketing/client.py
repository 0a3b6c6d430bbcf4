"""The Marketing system: campaign attribution, lead scores, lead sync."""

from __future__ import annotations

from sales_graph.connectors.marketing.models import Campaign, LeadScore, LeadSync, LeadSyncUpdate
from sales_graph.connectors.system_client import SystemClient
from sales_graph.connectors.wire import segment


class MarketingClient(SystemClient):
    SYSTEM = "marketing"
    DEFAULT_TTLS = {"campaign": 3600.0, "lead_score": 300.0}

    async def campaign(self, campaign_id: str) -> Campaign:
        path = f"/api/v1/campaigns/{segment(campaign_id)}"
        return await self.upstream.read("campaign", path, Campaign)

    async def lead_score(self, lead_id: str) -> LeadScore:
        path = f"/api/v1/leads/{segment(lead_id)}/score"
        return await self.upstream.read("lead_score", path, LeadScore)

    async def sync_lead(
        self,
        lead_id: str,
        update: LeadSyncUpdate | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> LeadSync:
        """A POST: repeated on failure only when ``idempotency_key`` is given."""
        return await self.upstream.request(
            "POST",
            f"/api/v1/leads/{segment(lead_id)}/sync",
            LeadSync,
            json=update or LeadSyncUpdate(),
            idempotency_key=idempotency_key,
        )
