"""JSON Schema for the OpenAPI document: building blocks and the spec's objects."""

from __future__ import annotations

from pydantic import BaseModel

from sales_graph.rest.engine import QueryParam
from sales_graph.rest.shapes import JSONObject
from sales_graph.services.periods import _PATTERN as PERIOD_PATTERN

# JSON Schema building blocks for the OpenAPI document.
STR: JSONObject = {"type": "string"}
INT: JSONObject = {"type": "integer"}
NUM: JSONObject = {"type": "number"}
BOOL: JSONObject = {"type": "boolean"}
TIME: JSONObject = {"type": "string", "format": "date-time"}
DATE: JSONObject = {"type": "string", "format": "date"}
ANY_OBJECT: JSONObject = {"type": "object"}
LEAD_STATUS: JSONObject = {
    "type": "string",
    "enum": ["new", "working", "qualified", "disqualified", "converted"],
}
STAGE: JSONObject = {
    "type": "string",
    "enum": ["discovery", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"],
}
FORECAST_TYPE: JSONObject = {
    "type": "string",
    "enum": ["pipeline", "best_case", "commit", "closed"],
}


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


_CONSTRAINTS = (
    "maxLength",
    "minLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "pattern",
    "format",
    "maxItems",
)


def _constraints(prop: JSONObject, json_type: str) -> JSONObject:
    branches = [prop, *prop.get("anyOf", [])]
    for branch in branches:
        if branch.get("type") == json_type:
            return {k: branch[k] for k in _CONSTRAINTS if k in branch}
    return {}


def checked(schema: JSONObject, model: type[BaseModel], **renamed: str) -> JSONObject:
    """``schema`` with the limits the service's input ``model`` enforces (lengths, ranges)."""
    limits = model.model_json_schema()["properties"]
    properties = {}
    for name, prop in schema["properties"].items():
        found = limits.get(renamed.get(name, name), {})
        extra = _constraints(found, prop["type"]) if isinstance(prop["type"], str) else {}
        if prop["type"] == "number" and extra:
            # Money: two decimal places, sixteen digits.
            extra = {**extra, "maximum": 99_999_999_999_999.99, "multipleOf": 0.01}
        properties[name] = {**prop, **extra}
    return {**schema, "properties": properties}


def page_of(item: JSONObject) -> JSONObject:
    return obj(
        data={"type": "array", "items": item},
        pagination=obj(total=INT, limit=INT, offset=INT, has_more=BOOL),
    )


USER_REF = obj(id=STR, name=STR)
UUID: JSONObject = {"type": "string", "format": "uuid"}
PERIOD: JSONObject = {"type": "string", "pattern": PERIOD_PATTERN.pattern}
LIMIT = QueryParam("limit", {"type": "integer", "minimum": 1}, "Page size")
OFFSET = QueryParam("offset", {"type": "integer", "minimum": 0}, "Rows to skip")


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
    metadata=ANY_OBJECT,
    territory_id=nullable(STR),
    opportunity_id=nullable(STR),
    converted_at=nullable(TIME),
    version=INT,
)


OPPORTUNITY = obj(
    id=STR,
    name=STR,
    account_id=STR,
    lead_id=nullable(STR),
    owner_id=STR,
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
    member_ids={"type": "array", "items": STR},
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
