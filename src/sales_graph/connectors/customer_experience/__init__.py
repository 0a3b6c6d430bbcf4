"""The Customer Experience connector: the only code that talks to that system."""

from __future__ import annotations

from sales_graph.connectors.customer_experience.client import CustomerExperienceClient
from sales_graph.connectors.customer_experience.models import (
    AccountHealth,
    AccountNps,
    AccountTickets,
    AccountUsage,
    CustomerTicket,
    FeatureAdoption,
    HealthDriver,
)

__all__ = [
    "AccountHealth",
    "AccountNps",
    "AccountTickets",
    "AccountUsage",
    "CustomerExperienceClient",
    "CustomerTicket",
    "FeatureAdoption",
    "HealthDriver",
]
