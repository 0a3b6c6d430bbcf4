"""``/openapi.json`` (OpenAPI 3.1), generated from the route table, and a ``/docs`` page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import orjson

from sales_graph import __version__
from sales_graph.rest.operation import Operation, compile_routes
from sales_graph.rest.routes import ROUTES
from sales_graph.rest.schemas import ETAG, IDEMPOTENCY_KEY, IF_MATCH, PATH_PARAMETERS, ref
from sales_graph.rest.shapes import JSONObject
from sales_graph.rest.table import Link, RestRoute

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("VALIDATION_ERROR", "Invalid request data"),
    401: ("UNAUTHORIZED", "Missing or invalid authentication"),
    403: ("FORBIDDEN", "Insufficient permissions"),
    404: ("NOT_FOUND", "Resource not found"),
    409: ("CONFLICT", "Duplicate or conflicting data"),
    412: ("PRECONDITION_FAILED", "The resource changed since it was read"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json"),
    422: ("IDEMPOTENCY_KEY_REUSED", "The Idempotency-Key was used with a different request"),
    429: ("RATE_LIMIT_EXCEEDED", "Too many requests"),
    500: ("INTERNAL_ERROR", "Server error"),
}
_IDEMPOTENCY_KEY: JSONObject = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body within 24 h: the stored response, no second effect",
    "schema": IDEMPOTENCY_KEY,
}
_IF_MATCH: JSONObject = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "Change only if the opportunity is still at this version (412 otherwise)",
    "schema": IF_MATCH,
}
_RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the current window",
    "X-RateLimit-Remaining": "Requests left in the current window",
    "X-RateLimit-Reset": "When the window resets (epoch seconds)",
}
_ERROR_ENVELOPE: JSONObject = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id", "timestamp"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
                "request_id": {"type": ["string", "null"]},
                "timestamp": {"type": "string", "format": "date-time"},
            },
        }
    },
}


# RFC 9110 sections 15.5.2 and 15.5.16: what to send instead.
_STATUS_HEADERS: dict[int, JSONObject] = {
    401: {
        "WWW-Authenticate": {
            "description": 'Bearer realm="sales-graph", and ApiKey header="X-API-Key"',
            "schema": {"type": "string"},
        }
    },
    415: {"Accept": {"description": "application/json", "schema": {"type": "string"}}},
}


_NEXT_LINK: JSONObject = {
    "description": (
        'When more follow: `<path?...&after=<cursor>>; rel="next"` (RFC 8288), the same request'
        " read on by keyset paging, as fast at any depth as on the first page"
    ),
    "schema": {"type": "string"},
}


def _headers() -> JSONObject:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}


def _error_statuses(route: RestRoute) -> list[int]:
    # Any id named in a path, query or body may be one the caller cannot see: 404.
    statuses = [400, 401, 403, 404, 429, 500]
    if route.method in {"POST", "PUT"}:
        statuses.append(409)
    if route.if_match:
        statuses.append(412)
    if route.method == "POST":
        statuses.append(422)
    if route.body is not None:
        statuses.extend((413, 415))
    return sorted(statuses)


def _path_parameter(name: str) -> JSONObject:
    schema = {k: v for k, v in PATH_PARAMETERS[name].items() if k != "example"}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "example": PATH_PARAMETERS[name]["example"],
    }


def _link(link: Link) -> JSONObject:
    found: JSONObject = {"operationId": link.operation_id}
    if link.parameters:
        found["parameters"] = dict(link.parameters)
    if link.request_body is not None:
        found["requestBody"] = link.request_body
    if link.description:
        found["description"] = link.description
    return found


def _response_name(route: RestRoute) -> str:
    return f"{route.operation_id[:1].upper()}{route.operation_id[1:]}Response"


def _response_schema(operation: Operation) -> JSONObject:
    """The answer's schema; each is named in ``components`` (``CreateLeadResponse``)."""
    answer = operation.answer.schema
    return answer if "$ref" in answer else ref(_response_name(operation.route))


def _success(operation: Operation) -> JSONObject:
    route = operation.route
    response: JSONObject = {
        "description": route.summary,
        "headers": {
            **_headers(),
            **({"ETag": {"schema": ETAG}} if route.etag else {}),
            **({"Link": _NEXT_LINK} if route.next_page else {}),
        },
    }
    if route.status != 204:  # No Content: no body
        response["content"] = {"application/json": {"schema": _response_schema(operation)}}
    if route.links:
        response["links"] = {link.name: _link(link) for link in route.links}
    return response


def _operation(compiled: Operation) -> JSONObject:
    route = compiled.route
    operation: JSONObject = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": list(route.tags),
        "parameters": [
            *(_path_parameter(name) for name in re.findall(r"{(\w+)}", route.path)),
            *([_IF_MATCH] if route.if_match else []),
            *([_IDEMPOTENCY_KEY] if route.method == "POST" else []),
            *(
                {
                    "name": p.name,
                    "in": "query",
                    "required": p.required,
                    "description": p.description,
                    "schema": p.schema,
                    **({"example": p.example} if p.example is not None else {}),
                }
                for p in compiled.query
            ),
        ],
        "responses": {
            str(route.status): _success(compiled),
            **{
                str(status): {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
                for status in _error_statuses(route)
            },
        },
    }
    if compiled.body is not None:
        content: JSONObject = {"schema": compiled.body}
        if route.example is not None:
            content["example"] = route.example
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    return operation


def _components(operations: Iterable[Operation]) -> dict[str, JSONObject]:
    """The spec's objects (one per GraphQL fragment) and each route's inline answer."""
    named: dict[str, JSONObject] = {}
    answers: dict[str, JSONObject] = {}
    for operation in operations:
        for name, schema in operation.answer.components.items():
            assert named.setdefault(name, schema) == schema, f"two schemas named {name}"
        if "$ref" not in operation.answer.schema and operation.route.status != 204:
            answers[_response_name(operation.route)] = operation.answer.schema
    return named | answers


def openapi_document(operations: Iterable[Operation]) -> JSONObject:
    operations = tuple(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        route = operation.route
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sales System REST API",
            "version": __version__,
            "description": "Each endpoint runs the GraphQL operation of the same name.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "headers": {
                name: {"description": text, "schema": {"type": "integer"}}
                for name, text in _RATE_HEADERS.items()
            },
            "schemas": {"Error": _ERROR_ENVELOPE, **_components(operations)},
            "responses": {
                code: {
                    "description": f"{status} {text}",
                    "headers": _headers() | _STATUS_HEADERS.get(status, {}),
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, (code, text) in _ERRORS.items()
            },
        },
    }


def _schema_text(schema: JSONObject | None, components: dict[str, JSONObject]) -> str:
    if not schema:
        return ""
    schema = components.get(str(schema.get("$ref", "")).rsplit("/", 1)[-1], schema)
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        f"<td>{html.escape(str(prop.get('type', 'object')))}</td>"
        f"<td>{'yes' if name in required else ''}</td></tr>"
        for name, prop in properties.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>required</th></tr>{rows}</table>"


def docs_html(operations: Iterable[Operation]) -> str:
    """The API reference rendered on the server: no script, no CDN, works offline."""
    operations = tuple(operations)
    components = _components(operations)
    sections = []
    for operation in operations:
        route = operation.route
        body = operation.body
        answer = operation.answer.schema if route.status != 204 else None
        params = ", ".join(p.name for p in route.query)
        sections.append(
            f"<section><h2><code>{route.method} {html.escape(route.path)}</code></h2>"
            f"<p>{html.escape(route.summary)} &mdash; success <b>{route.status}</b>"
            f"{f'; query: <code>{html.escape(params)}</code>' if params else ''}</p>"
            f"{'<h3>Request body</h3>' + _schema_text(body, components) if body else ''}"
            f"<h3>Response</h3>{_schema_text(answer, components) or 'No content.'}"
            f"<details><summary>GraphQL operation</summary>"
            f"<pre>{html.escape(operation.document)}</pre></details></section>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sales System REST API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
        "</head><body><h1>Sales System REST API</h1>"
        "<p>Authenticate with <code>Authorization: Bearer &lt;jwt&gt;</code> or "
        "<code>X-API-Key</code>. Errors use one envelope: "
        "<code>{&quot;error&quot;: {code, message, details, request_id, timestamp}}</code>. "
        "Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"{''.join(sections)}</body></html>"
    )


def openapi_json() -> bytes:
    """The committed ``schema/openapi.json``: the served document, pretty-printed."""
    from sales_graph.resolvers import schema

    document = openapi_document(compile_routes(ROUTES, schema._schema))
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
