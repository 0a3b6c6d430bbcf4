"""The Support connector: the only code that talks to the Support system."""

from __future__ import annotations

from sales_graph.connectors.support.client import SupportClient
from sales_graph.connectors.support.models import (
    CriticalTicket,
    CriticalTickets,
    Escalation,
    Escalations,
    FeatureRequest,
    FeatureRequests,
)

__all__ = [
    "CriticalTicket",
    "CriticalTickets",
    "Escalation",
    "Escalations",
    "FeatureRequest",
    "FeatureRequests",
    "SupportClient",
]
