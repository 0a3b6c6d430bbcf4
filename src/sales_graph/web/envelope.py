"""The spec's error envelope, rendered in one place for every non-2xx response."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from sales_graph.auth.challenge import ANONYMOUS
from sales_graph.correlation import current_request_id
from sales_graph.errors import SalesGraphError, error_for_status
from sales_graph.timeutil import format_datetime, utcnow


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_body(error: SalesGraphError, request_id: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "request_id": request_id or current_request_id(),
            "timestamp": format_datetime(utcnow()),
        }
    }


def error_response(error: SalesGraphError, request_id: str | None = None) -> Response:
    headers = error.headers
    if error.http_status == 401 and "WWW-Authenticate" not in headers:
        # RFC 9110 section 15.5.2: every 401 says how to authenticate.
        headers = {**headers, "WWW-Authenticate": ANONYMOUS}
    if error.http_status == 503 and "Retry-After" not in headers:
        # Every 503 says when to try again (RFC 9110 section 10.2.3).
        headers = {**headers, "Retry-After": str((error.details or {}).get("retry_after_s", 1))}
    return JSONResponse(error_body(error, request_id), error.http_status, headers=headers)


async def handle_sales_graph_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SalesGraphError)
    return error_response(exc)


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method) in our envelope."""
    assert isinstance(exc, HTTPException)
    error = error_for_status(exc.status_code, exc.detail)
    error.headers.update(exc.headers or {})
    return error_response(error)
