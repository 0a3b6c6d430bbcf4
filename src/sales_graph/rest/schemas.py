"""JSON Schema for the OpenAPI document: building blocks, request limits and the spec's objects.

Request schemas say exactly what a request may be: ``rest/contract.py`` refuses anything else
with a 400 before the operation runs, and ``checked`` reads the services' input models so
that every value the document allows is one the service accepts. Patterns are ECMA-262 (``$``
is the end of the string) and use no class shorthand (``\\d``, ``\\s``) whose meaning differs
between regex engines.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel

from sales_graph import bounds, jsonlimits
from sales_graph.rest.shapes import JSONObject
from sales_graph.rest.table import QueryParam
from sales_graph.services.stages import OPEN_STAGES, PIPELINE_ORDER

# GraphQL's Int is a signed 32-bit integer.
INT_MAX = 2**31 - 1

STR: JSONObject = {"type": "string"}
INT: JSONObject = {"type": "integer"}
NUM: JSONObject = {"type": "number"}
BOOL: JSONObject = {"type": "boolean"}
TIME: JSONObject = {"type": "string", "format": "date-time"}
DATE: JSONObject = {"type": "string", "format": "date"}
# A date a request may hold: ``sales_graph.bounds``' window.
BUSINESS_DATE: JSONObject = {
    **DATE,
    "pattern": rf"^{bounds.YEAR_PATTERN}-",
    "description": f"a date {bounds.DATE_RANGE_TEXT}",
}
ANY_OBJECT: JSONObject = {"type": "object"}
UUID: JSONObject = {"type": "string", "format": "uuid"}
LEAD_STATUS: JSONObject = {
    "type": "string",
    "enum": ["new", "working", "qualified", "disqualified", "converted"],
}
STAGE: JSONObject = {"type": "string", "enum": [s.value for s in PIPELINE_ORDER]}
# A new opportunity (created or converted) starts in an open stage.
OPEN_STAGE: JSONObject = {"type": "string", "enum": [s.value for s in OPEN_STAGES]}
FORECAST_TYPE: JSONObject = {
    "type": "string",
    "enum": ["pipeline", "best_case", "commit", "closed"],
}

# The characters ``str.strip()`` removes: what the services trim before checking a length.
_SPACE = r"\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text: no NUL (PostgreSQL stores none); text that must not be empty has a non-space character.
TEXT_PATTERN = r"^[^\x00]*$"
NON_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
# The years of business dates (bounds.py): a sales period, not the calendar's whole range.
PERIOD: JSONObject = {
    "type": "string",
    "pattern": rf"^(?:Q[1-4]_|M(?:0[1-9]|1[0-2])_|FY){bounds.YEAR_PATTERN}$",
    "description": "a period such as Q1_2026, M03_2026 or FY2026 "
    f"(years {bounds.FIRST_DATE.year} to {bounds.LAST_DATE.year})",
}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
# What the services' email check (email-validator) accepts, spelled as a schema: an ASCII
# dot-atom address at a domain with a dot, a letters-only top-level domain, and none of the
# special-use names (.test, .invalid, .local, ...) that cannot receive mail.
EMAIL: JSONObject = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "pattern": (rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?!(?:{_SPECIAL_USE})$)[A-Za-z]{{2,63}}$"),
    "description": "an email address at a public domain (not .test, .invalid, .local, ...)",
}


def ref(name: str) -> JSONObject:
    """A named schema of the document's ``components`` (``COMPONENT_SCHEMAS``)."""
    return {"$ref": f"#/components/schemas/{name}"}


# Free-form JSON (``metadata``): any JSON without NUL characters, in keys or in text.
JSON_VALUE_REF = ref("JSONValue")
_KEY: JSONObject = {"pattern": TEXT_PATTERN}
JSON_VALUE: JSONObject = {
    "description": "any JSON value without NUL characters",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": TEXT_PATTERN},
        {"type": "array", "items": JSON_VALUE_REF},
        {"type": "object", "propertyNames": _KEY, "additionalProperties": JSON_VALUE_REF},
    ],
}


def json_object(max_properties: int | None = None) -> JSONObject:
    """A free-form field; the limits no keyword can say are checked by ``jsonlimits``."""
    schema: JSONObject = {
        "type": "object",
        "description": jsonlimits.DESCRIPTION,
        "propertyNames": _KEY,
        "additionalProperties": JSON_VALUE_REF,
    }
    return schema if max_properties is None else {**schema, "maxProperties": max_properties}


def nullable(schema: JSONObject) -> JSONObject:
    return {**schema, "type": [schema["type"], "null"]}


def obj(required: tuple[str, ...] | None = None, **properties: JSONObject) -> JSONObject:
    """An object schema; every property is required unless ``required`` names the few that are."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


def body(required: tuple[str, ...], **properties: JSONObject) -> JSONObject:
    return {**obj(required, **properties), "additionalProperties": False}


_STRING_LIMITS = ("maxLength", "minLength", "pattern", "format", "enum")


def _branch(prop: JSONObject, json_type: str) -> JSONObject:
    """The part of a pydantic field schema (maybe an ``anyOf`` with null) of ``json_type``."""
    for branch in (prop, *prop.get("anyOf", [])):
        if branch.get("type") == json_type or (json_type == "string" and "enum" in branch):
            return dict(branch)
    return {}


def _string(prop: JSONObject, limits: JSONObject) -> JSONObject:
    found = {k: limits[k] for k in _STRING_LIMITS if k in limits}
    if found.get("format") == "email":
        return {**EMAIL, "maxLength": min(EMAIL["maxLength"], found.get("maxLength", 254))}
    schema = {**found, **prop}
    if not {"format", "enum", "pattern"} & set(schema):
        # The services trim text before they check that it is not empty.
        blank_allowed = schema.get("minLength", 0) == 0
        schema["pattern"] = TEXT_PATTERN if blank_allowed else NON_BLANK_PATTERN
    return schema


def _metadata(model: type[BaseModel], name: str) -> list[Any]:
    """The constraints of a field, also those inside ``Annotated[...] | None``."""
    field = model.model_fields.get(name)
    if field is None:
        return []
    found = list(field.metadata)
    types = [field.annotation]
    while types:
        current = types.pop()
        if get_origin(current) is Annotated:
            base, *extra = get_args(current)
            found.extend(item for e in extra for item in getattr(e, "metadata", [e]))
            types.append(base)
        else:
            types.extend(get_args(current))
    return found


def _digits(model: type[BaseModel], name: str) -> tuple[int | None, int | None]:
    for item in _metadata(model, name):
        places = getattr(item, "decimal_places", None)
        if places is not None:
            return getattr(item, "max_digits", None), places
    return None, None


def _number(
    prop: JSONObject, limits: JSONObject, digits: tuple[int | None, int | None]
) -> JSONObject:
    bounds: JSONObject = {
        k: limits[k] for k in ("minimum", "maximum", "exclusiveMinimum") if k in limits
    }
    max_digits, places = digits
    if places is not None:
        step = Decimal(1).scaleb(-places)
        bounds["multipleOf"] = float(step)
        if max_digits is not None:
            largest = Decimal(10) ** (max_digits - places) - step
            bounds["maximum"] = min(bounds.get("maximum", float(largest)), float(largest))
    return {**prop, **bounds}


def _integer(prop: JSONObject, limits: JSONObject) -> JSONObject:
    return {
        **prop,
        "minimum": max(limits.get("minimum", -INT_MAX - 1), -INT_MAX - 1),
        "maximum": min(limits.get("maximum", INT_MAX), INT_MAX),
    }


def checked(schema: JSONObject, model: type[BaseModel], **renamed: str) -> JSONObject:
    """``schema`` with the limits the service's input ``model`` enforces.

    Lengths, ranges, formats, enums and decimal places come from the model; text that the
    model does not otherwise constrain holds no NUL, and is not blank where it is required
    to be non-empty; integers stay within GraphQL's Int.
    """
    model_props = model.model_json_schema()["properties"]
    properties = {}
    for name, prop in schema["properties"].items():
        field_name = renamed.get(name, name)
        found = model_props.get(field_name, {})
        json_type = prop.get("type")
        if json_type == "string":
            prop = _string(prop, _branch(found, "string"))
        elif json_type == "number":
            prop = _number(prop, _branch(found, "number"), _digits(model, field_name))
        elif json_type == "integer":
            prop = _integer(prop, _branch(found, "integer"))
        elif json_type == "array" and "maxItems" in _branch(found, "array"):
            prop = {**prop, "maxItems": _branch(found, "array")["maxItems"]}
        properties[name] = prop
    return {**schema, "properties": properties}


def page_of(item: JSONObject) -> JSONObject:
    return obj(
        data={"type": "array", "items": item},
        pagination=obj(total=INT, limit=INT, offset=INT, has_more=BOOL),
    )


def example_of(schema: JSONObject, value: Any) -> JSONObject:
    return {**schema, "example": value}


USER_REF = obj(id=STR, name=STR)
EXAMPLE_ID = "5f0c8a7e-3b1d-4c55-9a2e-7d6b1e9f4a10"
PATH_PARAMETERS: dict[str, JSONObject] = {
    "id": {**UUID, "example": EXAMPLE_ID},
    "period": {**PERIOD, "example": "Q1_2026"},
}
# An opportunity's version, as ``ETag`` sends it and ``If-Match`` takes it back (or ``*``).
ETAG: JSONObject = {"type": "string", "pattern": r'^"[1-9][0-9]{0,9}"$'}
IF_MATCH: JSONObject = {
    "anyOf": [{"const": "*"}, {"type": "string", "pattern": r'^(?:W/)?"[1-9][0-9]{0,8}"$'}],
    "description": 'the ETag of the last read, such as "3", or *',
}
IDEMPOTENCY_KEY: JSONObject = {
    "type": "string",
    "pattern": r"^[!-~]{1,255}$",
    "description": "1 to 255 visible ASCII characters",
}
LIMIT = QueryParam(
    "limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size (1 to 200)"
)
OFFSET = QueryParam("offset", {"type": "integer", "minimum": 0, "maximum": INT_MAX}, "Rows to skip")


LEAD_ITEM = obj(
    id=STR,
    status=LEAD_STATUS,
    first_name=nullable(STR),
    last_name=nullable(STR),
    email=STR,
    company=nullable(STR),
    score=nullable(INT),
    assigned_to=nullable(USER_REF),
    created_at=TIME,
    updated_at=TIME,
)
LEAD_DETAIL = obj(
    **LEAD_ITEM["properties"],
    phone=nullable(STR),
    title=nullable(STR),
    industry=nullable(STR),
    employee_count=nullable(INT),
    annual_revenue=nullable(NUM),
    country=nullable(STR),
    region=nullable(STR),
    source=nullable(STR),
    campaign_id=nullable(STR),
    # Null only when the stored value cannot be read (docs/errors.md).
    metadata=nullable(ANY_OBJECT),
    territory_id=nullable(STR),
    opportunity_id=nullable(STR),
    converted_at=nullable(TIME),
    version=INT,
)


OPPORTUNITY = obj(
    id=STR,
    name=STR,
    # Null when the caller's scopes exclude accounts, leads or users (docs/auth.md).
    account_id=nullable(STR),
    lead_id=nullable(STR),
    owner_id=nullable(STR),
    territory_id=nullable(STR),
    stage=STAGE,
    amount=nullable(NUM),
    probability=nullable(INT),
    expected_close_date=nullable(DATE),
    forecast_category=STR,
    deal_score=nullable(INT),
    next_step=nullable(STR),
    notes=nullable(STR),
    loss_reason=nullable(STR),
    version=INT,
    closed_at=nullable(TIME),
    created_at=TIME,
    updated_at=TIME,
)


TERRITORY = obj(
    id=STR,
    name=STR,
    description=nullable(STR),
    is_active=BOOL,
    priority=INT,
    owner_id=nullable(STR),
    member_ids=nullable({"type": "array", "items": STR}),
    created_at=TIME,
    updated_at=TIME,
)
FORECAST = obj(
    id=nullable(STR),
    kind={"type": "string", "enum": ["generated", "submitted"]},
    period=STR,
    forecast_type=FORECAST_TYPE,
    amount=NUM,
    probability_weighted_amount=nullable(NUM),
    ai_predicted_amount=nullable(NUM),
    current_pipeline=nullable(NUM),
    pipeline_coverage=nullable(NUM),
    notes=nullable(STR),
    territory_id=nullable(STR),
    submitted_by=nullable(STR),
    created_at=TIME,
)
ACCOUNT = obj(
    id=STR,
    name=STR,
    domain=nullable(STR),
    industry=nullable(STR),
    employee_count=nullable(INT),
    annual_revenue=nullable(NUM),
    country=nullable(STR),
    region=nullable(STR),
    owner_id=nullable(STR),
    territory_id=nullable(STR),
    created_at=TIME,
    updated_at=TIME,
)

# The spec's objects, named once in ``components`` and referenced by the routes.
COMPONENT_SCHEMAS: dict[str, JSONObject] = {
    "JSONValue": JSON_VALUE,
    "Lead": LEAD_DETAIL,
    "LeadSummary": LEAD_ITEM,
    "Opportunity": OPPORTUNITY,
    "Territory": TERRITORY,
    "Forecast": FORECAST,
    "Account": ACCOUNT,
}
