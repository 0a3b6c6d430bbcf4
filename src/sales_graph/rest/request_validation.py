"""A REST request is checked against the route's OpenAPI operation before anything runs.

Path and query parameters, the ``If-Match`` and ``Idempotency-Key`` headers and the JSON body
must be what ``/openapi.json`` says; anything else is a 400 VALIDATION_ERROR naming each field.
So the published document is exactly the accepted surface, and the services' own checks (which
the document's request schemas are read from) are what is left for valid requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, cast

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import ValidationError as SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from starlette.requests import Request

from sales_graph import errors, jsonlimits
from sales_graph.rest.operation import Operation
from sales_graph.rest.schemas import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    NON_BLANK_PATTERN,
    PATH_PARAMETERS,
    TEXT_PATTERN,
)
from sales_graph.rest.shapes import JSONObject, RestInput
from sales_graph.web.media import JSON, encodings, media_type, single


@lru_cache(maxsize=256)
def _ecma(pattern: str) -> re.Pattern[str]:
    # ECMA-262's ``$`` is the end of the string; Python's also matches before a final newline.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: JSONObject
) -> Iterator[SchemaError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield SchemaError(f"does not match {pattern!r}")


def _multiple_of(
    validator: Validator, step: float, instance: Any, schema: JSONObject
) -> Iterator[SchemaError]:
    # Decimal steps (0.01) in binary floating point: compare the numbers as written.
    if not validator.is_type(instance, "number"):
        return
    try:
        exact = Decimal(repr(instance)) % Decimal(repr(step)) == 0
    except InvalidOperation:
        exact = False
    if not exact:
        yield SchemaError(f"is not a multiple of {step}")


_Validator = cast(
    type[Validator],
    extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"pattern": _pattern, "multipleOf": _multiple_of}
    ),
)
_FORMATS = FormatChecker(formats=("date", "email", "uuid"))


def _validator(schema: JSONObject) -> Validator:
    return _Validator(schema, format_checker=_FORMATS)


_PATTERN_REASONS = {
    TEXT_PATTERN: "must not contain NUL characters",
    NON_BLANK_PATTERN: "must not be blank or contain NUL characters",
}


def _reason(error: SchemaError, schema: JSONObject) -> str:
    if error.validator == "pattern" and error.validator_value in _PATTERN_REASONS:
        return _PATTERN_REASONS[error.validator_value]
    if "description" in schema:
        return f"must be {schema['description']}"
    if error.validator == "format":
        return f"must be a valid {error.validator_value}"
    return f"must match {error.validator_value}"


_ARTICLED = {
    "integer": "an integer",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


def _message(error: SchemaError) -> str:
    """A short reason, without echoing the value (it may be large or private)."""
    value: Any = error.validator_value
    schema = error.schema
    assert isinstance(schema, dict)
    match error.validator:
        case "type":
            types = value if isinstance(value, list) else [value]
            return f"must be {' or '.join(_ARTICLED.get(str(t), str(t)) for t in types)}"
        case "enum":
            return f"must be one of: {', '.join(map(str, value))}"
        case "format" | "pattern" | "anyOf":
            return _reason(error, schema)
        case "const":
            return f"must be {orjson.dumps(value).decode()}"
        case "maxLength":
            return f"at most {value} characters"
        case "minLength":
            return f"at least {value} characters"
        case "maximum":
            return f"must be at most {value}"
        case "minimum":
            return f"must be at least {value}"
        case "exclusiveMinimum":
            return f"must be greater than {value}"
        case "multipleOf":
            return f"must be a multiple of {value}"
        case "maxItems":
            return f"at most {value} items"
        case "maxProperties":
            return f"at most {value} keys"
        case "propertyNames":
            return "keys must not contain NUL characters"
        case _:
            return f"violates {error.validator}"


def _fields(error: SchemaError) -> Iterator[tuple[str, str]]:
    """The body fields an error is about (``products.0.quantity``), with a reason each."""
    at = ".".join(str(p) for p in error.absolute_path)
    instance = error.instance
    value: Any = error.validator_value
    if error.validator == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                yield ".".join(p for p in (at, name) if p), "is required"
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        for name in instance:
            if name not in known:
                yield ".".join(p for p in (at, str(name)) if p), "unknown field"
    else:
        yield at or "body", _message(error)


def _free_form(schema: JSONObject, at: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where a body holds free-form JSON (an object schema without properties); ``*`` is
    every item of an array."""
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object" and "properties" not in prop:
            yield (*at, name)
        elif prop.get("type") == "array" and "properties" in prop.get("items", {}):
            yield from _free_form(prop["items"], (*at, name, "*"))


def _found_at(value: Any, path: tuple[str, ...], at: str = "") -> Iterator[tuple[str, Any]]:
    if not path:
        yield at, value
        return
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _found_at(item, rest, f"{at}.{index}")
    elif isinstance(value, dict) and head in value:
        yield from _found_at(value[head], rest, f"{at}.{head}" if at else head)


def _refuse(fields: Mapping[str, str]) -> None:
    if fields:
        raise errors.ValidationError("Invalid request data", details={"fields": dict(fields)})


def _unknown(names: Iterable[str], allowed: set[str], where: str) -> None:
    unknown = sorted(n for n in names if n not in allowed)
    if unknown:
        raise errors.ValidationError(
            f"Unknown {where}: {', '.join(unknown)}",
            details={"fields": dict.fromkeys(unknown, f"unknown {where}")},
        )


_NO_BODY = "not allowed: the operation takes no body"


async def _no_body(request: Request) -> JSONObject:
    """An operation without a ``requestBody`` (a GET, a DELETE, a replay's POST) takes no
    content: one is refused rather than ignored, as a body's unknown fields are (an object's
    keys are named as they are), so a caller's fields are never silently dropped. An empty JSON
    object names nothing and passes, for clients that send one with every request."""
    raw = await request.body()
    try:
        parsed = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        parsed = None
    if parsed == {}:
        return {}
    if isinstance(parsed, dict):
        _unknown(parsed.keys(), set(), "body field")
    raise errors.ValidationError(
        "The operation takes no request body", details={"fields": {"body": _NO_BODY}}
    )


_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
_BOOLEANS = {"true": True, "false": False}


def _typed(raw: str, schema: JSONObject) -> Any:
    """A query or header string as the JSON value its schema describes (or as is, to fail)."""
    match schema.get("type"):
        case "integer":
            return int(raw) if _INTEGER.fullmatch(raw) else raw
        case "boolean":
            return _BOOLEANS.get(raw, raw)
        case _:
            return raw


class RequestValidation:
    """The checks of one route, compiled once."""

    def __init__(self, operation: Operation) -> None:
        route = operation.route
        self._path = {
            name: _validator(PATH_PARAMETERS[name]) for name in re.findall(r"{(\w+)}", route.path)
        }
        self._query = {p.name: (p, _validator(p.schema)) for p in operation.query}
        self._headers = {
            name: _validator(schema)
            for name, schema, applies in (
                ("If-Match", IF_MATCH, route.if_match is not None),
                ("Idempotency-Key", IDEMPOTENCY_KEY, route.method == "POST"),
            )
            if applies
        }
        self._body = _validator(operation.body) if operation.body is not None else None
        self._body_fields = set((operation.body or {}).get("properties", {}))
        # The limits of free-form JSON that its description names (``jsonlimits``).
        self._free_form = tuple(_free_form(operation.body or {}))
        # RFC 9110 section 15.5.16: a 415 names what would be accepted.
        self._accepted = {"Accept": JSON} | (
            {"Accept-Post": JSON} if route.method == "POST" else {}
        )

    async def read(self, request: Request) -> RestInput:
        """The request's inputs, once they are what the document allows."""
        if self._body is not None:
            self._require_json(request)
        _unknown(request.query_params.keys(), set(self._query), "query parameter")
        fields: dict[str, str] = {}
        for name, validator in self._path.items():
            self._check(validator, request.path_params.get(name, ""), name, fields)
        for name, (param, validator) in self._query.items():
            given = request.query_params.getlist(name)
            if len(given) > 1:
                # Which one counts would be a guess (frameworks differ): the caller says once.
                fields[name] = "sent more than once"
            elif given:
                self._check(validator, _typed(given[0], param.schema), name, fields)
            elif param.required:
                fields[name] = "is required"
        for name, validator in self._headers.items():
            values = request.headers.getlist(name)
            if len(values) > 1:
                fields[name] = "sent more than once"
            elif values:
                self._check(validator, values[0], name, fields)
        _refuse(fields)
        body = await self._read_body(request) if self._body is not None else await _no_body(request)
        return RestInput(
            path=dict(request.path_params), query=dict(request.query_params), body=body
        )

    def _require_json(self, request: Request) -> None:
        """JSON only: form, multipart and text/plain bodies are what a cross-site HTML form
        can send without a CORS preflight."""
        found = media_type(single(request.headers, "Content-Type"))
        codings = encodings(request.headers)
        if found == JSON and not codings:
            return
        if found == JSON:
            raise errors.UnsupportedMediaType(
                "The request body must not be encoded",
                details={"content_encoding": sorted(codings)[:5]},
                headers={"Accept-Encoding": "identity"},
            )
        raise errors.UnsupportedMediaType(
            f"The request body must be {JSON}",
            details={"content_type": found[:100], "supported": [JSON]},
            headers=dict(self._accepted),
        )

    @staticmethod
    def _check(validator: Validator, value: Any, name: str, fields: dict[str, str]) -> None:
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            fields.setdefault(name, _message(error))

    async def _read_body(self, request: Request) -> JSONObject:
        assert self._body is not None
        raw = await request.body()
        try:
            parsed = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise errors.ValidationError("Malformed JSON body") from None
        if not isinstance(parsed, dict):
            raise errors.ValidationError("The request body must be a JSON object")
        _unknown(parsed.keys(), self._body_fields, "body field")
        # jsonschema recurses: deep nesting is refused before it meets the value.
        _refuse(jsonlimits.too_deep_fields(parsed))
        fields: dict[str, str] = {}
        for error in sorted(
            self._body.iter_errors(parsed), key=lambda e: [str(p) for p in e.absolute_path]
        ):
            for name, reason in _fields(error):
                fields.setdefault(name, reason)
        for path in self._free_form:
            for name, value in _found_at(parsed, path):
                if isinstance(value, dict) and (problem := jsonlimits.violation(value)):
                    fields.setdefault(name, problem)
        _refuse(fields)
        return parsed
