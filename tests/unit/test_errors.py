from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from sales_graph import errors
from sales_graph.correlation import RequestContext, enter_request, leave_request
from sales_graph.web.envelope import error_body, error_response

SPEC_TABLE = {
    "VALIDATION_ERROR": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
}


@pytest.mark.parametrize(
    "cls",
    [
        errors.ValidationError,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.RateLimitExceeded,
        errors.SalesGraphError,
    ],
)
def test_each_code_of_the_spec_table_has_its_status(cls: type[errors.SalesGraphError]) -> None:
    assert SPEC_TABLE[cls.code] == cls.http_status


def test_envelope_has_the_spec_shape() -> None:
    error = errors.ValidationError(
        "Invalid opportunity stage transition",
        details={
            "current_stage": "discovery",
            "requested_stage": "closed_won",
            "allowed_stages": ["qualification", "proposal"],
        },
    )
    body = error_body(error, request_id="req-1")
    assert list(body) == ["error"]
    assert list(body["error"]) == ["code", "message", "details", "request_id", "timestamp"]
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["allowed_stages"] == ["qualification", "proposal"]
    assert body["error"]["request_id"] == "req-1"
    stamp = body["error"]["timestamp"]
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 5


def test_response_uses_status_headers_and_current_request_id() -> None:
    token = enter_request(RequestContext("abc-123", "corr-9"))
    try:
        response = error_response(errors.RateLimitExceeded(headers={"Retry-After": "3"}))
    finally:
        leave_request(token)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/json"
    body = orjson.loads(response.body)
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["error"]["request_id"] == "abc-123"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "VALIDATION_ERROR"),
        (404, "NOT_FOUND"),
        (405, "METHOD_NOT_ALLOWED"),
        (413, "PAYLOAD_TOO_LARGE"),
        (415, "UNSUPPORTED_MEDIA_TYPE"),
        (418, "VALIDATION_ERROR"),
        (503, "SERVICE_UNAVAILABLE"),
        (599, "INTERNAL_ERROR"),
    ],
)
def test_framework_statuses_map_to_codes(status: int, code: str) -> None:
    assert errors.error_for_status(status).code == code


def test_upstream_errors_share_a_base() -> None:
    assert issubclass(errors.UpstreamTimeout, errors.UpstreamError)
    assert errors.UpstreamTimeout.code == "UPSTREAM_TIMEOUT"
    assert errors.UpstreamUnavailable.code == "UPSTREAM_UNAVAILABLE"
