"""The event contract: JSON Schema (2020-12) of the envelope, of every payload we publish and of
Marketing's inbound ``lead.qualified``, the AsyncAPI 3 document, and validation against them.

This module is the one source of truth: ``sales-graph export-schema`` writes
``schema/events/*.schema.json`` and ``schema/asyncapi.yaml`` from it
(:func:`write_event_contract`), and a test fails when the committed files are stale.

Policy on unknown fields: what *we* publish is described exactly (``additionalProperties:
false``), so that a payload that drifts from its schema fails our tests; a new field is a
contract change that comes with regenerated schemas. Consumers of our events should still
ignore fields they do not know. What *we consume* (Marketing's ``lead.qualified``) is validated
strictly where the spec is clear (ids, email, score) and allows additional properties, so that
Marketing can add fields without breaking us (forward compatibility).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import email_validator
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from sales_graph.domain import ForecastCategory, ForecastType, LeadStatus, OpportunityStage
from sales_graph.events.catalog import EVENTS, SOURCE, VERSION, EventType
from sales_graph.settings import EventSettings, TopicSettings

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:sales-graph:schema:events:"
ENVELOPE = "envelope"
INBOUND_LEAD_QUALIFIED = "marketing.lead.qualified"

# Values the services enumerate (sales_graph.services.*); tests check they agree.
ASSIGNMENT_METHODS = ("rules", "round_robin", "manual")
PAYMENT_TERMS = ("due_on_receipt", "net_15", "net_30", "net_45", "net_60")
BILLING_FREQUENCIES = ("monthly", "quarterly", "annually")
PRIORITIES = ("low", "medium", "high")
PERIOD_PATTERN = r"^(?:Q([1-4])_(\d{4})|M(0[1-9]|1[0-2])_(\d{4})|FY(\d{4}))$"
# Tracked by opportunity.updated (services.opportunities._TRACKED, plus products).
TRACKED_CHANGES = ("name", "amount", "expected_close_date", "owner_id", "deal_score", "products")

# The topics the worker consumes (events.runtime.subscriptions): setting -> consumer name.
CONSUMED_TOPICS = {
    "marketing_leads": "marketing-leads",
    "billing": "billing-contracts",
    "opportunities": "forecast-refresh",
}
CONSUMER_PURPOSES = {
    "marketing-leads": "Validates each message against marketing.lead.qualified.schema.json,"
    " then creates or updates the lead (status qualified), once per event_id.",
    "billing-contracts": "Creates the Billing contract of each closed-won deal (POST"
    " /contracts, Idempotency-Key = the opportunity id).",
    "forecast-refresh": "Recalculates the forecasts of the territory and period an"
    " opportunity change affects (coalesced), published as forecast.updated.",
}
DEAD_LETTER_HEADERS = ("dlq_error", "dlq_consumer", "dlq_source", "dlq_at")
KAFKA_BINDING_VERSION = "0.5.0"


# --- building blocks --------------------------------------------------------------------------


def _described(schema: Schema, description: str | None) -> Schema:
    return {"description": description, **schema} if description else schema


def _nullable(schema: Schema, nullable: bool) -> Schema:
    if not nullable:
        return schema
    result = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


def _string(
    description: str | None = None,
    *,
    nullable: bool = False,
    max_length: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    format: str | None = None,
) -> Schema:
    schema: Schema = {"type": "string"}
    if format:
        schema["format"] = format
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if pattern:
        schema["pattern"] = pattern
    return _described(_nullable(schema, nullable), description)


def _uuid(description: str | None = None, *, nullable: bool = False) -> Schema:
    return _string(description, nullable=nullable, format="uuid")


def _date(description: str | None = None, *, nullable: bool = False) -> Schema:
    return _string(description, nullable=nullable, format="date")


def _time(description: str | None = None, *, nullable: bool = False) -> Schema:
    return _string(description, nullable=nullable, format="date-time")


def _email(description: str | None = None, *, nullable: bool = False) -> Schema:
    return _string(description, nullable=nullable, format="email")


def _number(
    description: str | None = None,
    *,
    nullable: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Schema:
    schema: Schema = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(_nullable(schema, nullable), description)


def _money(description: str | None = None, *, nullable: bool = False) -> Schema:
    return _number(description, nullable=nullable, minimum=0)


def _integer(
    description: str | None = None,
    *,
    nullable: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(_nullable(schema, nullable), description)


def _enum(
    values: Iterable[str] | type[StrEnum], description: str | None = None, *, nullable: bool = False
) -> Schema:
    schema: Schema = {"type": "string", "enum": [str(v) for v in values]}
    return _described(_nullable(schema, nullable), description)


def _const(value: str, description: str | None = None) -> Schema:
    return _described({"type": "string", "const": value}, description)


def _boolean(description: str | None = None) -> Schema:
    return _described({"type": "boolean"}, description)


def _array(items: Schema, description: str | None = None, **keywords: Any) -> Schema:
    return _described({"type": "array", "items": items, **keywords}, description)


def _object(
    properties: Mapping[str, Schema],
    description: str | None = None,
    *,
    required: Sequence[str] | None = None,
    additional: bool = False,
    nullable: bool = False,
) -> Schema:
    """An object; every property is required unless ``required`` names fewer."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
        "additionalProperties": additional,
    }
    return _described(_nullable(schema, nullable), description)


# --- payloads we publish (sales_graph.events.payloads) ----------------------------------------


def _lead() -> dict[str, Schema]:
    """payloads.lead: lead.created, lead.qualified."""
    return {
        "lead_id": _uuid("The lead."),
        "status": _enum(LeadStatus),
        "first_name": _string(nullable=True),
        "last_name": _string(nullable=True),
        "email": _email(),
        "phone": _string(nullable=True),
        "company": _string(nullable=True),
        "title": _string(nullable=True),
        "industry": _string(nullable=True),
        "employee_count": _integer(nullable=True, minimum=0),
        "annual_revenue": _money(nullable=True),
        "source": _string("Where the lead came from (webinar, partner, ...).", nullable=True),
        "score": _integer("Marketing's lead score.", nullable=True, minimum=0, maximum=100),
        "campaign_id": _string("Marketing's campaign id.", nullable=True),
        "territory_id": _uuid("The assigned territory.", nullable=True),
        "assigned_to": _uuid("The assigned rep (a user id).", nullable=True),
        "created_at": _time(),
        "updated_at": _time(),
    }


def _lead_assigned() -> dict[str, Schema]:
    return {
        "lead_id": _uuid("The lead."),
        "territory_id": _uuid("The territory now.", nullable=True),
        "assigned_to": _uuid("The rep now (a user id).", nullable=True),
        "previous_territory_id": _uuid(nullable=True),
        "previous_assigned_to": _uuid(nullable=True),
        "method": _enum(
            ASSIGNMENT_METHODS,
            "rules: a territory's rules matched and no rep had capacity; round_robin: rules"
            " and a rep by round robin; manual: a manager or admin assigned it by hand.",
        ),
        "reason": _string(nullable=True),
        "assigned_at": _time(),
    }


def _lead_converted() -> dict[str, Schema]:
    return {
        "lead_id": _uuid("The lead."),
        "account_id": _uuid("The account found or created."),
        "contact_id": _uuid("The primary contact created from the lead."),
        "opportunity_id": _uuid("The opportunity created, if any.", nullable=True),
        "converted_at": _time(),
    }


def _opportunity(stage: Schema | None = None) -> dict[str, Schema]:
    """payloads.opportunity: opportunity.created, and the start of the other shapes."""
    return {
        "opportunity_id": _uuid("The opportunity."),
        "name": _string(),
        "account_id": _uuid(),
        "lead_id": _uuid("The lead it was converted from.", nullable=True),
        "owner_id": _uuid("The owning rep (a user id)."),
        "territory_id": _uuid(nullable=True),
        "stage": stage or _enum(OpportunityStage),
        "probability": _integer("Win probability, percent.", nullable=True, minimum=0, maximum=100),
        "amount": _money(nullable=True),
        "expected_close_date": _date(nullable=True),
        "forecast_category": _enum(ForecastCategory),
        "deal_score": _integer(
            "Predicted probability of winning, percent.", nullable=True, minimum=0, maximum=100
        ),
        "version": _integer("Optimistic-concurrency version; +1 on every write.", minimum=1),
        "updated_at": _time(),
    }


def _change(value: Schema, description: str) -> Schema:
    return _object({"from": value, "to": value}, description)


def _opportunity_changed() -> dict[str, Schema]:
    changes = {
        "name": _change(_string(), "The name changed."),
        "amount": _change(_money(nullable=True), "The amount changed."),
        "expected_close_date": _change(_date(nullable=True), "The expected close date changed."),
        "owner_id": _change(_uuid(), "The opportunity was reassigned."),
        "deal_score": _change(
            _integer(nullable=True, minimum=0, maximum=100),
            "The deal score changed (only ever together with another change).",
        ),
        "products": _change(
            {"type": "null"},
            "The product lines were replaced (from and to are null; the lines are not in"
            " this event).",
        ),
    }
    assert tuple(changes) == TRACKED_CHANGES
    return {
        **_opportunity(),
        "changes": {
            **_object(
                changes,
                "What changed: {field: {from, to}} for the fields that changed.",
                required=(),
            ),
            "minProperties": 1,
        },
    }


def _stage_changed() -> dict[str, Schema]:
    return {
        **_opportunity(),
        "previous_stage": _enum(OpportunityStage),
        "previous_probability": _integer(nullable=True, minimum=0, maximum=100),
        "notes": _string("The note given with the stage change.", nullable=True),
        "changed_at": _time(),
    }


def _closed(stage: OpportunityStage) -> dict[str, Schema]:
    won = stage is OpportunityStage.CLOSED_WON
    return {
        **_opportunity(_const(stage.value)),
        "closed_at": _time(),
        "loss_reason": (
            _string(nullable=True) if won else _string("Why the deal was lost.", min_length=1)
        ),
    }


def _closed_won() -> dict[str, Schema]:
    """The spec's Billing schema (payloads.closed_won)."""
    product = _object(
        {
            "product_id": _string("The product (catalog id, e.g. prod_123)."),
            "quantity": _integer(minimum=1),
            "unit_price": _money(),
            "discount": _number("Fraction off the unit price (0.10 = 10%).", minimum=0, maximum=1),
        }
    )
    owner = _object({"user_id": _uuid(), "name": _string(), "email": _email()}, "The owning rep.")
    return {
        "opportunity_id": _uuid(),
        "account_id": _uuid(),
        "amount": _money(
            "The deal amount (the opportunity's amount, else the sum of its product lines)."
        ),
        "contract_term": _integer("Contract term in months.", minimum=1),
        "start_date": _date("Contract start."),
        "payment_terms": _enum(PAYMENT_TERMS),
        "billing_frequency": _enum(BILLING_FREQUENCIES),
        "products": _array(product, minItems=1),
        "owner": owner,
    }


def _onboarding() -> dict[str, Schema]:
    """The spec's Operations schema (payloads.onboarding)."""
    product = _object(
        {
            "product_id": _string(),
            "product_name": _string("The product's name (its id when it has none)."),
            "quantity": _integer(minimum=1),
            "configuration": _object(
                {}, "Provisioning configuration, free-form.", required=(), additional=True
            ),
        }
    )
    contact = _object(
        {
            "type": _string("The contact's role, e.g. primary."),
            "name": _string(),
            "email": _email(nullable=True),
            "phone": _string(nullable=True),
        }
    )
    return {
        "opportunity_id": _uuid(),
        "account_id": _uuid(),
        "account_name": _string(),
        "contract_start_date": _date(),
        "products": _array(product, minItems=1),
        "contacts": _array(contact, "The account's contacts, the primary one first."),
        "special_requirements": _string(nullable=True),
        "priority": _enum(
            PRIORITIES,
            "The opportunity's own priority, else by amount: high from 100,000, medium from"
            " 25,000, else low.",
        ),
    }


def _territory() -> dict[str, Schema]:
    rule = _object(
        {
            "country": _string("ISO 3166-1 alpha-2.", nullable=True),
            "region": _string(nullable=True),
            "industry": _string(nullable=True),
            "employee_count_min": _integer(nullable=True),
            "employee_count_max": _integer(nullable=True),
            "annual_revenue_min": _money(nullable=True),
            "annual_revenue_max": _money(nullable=True),
        },
        "An assignment rule; null matches anything.",
    )
    return {
        "territory_id": _uuid("The territory."),
        "name": _string(),
        "description": _string(nullable=True),
        "owner_id": _uuid("The owning manager (a user id).", nullable=True),
        "is_active": _boolean(),
        "member_ids": _array(_uuid(), "The reps (user ids).", uniqueItems=True),
        "rules": _array(rule, "The rules, in the order they are tried."),
        "version": _integer(minimum=1),
    }


def _assignment_changed() -> dict[str, Schema]:
    return {
        "territory_id": _uuid("The territory now.", nullable=True),
        "lead_id": _uuid("The lead."),
        "assigned_to": _uuid("The rep now (a user id).", nullable=True),
        "previous_territory_id": _uuid(nullable=True),
        "previous_assigned_to": _uuid(nullable=True),
        "reason": _string(nullable=True),
        "assigned_at": _time(),
    }


def _period(description: str | None = "Q1_2026, M03_2026 or FY2026.") -> Schema:
    return _string(description, pattern=PERIOD_PATTERN)


def _quota(previous_amount: Schema) -> dict[str, Schema]:
    return {
        "quota_id": _uuid("The quota."),
        "period": _period(),
        "user_id": _uuid("The rep, for a user's quota.", nullable=True),
        "territory_id": _uuid("The territory, for a territory's quota.", nullable=True),
        "amount": _money(),
        "previous_amount": previous_amount,
        "version": _integer(minimum=1),
    }


def _quota_attained() -> dict[str, Schema]:
    return {
        "quota_id": _uuid("The quota."),
        "period": _period(),
        "user_id": _uuid(nullable=True),
        "territory_id": _uuid(nullable=True),
        "amount": _money(),
        "attained_amount": _money("Closed-won revenue in the period."),
        "attainment": _number("attained_amount / amount, 4 decimals.", minimum=0),
        "attained_at": _time(),
    }


def _forecast_updated() -> dict[str, Schema]:
    """The spec's Finance schema."""
    line = _object(
        {
            "stage": _enum(OpportunityStage),
            "count": _integer(minimum=0),
            "total_amount": _money(),
            "weighted_amount": _money("Sum of amount x probability."),
        }
    )
    return {
        "period": _period(),
        "territory_id": _uuid(),
        "forecast_type": _enum(
            ForecastType, "Cumulative: commit includes closed; best_case includes commit."
        ),
        "amount": _money(),
        "probability_weighted_amount": _money(),
        "breakdown": _array(line, "By stage, in pipeline order."),
        "generated_at": _time(),
    }


def _payload_properties() -> dict[str, dict[str, Schema]]:
    return {
        "lead.created": _lead(),
        "lead.qualified": _lead(),
        "lead.assigned": _lead_assigned(),
        "lead.converted": _lead_converted(),
        "opportunity.created": _opportunity(),
        "opportunity.updated": _opportunity_changed(),
        "opportunity.stage_changed": _stage_changed(),
        "opportunity.won": _closed(OpportunityStage.CLOSED_WON),
        "opportunity.lost": _closed(OpportunityStage.CLOSED_LOST),
        "territory.created": _territory(),
        "territory.updated": _territory(),
        "territory.assignment_changed": _assignment_changed(),
        "quota.set": _quota(_described({"type": "null"}, "Always null for a new quota.")),
        "quota.updated": _quota(_money("The amount before the update.")),
        "quota.attained": _quota_attained(),
        "opportunity.closed_won": _closed_won(),
        "onboarding.trigger": _onboarding(),
        "forecast.updated": _forecast_updated(),
    }


def schema_id(name: str) -> str:
    return f"{ID_PREFIX}{name}:{VERSION}"


def _document(name: str, title: str, body: Schema) -> Schema:
    return {"$schema": DIALECT, "$id": schema_id(name), "title": title, **body}


@cache
def payload_schemas() -> dict[str, Schema]:
    """The payload schema of every event type of the catalog, in catalog order."""
    properties = _payload_properties()
    missing = EVENTS.keys() ^ properties.keys()
    if missing:
        raise RuntimeError(f"the catalog and the contract disagree on {sorted(missing)}")
    return {
        name: _document(
            name,
            f"{name} payload",
            _object(properties[name], f"{kind.summary} Topic setting: {kind.topic}."),
        )
        for name, kind in EVENTS.items()
    }


@cache
def envelope_schema() -> Schema:
    return _document(
        ENVELOPE,
        "Event envelope",
        _object(
            {
                "event_id": _uuid("Unique per event; consumers deduplicate by it."),
                "event_type": _enum(EVENTS, "The event type; names the payload schema."),
                "timestamp": _time("When the change committed (RFC 3339, UTC)."),
                "source": _const(SOURCE),
                "version": _const(VERSION, "The envelope and payload schema version."),
                "correlation_id": _string(
                    "The request's X-Correlation-ID (else its request id), or the consumed"
                    " event's correlation id."
                ),
                "user_id": _uuid("The acting user; null for the system.", nullable=True),
                "payload": _described(
                    {"type": "object"}, "The event's data: <event_type>.schema.json."
                ),
            },
            "The envelope of every event sales-graph publishes (the spec's Event Message Format).",
        ),
    )


@cache
def inbound_lead_qualified_schema() -> Schema:
    """Marketing's lead.qualified (the spec's Marketing schema), as the consumer accepts it."""
    name = _string(nullable=True, max_length=100)
    profile = _object(
        {
            "first_name": name,
            "last_name": name,
            "email": _string(format="email", max_length=254),
            "company": _string(nullable=True, max_length=200),
            "title": _string(nullable=True, max_length=200),
            "phone": _string(nullable=True, max_length=40),
        },
        "Who the lead is; email is required (one lead per address).",
        required=("email",),
        additional=True,
    )
    firmographic = _object(
        {
            "industry": _string(nullable=True, max_length=100),
            "employee_count": _integer(nullable=True, minimum=0, maximum=10_000_000),
            # NUMERIC(18, 2) with 16 digits: below 10^14.
            "annual_revenue": _number(nullable=True, minimum=0) | {"exclusiveMaximum": 10**14},
        },
        required=(),
        additional=True,
        nullable=True,
    )
    attribution = _object(
        {
            "first_touch": _string(nullable=True, max_length=100),
            "last_touch": _string(nullable=True, max_length=100),
            "touches": _array(_string(max_length=100), maxItems=50),
        },
        required=(),
        additional=True,
        nullable=True,
    )
    payload = _object(
        {
            "lead_id": _uuid("Marketing's id of the lead; sales-graph keeps it as the lead id."),
            "source": _string(nullable=True, max_length=100),
            "score": _integer(nullable=True, minimum=0, maximum=100),
            "campaign_id": _string(nullable=True, max_length=64),
            "attribution": attribution,
            "profile": profile,
            "firmographic": firmographic,
        },
        required=("lead_id", "profile"),
        additional=True,
    )
    return _document(
        INBOUND_LEAD_QUALIFIED,
        "Marketing lead.qualified (inbound)",
        _object(
            {
                "event_id": _string(
                    "Optional; when present the consumer processes each event_id once.",
                    min_length=1,
                    max_length=100,
                ),
                "event_type": _const("lead.qualified"),
                "timestamp": _time(),
                "payload": payload,
            },
            "Marketing's qualified lead, consumed from the marketing_leads topic setting and"
            " validated against this schema; an invalid message goes to <topic>.dlq."
            " Unknown fields are allowed at every level (forward compatibility) and ignored.",
            required=("event_type", "timestamp", "payload"),
            additional=True,
        ),
    )


def schema_files() -> dict[str, Schema]:
    """File name (in schema/events/) -> schema."""
    files = {f"{ENVELOPE}.schema.json": envelope_schema()}
    files.update({f"{name}.schema.json": s for name, s in payload_schemas().items()})
    files[f"{INBOUND_LEAD_QUALIFIED}.schema.json"] = inbound_lead_qualified_schema()
    return files


# --- AsyncAPI 3 -------------------------------------------------------------------------------


def _setting(attribute: str) -> str:
    return f"SALES_GRAPH_EVENTS__TOPICS__{attribute.upper()}"


def _component(schema: Schema) -> Schema:
    """A JSON Schema document as an AsyncAPI component (no $schema/$id: it is inlined)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def _key_description(kind: EventType) -> str:
    if kind.name == "territory.assignment_changed":
        return "The territory's id (the previous territory's when none now; else the lead's)."
    if kind.aggregate == "forecast":
        return "territory_id:period, e.g. 7f0c...:Q1_2026."
    return f"The {kind.aggregate}'s id (one {kind.aggregate}'s events in order)."


def _message(kind: EventType) -> Schema:
    key = _key_description(kind)
    key_schema = _string(key) if kind.aggregate == "forecast" else _uuid(key)
    return {
        "name": kind.name,
        "title": kind.name,
        "summary": kind.summary,
        "contentType": "application/json",
        "headers": _object(
            {
                "event_id": _uuid("The envelope's event_id."),
                "event_type": _const(kind.name),
                "correlation_id": _string("The envelope's correlation_id."),
            },
            "Kafka headers (UTF-8 values).",
            additional=True,
        ),
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE}"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": _const(kind.name),
                        "payload": {"$ref": f"#/components/schemas/{kind.name}"},
                    },
                },
            ]
        },
        "correlationId": {
            "description": "The correlation id of the request or event that caused this one.",
            "location": "$message.header#/correlation_id",
        },
        "bindings": {"kafka": {"key": key_schema, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _inbound_message() -> Schema:
    return {
        "name": "lead.qualified",
        "title": "Marketing lead.qualified",
        "summary": "Marketing qualified a lead: sales-graph creates or updates it, once per"
        " event_id, with status qualified.",
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{INBOUND_LEAD_QUALIFIED}"},
    }


def _dead_letter_message() -> Schema:
    headers: dict[str, Schema] = {
        "dlq_error": _string("Why it failed (at most 2000 characters)."),
        "dlq_consumer": _string("The consumer that gave up."),
        "dlq_source": _string("topic/partition/offset of the original message."),
        "dlq_at": _time("When it was dead-lettered."),
    }
    return {
        "name": "dead_letter",
        "title": "Dead letter",
        "summary": "A consumed message that was invalid or kept failing, copied unchanged.",
        "description": "The original key, value (byte for byte, usually an event envelope) and"
        " headers, plus the dlq_* headers.",
        "contentType": "application/octet-stream",
        "headers": _object(
            headers,
            "The original message's headers plus these.",
            required=DEAD_LETTER_HEADERS,
            additional=True,
        ),
        "payload": {"description": "The original message value, unchanged."},
        "bindings": {
            "kafka": {
                "key": _string("The original message's key."),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(address: str, description: str, messages: Schema) -> Schema:
    partitions = EventSettings().topic_partitions
    return {
        "address": address,
        "title": address,
        "description": description,
        "messages": messages,
        "bindings": {
            "kafka": {
                "topic": address,
                "partitions": partitions,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _ref(*parts: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


@cache
def asyncapi_document() -> Schema:
    """The AsyncAPI 3.0.0 document, with the default topic names (they are settings)."""
    topics = TopicSettings().model_dump()
    settings = EventSettings()
    by_topic: dict[str, list[EventType]] = {}
    for kind in EVENTS.values():
        by_topic.setdefault(kind.topic, []).append(kind)
    unknown = by_topic.keys() - topics.keys()
    if unknown:
        raise RuntimeError(f"events on topics that are not settings: {sorted(unknown)}")
    channels: Schema = {}
    operations: Schema = {}
    for attribute, address in topics.items():
        kinds = by_topic.get(attribute, [])
        setting = f"Topic setting {_setting(attribute)} (default {address})."
        if attribute == "marketing_leads":
            messages: Schema = {"lead.qualified": _ref("components", "messages", "marketing")}
            description = f"Inbound: Marketing's lead.qualified events. {setting}"
        else:
            messages = {k.name: _ref("components", "messages", k.name) for k in kinds}
            description = f"Events: {', '.join(k.name for k in kinds)}. {setting}"
        channels[attribute] = _channel(address, description, messages)
        channels[f"{attribute}_dlq"] = _channel(
            f"{address}.dlq",
            f"Dead letters of {address}: what a consumer of it could not process."
            f" Created with {address} by the worker.",
            {"dead_letter": _ref("components", "messages", "dead_letter")},
        )
        if kinds:
            operations[f"publish_{attribute}"] = {
                "action": "send",
                "channel": _ref("channels", attribute),
                "title": f"Publish to {address}",
                "summary": "The outbox relay publishes each event once committed (at least"
                " once; consumers deduplicate by event_id), in order per key.",
                "messages": [_ref("channels", attribute, "messages", k.name) for k in kinds],
            }
        consumer = CONSUMED_TOPICS.get(attribute)
        if consumer is not None:
            group = _string(
                "SALES_GRAPH_EVENTS__CONSUMER_GROUP, a dot, the consumer's name.",
            ) | {"enum": [f"{settings.consumer_group}.{consumer}"]}
            operations[f"receive_{attribute}"] = {
                "action": "receive",
                "channel": _ref("channels", attribute),
                "title": f"Consume {address} ({consumer})",
                "summary": CONSUMER_PURPOSES[consumer],
                "messages": [_ref("channels", attribute, "messages", name) for name in messages],
                "bindings": {
                    "kafka": {
                        "groupId": group,
                        "clientId": _string() | {"enum": [f"sales-graph-{consumer}"]},
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }
            operations[f"dead_letter_{attribute}"] = {
                "action": "send",
                "channel": _ref("channels", f"{attribute}_dlq"),
                "title": f"Dead-letter {address} messages",
                "summary": f"A message {consumer} rejects, or that fails"
                f" {settings.consumer_max_attempts} attempts, goes to {address}.dlq.",
                "messages": [_ref("channels", f"{attribute}_dlq", "messages", "dead_letter")],
            }
    schemas: Schema = {ENVELOPE: _component(envelope_schema())}
    schemas.update({name: _component(s) for name, s in payload_schemas().items()})
    schemas[INBOUND_LEAD_QUALIFIED] = _component(inbound_lead_qualified_schema())
    messages_: Schema = {name: _message(kind) for name, kind in EVENTS.items()}
    messages_["marketing"] = _inbound_message()
    messages_["dead_letter"] = _dead_letter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "sales-graph events",
            "version": VERSION,
            "description": "The events sales-graph publishes to Kafka (envelope version"
            f" {VERSION}, source {SOURCE}) and the Marketing events it consumes. Generated"
            " from src/sales_graph/events/contract.py by `sales-graph export-schema`; the"
            " JSON Schemas are also in schema/events/. Payloads we publish are closed"
            " (additionalProperties false; a new field is a contract change), consumers"
            " should still ignore unknown fields; the inbound Marketing schema allows"
            " additional properties.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "An example: the brokers are the setting"
                " SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS (the development services of"
                " scripts/services listen on 127.0.0.1:9092).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages_},
    }


# --- files ------------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_$/][A-Za-z0-9 _.,()/'$+<>=*-]*$")
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        # YAML 1.1 readers (PyYAML) take 1e+20 for a string: write 1.0e+20.
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(" ") and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _yaml_block(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_yaml_scalar(str(key))}:")
                lines.extend(_yaml_block(item, indent + 2))
            else:
                lines.append(f"{pad}{_yaml_scalar(str(key))}: {_yaml_inline(item)}")
        return lines
    for item in value:
        if isinstance(item, dict | list) and item:
            nested = _yaml_block(item, indent + 2)
            lines.append(f"{pad}- {nested[0][indent + 2 :]}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_yaml_inline(item)}")
    return lines


def _yaml_inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_scalar(value)


def to_yaml(document: Mapping[str, Any]) -> str:
    """Block-style YAML of JSON-like data (no dependency; the same text on every run)."""
    return "\n".join(_yaml_block(dict(document), 0)) + "\n"


def _json_text(schema: Schema) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def contract_files() -> dict[str, str]:
    """Path (relative to schema/) -> text of every generated event-contract file."""
    files = {f"events/{name}": _json_text(schema) for name, schema in schema_files().items()}
    files["asyncapi.yaml"] = (
        "# Generated by `sales-graph export-schema` from src/sales_graph/events/contract.py;"
        " do not edit.\n" + to_yaml(asyncapi_document())
    )
    return files


def write_event_contract(directory: Path) -> list[Path]:
    """Writes ``asyncapi.yaml`` and ``events/*.schema.json`` under ``directory`` (schema/) and
    removes schema files of events that no longer exist. Returns the paths written."""
    files = contract_files()
    events = directory / "events"
    events.mkdir(parents=True, exist_ok=True)
    for stale in events.glob("*.schema.json"):
        if f"events/{stale.name}" not in files:
            stale.unlink()
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --- validation -------------------------------------------------------------------------------


def _is_date_time(instance: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an optional dependency)."""
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.match(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _is_email(instance: object) -> bool:
    """As the API accepts it (pydantic's EmailStr: email-validator, no DNS lookups)."""
    if not isinstance(instance, str):
        return True
    try:
        email_validator.validate_email(instance, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return False
    return True


FORMAT_CHECKER = FormatChecker()
FORMAT_CHECKER.checks("date-time")(_is_date_time)
FORMAT_CHECKER.checks("email")(_is_email)


class InvalidEvent(ValueError):
    """An event does not match its schema; ``problems`` lists every violation by JSON path.

    A consumer handler turns it into ``consumer.Rejected`` (retrying cannot help)."""

    def __init__(self, event_type: str | None, problems: Sequence[str]) -> None:
        self.event_type = event_type
        self.problems = list(problems)
        shown = "; ".join(self.problems[:10])
        if len(self.problems) > 10:
            shown += f"; and {len(self.problems) - 10} more"
        super().__init__(f"invalid {event_type or 'event'} event: {shown}")


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = schema_files()[f"{name}.schema.json"]
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _problems(validator: Draft202012Validator, instance: object, prefix: str = "$") -> list[str]:
    errors: Iterable[ValidationError] = validator.iter_errors(instance)
    found = []
    for error in errors:
        path = prefix + error.json_path[1:]
        message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
        found.append(f"{path}: {message}")
    return sorted(found)


def validate_event(envelope: Mapping[str, Any]) -> None:
    """Checks an event we publish: the envelope, then its payload against its type's schema.
    Raises :class:`InvalidEvent` naming every problem."""
    event_type = envelope.get("event_type")
    problems = _problems(_validator(ENVELOPE), envelope)
    payload = envelope.get("payload")
    if isinstance(event_type, str) and event_type in EVENTS and isinstance(payload, dict):
        problems += _problems(_validator(event_type), payload, "$.payload")
    if problems:
        raise InvalidEvent(event_type if isinstance(event_type, str) else None, problems)


def validate_payload(event_type: str, payload: Mapping[str, Any]) -> None:
    """Checks a payload (payloads.py output) against its event type's schema."""
    if event_type not in EVENTS:
        raise InvalidEvent(event_type, [f"$.event_type: unknown event type {event_type!r}"])
    problems = _problems(_validator(event_type), payload, "$.payload")
    if problems:
        raise InvalidEvent(event_type, problems)


def validate_inbound_lead_qualified(message: Mapping[str, Any]) -> None:
    """Checks a message consumed from Marketing's topic against the Marketing schema."""
    problems = _problems(_validator(INBOUND_LEAD_QUALIFIED), message)
    if problems:
        raise InvalidEvent("marketing lead.qualified", problems)
