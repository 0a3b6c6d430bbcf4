"""The AsyncAPI 3.0.0 document of our events: topics (channels), what we publish and consume
(operations), messages with their Kafka headers and keys. Its schemas are the JSON Schemas of
``events/schemas.py``, inlined as components; the consumers are ``events/subscriptions.py``.

Topic names are settings: the document shows the defaults.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sales_graph.events.catalog import EVENTS, SOURCE, VERSION, EventType
from sales_graph.events.schemas import (
    ENVELOPE,
    INBOUND_LEAD_QUALIFIED,
    envelope_schema,
    inbound_lead_qualified_schema,
    payload_schemas,
)
from sales_graph.events.subscriptions import SUBSCRIPTIONS, Subscription
from sales_graph.settings import EventSettings, TopicSettings

Schema = dict[str, Any]

# What worker/consumer.py adds to a dead letter's headers.
DEAD_LETTER_HEADERS = ("dlq_error", "dlq_consumer", "dlq_source", "dlq_at")
KAFKA_BINDING_VERSION = "0.5.0"


def _setting(attribute: str) -> str:
    return f"SALES_GRAPH_EVENTS__TOPICS__{attribute.upper()}"


def _component(schema: Schema) -> Schema:
    """A JSON Schema document as an AsyncAPI component (no $schema/$id: it is inlined)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def _string(description: str | None = None, **keywords: Any) -> Schema:
    described = {"description": description} if description else {}
    return {**described, "type": "string", **keywords}


def _headers(properties: Schema, description: str, required: list[str]) -> Schema:
    return {
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def _key_description(kind: EventType) -> str:
    if kind.name == "territory.assignment_changed":
        return "The territory's id (the previous territory's when none now; else the lead's)."
    if kind.aggregate == "forecast":
        return "territory_id:period, e.g. 7f0c...:Q1_2026."
    return f"The {kind.aggregate}'s id (one {kind.aggregate}'s events in order)."


def _message(kind: EventType) -> Schema:
    key = _key_description(kind)
    key_schema = _string(key) if kind.aggregate == "forecast" else _string(key, format="uuid")
    headers = {
        "event_id": _string("The envelope's event_id.", format="uuid"),
        "event_type": _string(const=kind.name),
        "correlation_id": _string("The envelope's correlation_id."),
    }
    # Present when the event was recorded inside a trace (docs/operations.md, "Traces").
    trace_context = {
        "traceparent": _string(
            "W3C Trace Context of the relay's send span; the consumer's span continues it.",
            pattern="^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        ),
        "tracestate": _string("W3C Trace Context vendor state, when there is any."),
    }
    return {
        "name": kind.name,
        "title": kind.name,
        "summary": kind.summary,
        "contentType": "application/json",
        "headers": _headers(
            headers | trace_context, "Kafka headers (UTF-8 values).", list(headers)
        ),
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE}"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": _string(const=kind.name),
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
    headers = {
        "dlq_error": _string("Why it failed (at most 2000 characters)."),
        "dlq_consumer": _string("The consumer that gave up."),
        "dlq_source": _string("topic/partition/offset of the original message."),
        "dlq_at": _string("When it was dead-lettered.", format="date-time"),
    }
    return {
        "name": "dead_letter",
        "title": "Dead letter",
        "summary": "A consumed message that was invalid or kept failing, copied unchanged.",
        "description": "The original key, value (byte for byte, usually an event envelope) and"
        " headers, plus the dlq_* headers.",
        "contentType": "application/octet-stream",
        "headers": _headers(
            headers, "The original message's headers plus these.", list(DEAD_LETTER_HEADERS)
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


def _channels_and_operations(topics: dict[str, str]) -> tuple[Schema, Schema]:
    settings = EventSettings()
    # A topic's consumers in the order of SUBSCRIPTIONS: the first one's receive operation is
    # receive_<topic>, another's receive_<topic>_<consumer>, less the topic's
    # name (webhooks-opportunities: receive_opportunities_webhooks).
    consumers: dict[str, list[Subscription]] = {}
    for subscription in SUBSCRIPTIONS:
        consumers.setdefault(subscription.topic, []).append(subscription)
    by_topic: dict[str, list[EventType]] = {}
    for kind in EVENTS.values():
        by_topic.setdefault(kind.topic, []).append(kind)
    unknown = (by_topic.keys() | consumers.keys()) - topics.keys()
    if unknown:
        raise RuntimeError(f"events or consumers on topics that are not settings: {unknown}")
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
        readers = consumers.get(attribute, [])
        for index, consumer in enumerate(readers):
            group = f"{settings.consumer_group}.{consumer.name}"
            role = consumer.name.removesuffix("-" + attribute.replace("_", "-"))
            suffix = "" if index == 0 else "_" + role.replace("-", "_")
            operations[f"receive_{attribute}{suffix}"] = {
                "action": "receive",
                "channel": _ref("channels", attribute),
                "title": f"Consume {address} ({consumer.name})",
                "summary": consumer.purpose,
                "messages": [_ref("channels", attribute, "messages", name) for name in messages],
                "bindings": {
                    "kafka": {
                        "groupId": _string(
                            "SALES_GRAPH_EVENTS__CONSUMER_GROUP, a dot, the consumer's name.",
                            enum=[group],
                        ),
                        "clientId": _string(enum=[f"sales-graph-{consumer.name}"]),
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }
        if not readers:
            continue
        names = " or ".join(c.name for c in readers)
        operations[f"dead_letter_{attribute}"] = {
            "action": "send",
            "channel": _ref("channels", f"{attribute}_dlq"),
            "title": f"Dead-letter {address} messages",
            "summary": f"A message {names} rejects, or that fails"
            f" {settings.consumer_max_attempts} attempts, goes to {address}.dlq.",
            "messages": [_ref("channels", f"{attribute}_dlq", "messages", "dead_letter")],
        }
    return channels, operations


@cache
def asyncapi_document() -> Schema:
    """The AsyncAPI 3.0.0 document, with the default topic names (they are settings)."""
    channels, operations = _channels_and_operations(TopicSettings().model_dump())
    schemas: Schema = {ENVELOPE: _component(envelope_schema())}
    schemas.update({name: _component(s) for name, s in payload_schemas().items()})
    schemas[INBOUND_LEAD_QUALIFIED] = _component(inbound_lead_qualified_schema())
    messages: Schema = {name: _message(kind) for name, kind in EVENTS.items()}
    messages["marketing"] = _inbound_message()
    messages["dead_letter"] = _dead_letter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "sales-graph events",
            "version": VERSION,
            "description": "The events sales-graph publishes to Kafka (envelope version"
            f" {VERSION}, source {SOURCE}) and the Marketing events it consumes. Generated"
            " from the payload models (src/sales_graph/events/models.py) by `sales-graph"
            " export-schema`; the JSON Schemas are also in schema/events/. Payloads we"
            " publish are closed (additionalProperties false; a new field is a contract"
            " change), consumers should still ignore unknown fields; the inbound Marketing"
            " schema allows additional properties.",
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
        "components": {"schemas": schemas, "messages": messages},
    }
