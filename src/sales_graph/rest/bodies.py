"""Request body schemas, read from the input models the services take.

A body is the model's JSON Schema said the way the REST document needs it: optional fields
may be left out but are not null, unless the route names them ``nullable`` (null then means
what leaving them out means); text holds no NUL and is not blank where the model trims
and requires it; integers stay within GraphQL's ``Int``; decimals carry their places as
``multipleOf`` and their digits as ``maximum``; dates are business dates (``bounds``); an
email is one the service accepts; free-form JSON is a plain object. ``request_validation``
refuses anything else with a 400 before the operation runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from sales_graph.rest.schemas import (
    BUSINESS_DATE,
    EMAIL,
    INT_MAX,
    NON_BLANK_PATTERN,
    TEXT_PATTERN,
    json_object,
    nullable,
)
from sales_graph.rest.shapes import JSONObject

# What a REST body keeps of a field's schema; pydantic's titles and defaults are not part of it.
_KEPT = ("type", "format", "enum", "pattern", "minLength", "maxLength", "description")
_NUMBER_LIMITS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _constraints(model: type[BaseModel], name: str) -> list[Any]:
    """The constraints of a field, also those inside ``Annotated[...] | None``."""
    field = model.model_fields[name]
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


def _nested_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    types = [model.model_fields[name].annotation]
    while types:
        current = types.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            return current
        types.extend(get_args(current))
    raise TypeError(f"{model.__name__}.{name} holds no model")


def _branch(prop: JSONObject, defs: Mapping[str, JSONObject]) -> JSONObject:
    """The one non-null part of a field's schema (a decimal: its number), ``$ref`` resolved."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    if len(branches) > 1:
        branches = [b for b in branches if b.get("type") == "number"]
    (branch,) = branches
    if "$ref" in branch:
        branch = defs[branch["$ref"].rsplit("/", 1)[-1]]
    return {**branch, **{k: v for k, v in prop.items() if k in ("description", "maxProperties")}}


def _string(found: JSONObject) -> JSONObject:
    if found.get("format") == "email":
        return {**EMAIL, "maxLength": min(EMAIL["maxLength"], found.get("maxLength", 254))}
    if found.get("format") == "date":
        return dict(BUSINESS_DATE)
    schema = {k: found[k] for k in _KEPT if k in found}
    if not {"format", "enum", "pattern"} & set(schema):
        # The services trim text before they check that it is not empty.
        blank_allowed = schema.get("minLength", 0) == 0
        schema["pattern"] = TEXT_PATTERN if blank_allowed else NON_BLANK_PATTERN
    return schema


def _digits(constraints: Iterable[Any]) -> tuple[int | None, int | None]:
    for item in constraints:
        places = getattr(item, "decimal_places", None)
        if places is not None:
            return getattr(item, "max_digits", None), places
    return None, None


def _number(found: JSONObject, constraints: list[Any]) -> JSONObject:
    schema: JSONObject = {"type": "number"}
    schema |= {k: found[k] for k in _NUMBER_LIMITS if k in found}
    max_digits, places = _digits(constraints)
    if places is not None:
        step = Decimal(1).scaleb(-places)
        schema["multipleOf"] = float(step)
        if max_digits is not None:
            largest = float(Decimal(10) ** (max_digits - places) - step)
            schema["maximum"] = min(schema.get("maximum", largest), largest)
    return schema


def _integer(found: JSONObject) -> JSONObject:
    return {
        "type": "integer",
        "minimum": max(found.get("minimum", -INT_MAX - 1), -INT_MAX - 1),
        "maximum": min(found.get("maximum", INT_MAX), INT_MAX),
        **({"description": found["description"]} if "description" in found else {}),
    }


def _field(model: type[BaseModel], name: str, prop: JSONObject, defs: Mapping[str, Any]) -> Any:
    found = _branch(prop, defs)
    match found.get("type"):
        case "string":
            return _string(found)
        case "number":
            return _number(found, _constraints(model, name))
        case "integer":
            return _integer(found)
        case "array":
            item = _branch(found.get("items", {}), defs)
            if item.get("type") == "string":  # a list of names (an enum's values)
                limits = {k: found[k] for k in ("minItems", "maxItems") if k in found}
                return {"type": "array", "items": _string(item), **limits}
            items = body_schema(_nested_model(model, name))
            limit = {"maxItems": found["maxItems"]} if "maxItems" in found else {}
            return {"type": "array", "items": items, **limit}
        case "object":
            return json_object(found.get("maxProperties"))
        case _:
            return {k: found[k] for k in _KEPT if k in found}


def body_schema(
    model: type[BaseModel],
    *,
    omit: Iterable[str] = (),
    renames: Mapping[str, str] | None = None,
    nulls: Iterable[str] = (),
) -> JSONObject:
    """The JSON body that ``model`` takes: its fields but ``omit``, some named as ``renames``
    says (model field -> body field), those of ``nulls`` (optional ones) null as well."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    left_out, names, null = set(omit), dict(renames or {}), set(nulls)
    required: list[str] = schema.get("required", [])
    if stray := null - (set(schema["properties"]) - set(required)):
        raise ValueError(f"{model.__name__}: no optional field {sorted(stray)} to take null")
    properties: JSONObject = {}
    for name, prop in schema["properties"].items():
        if name not in left_out:
            found = _field(model, name, prop, defs)
            properties[names.get(name, name)] = nullable(found) if name in null else found
    return {
        "type": "object",
        "properties": properties,
        "required": [names.get(n, n) for n in required if n not in left_out],
        "additionalProperties": False,
    }
