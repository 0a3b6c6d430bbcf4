"""SyncLeadFromMarketing: tell Marketing where the lead stands and take back its view of it."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.connectors.marketing import LeadSync, LeadSyncUpdate, MarketingClient
from sales_graph.db.models import Lead
from sales_graph.db.repositories.rows import save
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import UpstreamUnavailable
from sales_graph.services.leads import editable_lead
from sales_graph.timeutil import utcnow


async def sync_lead_from_marketing(
    session: AsyncSession,
    scope: AccessScope,
    lead_id: uuid.UUID,
    marketing: MarketingClient | None,
) -> Lead:
    """POSTs the lead's status, owner and opportunity to Marketing, then stores what Marketing
    returns: its score, campaign and attribution.

    The permission check comes first (NOT_FOUND, FORBIDDEN), so nobody syncs a lead they may not
    change. The POST carries an Idempotency-Key (the lead and its version), which makes it safe
    to retry. When Marketing fails, the error (UPSTREAM_*) rolls the command back.
    """
    lead = await editable_lead(session, scope, lead_id)
    if marketing is None:
        raise UpstreamUnavailable(
            "Marketing is not configured",
            details={"system": "marketing", "reason": "not_configured"},
        )
    update = LeadSyncUpdate(
        status=lead.status,
        owner_id=str(lead.assigned_to_id) if lead.assigned_to_id else None,
        opportunity_id=str(lead.opportunity_id) if lead.opportunity_id else None,
    )
    synced = await marketing.sync_lead(
        str(lead.id), update, idempotency_key=f"lead-sync-{lead.id}-{lead.version}"
    )
    _apply(lead, synced)
    await save(session, lead)
    return lead


def _apply(lead: Lead, synced: LeadSync) -> None:
    lead.score = synced.score
    if synced.campaign_id and len(synced.campaign_id) <= 64:
        lead.campaign_id = synced.campaign_id
    if synced.attribution.touches:
        lead.attribution = synced.attribution.model_dump()
    lead.updated_at = utcnow()
    lead.version += 1
