"""The worker's consumers: which topic each reads and why. Data only.

The worker wires each to its handler (``worker/launch.py``); the AsyncAPI document
(``events/asyncapi.py``) describes each as a receive operation. A consumer's name is its
consumer group suffix (``<CONSUMER_GROUP>.<name>``), its inbox key and its dead letters'
``dlq_consumer``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    # The attribute of TopicSettings naming the topic it reads.
    topic: str
    purpose: str
    # Also subscribed to the embedded footprint's in-process bus (inbound topics are not).
    in_process: bool = True


MARKETING_LEADS = Subscription(
    "marketing-leads",
    "marketing_leads",
    "Validates each message against marketing.lead.qualified.schema.json, then creates or"
    " updates the lead (status qualified), once per event_id.",
    in_process=False,
)
BILLING_CONTRACTS = Subscription(
    "billing-contracts",
    "billing",
    "Creates the Billing contract of each closed-won deal (POST /contracts, Idempotency-Key ="
    " the opportunity id).",
)
FORECAST_REFRESH = Subscription(
    "forecast-refresh",
    "opportunities",
    "Recalculates the forecasts of the territory and period an opportunity change affects"
    " (coalesced), published as forecast.updated.",
)

# Outbound webhooks: every topic we publish is read by a consumer of its own that turns each
# event into deliveries to the partner endpoints that asked for its type (one inbox for all:
# WEBHOOK_INBOX). The dispatcher then sends them (docs/real-time.md, "Outbound webhooks").
WEBHOOK_INBOX = "webhooks"
PUBLISHED_TOPICS: tuple[str, ...] = (
    "leads",
    "opportunities",
    "territories",
    "quotas",
    "billing",
    "operations",
    "forecasts",
    "webhooks",
)
WEBHOOK_FAN_OUT: tuple[Subscription, ...] = tuple(
    Subscription(
        f"webhooks-{topic}",
        topic,
        "Records a delivery of each event for every enabled partner webhook endpoint that"
        " subscribed to its type (once per event_id); the dispatcher sends them, signed.",
    )
    for topic in PUBLISHED_TOPICS
)

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    MARKETING_LEADS,
    BILLING_CONTRACTS,
    FORECAST_REFRESH,
    *WEBHOOK_FAN_OUT,
)
