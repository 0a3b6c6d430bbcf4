"""Every event sales-graph publishes: its type, its topic, what its key is and its payload.

The topic names are settings (``SALES_GRAPH_EVENTS__TOPICS__*``); this table maps each event
type to the setting that names its topic, and to the model of its payload
(``events/models.py``), from which ``schema/events/<type>.schema.json`` and
``schema/asyncapi.yaml`` are generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sales_graph.events import models as m
from sales_graph.settings import TopicSettings

Source = Literal["sales-system"]
Version = Literal["1.0"]
SOURCE: Final[Source] = "sales-system"
VERSION: Final[Version] = "1.0"


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    # The attribute of TopicSettings naming the topic.
    topic: str
    # What the message key (the aggregate id, for per-entity order) is.
    aggregate: str
    payload: type[m.EventPayload]
    summary: str

    def topic_name(self, topics: TopicSettings) -> str:
        return str(getattr(topics, self.topic))


def _types(*types: EventType) -> dict[str, EventType]:
    return {t.name: t for t in types}


EVENTS: dict[str, EventType] = _types(
    EventType(
        "lead.created",
        "leads",
        "lead",
        m.LeadPayload,
        "A lead was created (by a user, a partner or Marketing).",
    ),
    EventType(
        "lead.qualified", "leads", "lead", m.LeadPayload, "A lead's status became qualified."
    ),
    EventType(
        "lead.assigned",
        "leads",
        "lead",
        m.LeadAssigned,
        "A lead was assigned a territory and a rep.",
    ),
    EventType(
        "lead.converted",
        "leads",
        "lead",
        m.LeadConverted,
        "A lead was converted to an account, contact and opportunity.",
    ),
    EventType(
        "opportunity.created",
        "opportunities",
        "opportunity",
        m.OpportunityPayload,
        "An opportunity was created.",
    ),
    EventType(
        "opportunity.updated",
        "opportunities",
        "opportunity",
        m.OpportunityUpdated,
        "An opportunity's name, amount, close date, products or owner changed"
        " (an extension of the spec's list).",
    ),
    EventType(
        "opportunity.stage_changed",
        "opportunities",
        "opportunity",
        m.OpportunityStageChanged,
        "An opportunity moved to another stage.",
    ),
    EventType(
        "opportunity.won",
        "opportunities",
        "opportunity",
        m.OpportunityWon,
        "An opportunity was closed won.",
    ),
    EventType(
        "opportunity.lost",
        "opportunities",
        "opportunity",
        m.OpportunityLost,
        "An opportunity was closed lost.",
    ),
    EventType(
        "territory.created",
        "territories",
        "territory",
        m.TerritoryPayload,
        "A territory was created.",
    ),
    EventType(
        "territory.updated",
        "territories",
        "territory",
        m.TerritoryPayload,
        "A territory's name, owner, members, rules or activity changed.",
    ),
    EventType(
        "territory.assignment_changed",
        "territories",
        "territory",
        m.TerritoryAssignmentChanged,
        "A manager or admin assigned a lead to a territory (and rep) by hand.",
    ),
    EventType("quota.set", "quotas", "quota", m.QuotaSet, "A quota was set."),
    EventType("quota.updated", "quotas", "quota", m.QuotaUpdated, "A quota's amount changed."),
    EventType(
        "quota.attained",
        "quotas",
        "quota",
        m.QuotaAttained,
        "Closed-won revenue reached a quota for the first time.",
    ),
    EventType(
        "opportunity.closed_won",
        "billing",
        "opportunity",
        m.OpportunityClosedWon,
        "For Billing: a deal closed, with its contract terms (the spec's Billing schema).",
    ),
    EventType(
        "onboarding.trigger",
        "operations",
        "opportunity",
        m.OnboardingTrigger,
        "For Operations: onboard the customer of a closed deal (the spec's Operations schema).",
    ),
    EventType(
        "forecast.updated",
        "forecasts",
        "forecast",
        m.ForecastUpdated,
        "For Finance: a territory's forecast for a period was (re)generated"
        " (the spec's Finance schema).",
    ),
    EventType(
        "report.revenue_forecast",
        "forecasts",
        "report",
        m.RevenueForecastReport,
        "For Finance: the revenue forecast of a closed month per territory and type"
        " (the scheduled sync; a new version when a figure changed).",
    ),
    EventType(
        "report.pipeline",
        "forecasts",
        "report",
        m.PipelineReport,
        "For Finance: the pipeline report of a closed quarter by territory, owner and stage.",
    ),
    EventType(
        "report.territory_performance",
        "forecasts",
        "report",
        m.TerritoryPerformanceReport,
        "For Finance: quota, closed-won, forecast, attainment and coverage of each territory"
        " for a closed quarter.",
    ),
    EventType(
        "webhook.endpoint_disabled",
        "webhooks",
        "endpoint",
        m.WebhookEndpointDisabled,
        "A partner's webhook endpoint was disabled after a delivery failed every attempt.",
    ),
)


def event_type(name: str) -> EventType:
    return EVENTS[name]
