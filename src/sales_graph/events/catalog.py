"""Every event sales-graph publishes: its type, its topic and what its key is.

The topic names are settings (``SALES_GRAPH_EVENTS__TOPICS__*``); this table maps each event
type to the setting that names its topic. The payload of each type is described by
``schema/events/<type>.schema.json`` and ``schema/asyncapi.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sales_graph.settings import TopicSettings

SOURCE = "sales-system"
VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    # The attribute of TopicSettings naming the topic.
    topic: str
    # What the message key (the aggregate id, for per-entity order) is.
    aggregate: str
    summary: str

    def topic_name(self, topics: TopicSettings) -> str:
        return str(getattr(topics, self.topic))


def _types(*types: EventType) -> dict[str, EventType]:
    return {t.name: t for t in types}


EVENTS: dict[str, EventType] = _types(
    EventType(
        "lead.created", "leads", "lead", "A lead was created (by a user, a partner or Marketing)."
    ),
    EventType("lead.qualified", "leads", "lead", "A lead's status became qualified."),
    EventType("lead.assigned", "leads", "lead", "A lead was assigned a territory and a rep."),
    EventType(
        "lead.converted",
        "leads",
        "lead",
        "A lead was converted to an account, contact and opportunity.",
    ),
    EventType("opportunity.created", "opportunities", "opportunity", "An opportunity was created."),
    EventType(
        "opportunity.updated",
        "opportunities",
        "opportunity",
        "An opportunity's name, amount, close date, products or owner changed"
        " (an extension of the spec's list).",
    ),
    EventType(
        "opportunity.stage_changed",
        "opportunities",
        "opportunity",
        "An opportunity moved to another stage.",
    ),
    EventType("opportunity.won", "opportunities", "opportunity", "An opportunity was closed won."),
    EventType(
        "opportunity.lost", "opportunities", "opportunity", "An opportunity was closed lost."
    ),
    EventType("territory.created", "territories", "territory", "A territory was created."),
    EventType(
        "territory.updated",
        "territories",
        "territory",
        "A territory's name, owner, members, rules or activity changed.",
    ),
    EventType(
        "territory.assignment_changed",
        "territories",
        "territory",
        "A manager or admin assigned a lead to a territory (and rep) by hand.",
    ),
    EventType("quota.set", "quotas", "quota", "A quota was set."),
    EventType("quota.updated", "quotas", "quota", "A quota's amount changed."),
    EventType(
        "quota.attained",
        "quotas",
        "quota",
        "Closed-won revenue reached a quota for the first time.",
    ),
    EventType(
        "opportunity.closed_won",
        "billing",
        "opportunity",
        "For Billing: a deal closed, with its contract terms (the spec's Billing schema).",
    ),
    EventType(
        "onboarding.trigger",
        "operations",
        "opportunity",
        "For Operations: onboard the customer of a closed deal (the spec's Operations schema).",
    ),
    EventType(
        "forecast.updated",
        "forecasts",
        "forecast",
        "For Finance: a territory's forecast for a period was (re)generated"
        " (the spec's Finance schema).",
    ),
)


def event_type(name: str) -> EventType:
    return EVENTS[name]
