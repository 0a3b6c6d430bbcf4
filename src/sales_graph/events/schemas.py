"""The events' JSON Schemas (2020-12), generated from their models, and validation against them.

``schema/events/<name>.schema.json`` is, for the envelope (``events/envelope.py``), for every
event type's payload (its model in the catalog) and for Marketing's inbound ``lead.qualified``
(``events/models.py``), ``model_json_schema()`` tidied by :func:`json_schema`:

- self-contained: the ``$defs`` pydantic makes of nested models and enums are put in place of
  their ``$ref``, so that every schema can also stand inlined in ``schema/asyncapi.yaml``;
- an optional value is ``"type": [<type>, "null"]`` (and ``null`` among an enum's values),
  rather than pydantic's ``anyOf`` of the type and ``null``;
- no ``title`` but the document's and no ``default`` (pydantic's are names and placeholders);
  a description is one line (a docstring's line breaks are spaces); an object with properties
  lists its ``required`` ones, ``[]`` when none (pydantic leaves an empty list out);
- keywords in one order (:data:`_ORDER`), so that a regenerated file changes only where the
  contract does;
- ``$schema``, an ``$id`` (:func:`schema_id`), a title and, for a payload, the catalog's summary
  and topic as the description.

Published payloads are closed (``additionalProperties: false``, from ``extra="forbid"``); the
inbound message allows unknown fields at every level (``extra="allow"``).

Consumers validate what they receive with :func:`validate_inbound_lead_qualified`; tests check
what we publish with :func:`validate_event` and :func:`validate_payload`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import email_validator
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel

from sales_graph.events.catalog import EVENTS, VERSION
from sales_graph.events.envelope import Envelope
from sales_graph.events.models import MarketingLeadQualified

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:sales-graph:schema:events:"
ENVELOPE = "envelope"
INBOUND_LEAD_QUALIFIED = "marketing.lead.qualified"

_ORDER = (
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMaximum",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
)
_RANK = {keyword: rank for rank, keyword in enumerate(_ORDER)}


# --- from the models --------------------------------------------------------------------------


def json_schema(model: type[BaseModel]) -> Schema:
    """The model's JSON Schema, tidied (the module's docstring says how)."""
    schema = model.model_json_schema()
    return _tidy(schema, schema.pop("$defs", {}))


def _tidy(node: Schema, defs: Mapping[str, Schema]) -> Schema:
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
    result: Schema = {}
    for keyword, value in node.items():
        if keyword in ("title", "default"):
            continue
        if keyword == "properties":
            result[keyword] = {name: _tidy(s, defs) for name, s in value.items()}
        elif keyword in ("items", "additionalProperties") and isinstance(value, dict):
            result[keyword] = _tidy(value, defs)
        elif keyword in ("anyOf", "allOf", "oneOf"):
            result[keyword] = [_tidy(s, defs) for s in value]
        elif keyword == "description":
            result[keyword] = " ".join(value.split())
        else:
            result[keyword] = value
    if "properties" in result:
        result.setdefault("required", [])
    return _ordered(_nullable(result))


def _ordered(node: Schema) -> Schema:
    return dict(sorted(node.items(), key=lambda item: _RANK.get(item[0], len(_ORDER))))


def _nullable(node: Schema) -> Schema:
    """``anyOf: [X, {"type": "null"}]`` as X with ``"type": [X's type, "null"]``."""
    options = node.get("anyOf")
    if not options or len(options) != 2 or options[1] != {"type": "null"}:
        return node
    value = options[0]
    if not isinstance(value.get("type"), str):
        return node
    merged = {**value, **{k: v for k, v in node.items() if k != "anyOf"}}
    merged["type"] = [value["type"], "null"]
    if "enum" in value:
        merged["enum"] = [*value["enum"], None]
    return merged


def schema_id(name: str) -> str:
    return f"{ID_PREFIX}{name}:{VERSION}"


def _document(name: str, title: str, model: type[BaseModel], description: str = "") -> Schema:
    schema = json_schema(model)
    if description:
        schema["description"] = description
    return _ordered({"$schema": DIALECT, "$id": schema_id(name), "title": title, **schema})


@cache
def payload_schemas() -> dict[str, Schema]:
    """The payload schema of every event type of the catalog, in catalog order."""
    return {
        name: _document(
            name,
            f"{name} payload",
            kind.payload,
            f"{kind.summary} Topic setting: {kind.topic}.",
        )
        for name, kind in EVENTS.items()
    }


@cache
def envelope_schema() -> Schema:
    return _document(ENVELOPE, "Event envelope", Envelope)


@cache
def inbound_lead_qualified_schema() -> Schema:
    """Marketing's lead.qualified (the spec's Marketing schema), as the consumer accepts it."""
    return _document(
        INBOUND_LEAD_QUALIFIED, "Marketing lead.qualified (inbound)", MarketingLeadQualified
    )


def schema_files() -> dict[str, Schema]:
    """File name (in schema/events/) -> schema."""
    files = {f"{ENVELOPE}.schema.json": envelope_schema()}
    files.update({f"{name}.schema.json": s for name, s in payload_schemas().items()})
    files[f"{INBOUND_LEAD_QUALIFIED}.schema.json"] = inbound_lead_qualified_schema()
    return files


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
    """Checks a payload as it goes on the wire against its event type's schema."""
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
