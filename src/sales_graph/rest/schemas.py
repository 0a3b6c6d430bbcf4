"""JSON Schema building blocks of the OpenAPI document: scalars, text patterns, parameters.

The resources' schemas are not written here: request bodies are read from the services' input
models (``rest/bodies.py``), answers from the GraphQL types along each route's operation
(``rest/answers.py``). Patterns are ECMA-262 (``$`` is the end of the string) and use no class
shorthand (``\\d``, ``\\s``) whose meaning differs between regex engines.
"""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from sales_graph import bounds, jsonlimits
from sales_graph.db.paging import MAX_CURSOR_LENGTH
from sales_graph.domain import periods
from sales_graph.rest.shapes import JSONObject

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
UUID: JSONObject = {"type": "string", "format": "uuid"}
PERIOD: JSONObject = dict(periods.JSON_SCHEMA)

# The characters ``str.strip()`` removes: what the services trim before checking a length.
_SPACE = r"\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text: no NUL (PostgreSQL stores none); text that must not be empty has a non-space character.
TEXT_PATTERN = r"^[^\x00]*$"
NON_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


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
    """A named schema of the document's ``components``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_object(max_properties: int | None = None) -> JSONObject:
    """A free-form JSON field of a request (``metadata``): a plain object schema, without
    recursion, so that every generator takes it; the limits no keyword can say (depth, keys in
    all, size, no NUL characters) are in the description and checked by ``jsonlimits``."""
    schema: JSONObject = {"type": "object", "description": jsonlimits.DESCRIPTION}
    return schema if max_properties is None else {**schema, "maxProperties": max_properties}


def nullable(schema: JSONObject) -> JSONObject:
    """``schema`` or null."""
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    found = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        found["enum"] = [*schema["enum"], None]
    return found


def obj(**properties: JSONObject) -> JSONObject:
    """An object schema whose every property is present (maybe null)."""
    return {"type": "object", "properties": properties, "required": list(properties)}


EXAMPLE_ID = "5f0c8a7e-3b1d-4c55-9a2e-7d6b1e9f4a10"
PATH_PARAMETERS: dict[str, JSONObject] = {
    "id": {**UUID, "example": EXAMPLE_ID},
    "period": {**PERIOD, "example": "Q1_2026"},
    # A webhook delivery's id: a positive integer.
    "delivery_id": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$", "example": "42"},
}
# An opportunity's version, as ``ETag`` sends it and ``If-Match`` takes it back (or ``*``).
ETAG: JSONObject = {"type": "string", "pattern": r'^"[1-9][0-9]{0,9}"$'}
# One string schema, not a union, so that client generators take it; a weak tag (``W/"3"``)
# is well-formed and answered 412 (If-Match compares strongly).
IF_MATCH: JSONObject = {
    "type": "string",
    "pattern": r'^(?:\*|(?:W/)?"[1-9][0-9]{0,8}")$',
    "description": 'the ETag of the last read, such as "3", or *',
}
IDEMPOTENCY_KEY: JSONObject = {
    "type": "string",
    "pattern": r"^[!-~]{1,255}$",
    "description": "1 to 255 visible ASCII characters",
}
LIMIT: JSONObject = {"type": "integer", "minimum": 1, "maximum": 200}
OFFSET: JSONObject = {"type": "integer", "minimum": 0, "maximum": INT_MAX}
# Opaque; the document says what no cursor holds (a NUL, refused for every text), so that a
# cursor the schema allows is refused only for not being one the gateway minted.
CURSOR: JSONObject = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_CURSOR_LENGTH,
    "pattern": TEXT_PATTERN,
}
