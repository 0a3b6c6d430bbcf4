"""The Marketing connector: the only code that talks to the Marketing system."""

from __future__ import annotations

from sales_graph.connectors.marketing.client import MarketingClient
from sales_graph.connectors.marketing.models import (
    Attribution,
    Campaign,
    Firmographic,
    LeadProfile,
    LeadScore,
    LeadSync,
    LeadSyncUpdate,
    ScoreFactor,
)

__all__ = [
    "Attribution",
    "Campaign",
    "Firmographic",
    "LeadProfile",
    "LeadScore",
    "LeadSync",
    "LeadSyncUpdate",
    "MarketingClient",
    "ScoreFactor",
]
