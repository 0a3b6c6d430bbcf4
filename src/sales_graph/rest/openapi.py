"""``/openapi.json`` (OpenAPI 3.1), generated from the route table, and a ``/docs`` page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import orjson

from sales_graph import __version__
from sales_graph.rest.engine import RestRoute
from sales_graph.rest.routes import ROUTES
from sales_graph.rest.schemas import PERIOD, UUID
from sales_graph.rest.shapes import JSONObject

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("VALIDATION_ERROR", "Invalid request data"),
    401: ("UNAUTHORIZED", "Missing or invalid authentication"),
    403: ("FORBIDDEN", "Insufficient permissions"),
    404: ("NOT_FOUND", "Resource not found"),
    409: ("CONFLICT", "Duplicate or conflicting data"),
    412: ("PRECONDITION_FAILED", "The resource changed since it was read"),
    422: ("IDEMPOTENCY_KEY_REUSED", "The Idempotency-Key was used with a different request"),
    429: ("RATE_LIMIT_EXCEEDED", "Too many requests"),
    500: ("INTERNAL_ERROR", "Server error"),
}
_ETAG: JSONObject = {"type": "string", "pattern": '^(W/)?"[0-9]{1,18}"$'}
_IDEMPOTENCY_KEY: JSONObject = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body within 24 h: the stored response, no second effect",
    "schema": {"type": "string", "pattern": "^[\x21-\x7e]{1,255}$"},
}
_PATH = {"id": UUID, "period": PERIOD}
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
    return sorted(statuses)


def _operation(route: RestRoute) -> JSONObject:
    operation: JSONObject = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": list(route.tags),
        "parameters": [
            *(
                {"name": name, "in": "path", "required": True, "schema": _PATH[name]}
                for name in re.findall(r"{(\w+)}", route.path)
            ),
            *(
                [{"name": "If-Match", "in": "header", "required": False, "schema": _ETAG}]
                if route.if_match
                else []
            ),
            *([_IDEMPOTENCY_KEY] if route.method == "POST" else []),
            *(
                {
                    "name": p.name,
                    "in": "query",
                    "required": p.required,
                    "description": p.description,
                    "schema": p.schema,
                }
                for p in route.query
            ),
        ],
        "responses": {
            str(route.status): {
                "description": route.summary,
                "headers": {**_headers(), **({"ETag": {"schema": _ETAG}} if route.etag else {})},
                "content": {"application/json": {"schema": route.response}},
            },
            **{
                str(status): {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
                for status in _error_statuses(route)
            },
        },
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    return operation


def openapi_document(routes: Iterable[RestRoute]) -> JSONObject:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sales System REST API",
            "version": __version__,
            "description": "Each endpoint runs the GraphQL operation of the same name.",
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
            "schemas": {"Error": _ERROR_ENVELOPE},
            "responses": {
                code: {
                    "description": f"{status} {text}",
                    "headers": _headers(),
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, (code, text) in _ERRORS.items()
            },
        },
    }


def _schema_text(schema: JSONObject | None) -> str:
    if not schema:
        return ""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        f"<td>{html.escape(str(prop.get('type', 'object')))}</td>"
        f"<td>{'yes' if name in required else ''}</td></tr>"
        for name, prop in properties.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>required</th></tr>{rows}</table>"


def docs_html(routes: Iterable[RestRoute]) -> str:
    """The API reference rendered on the server: no script, no CDN, works offline."""
    sections = []
    for route in routes:
        params = ", ".join(p.name for p in route.query)
        sections.append(
            f"<section><h2><code>{route.method} {html.escape(route.path)}</code></h2>"
            f"<p>{html.escape(route.summary)} &mdash; success <b>{route.status}</b>"
            f"{f'; query: <code>{html.escape(params)}</code>' if params else ''}</p>"
            f"{'<h3>Request body</h3>' + _schema_text(route.body) if route.body else ''}"
            f"<h3>Response</h3>{_schema_text(route.response)}"
            f"<details><summary>GraphQL operation</summary>"
            f"<pre>{html.escape(route.document)}</pre></details></section>"
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
    return orjson.dumps(openapi_document(ROUTES), option=orjson.OPT_INDENT_2) + b"\n"
