"""The errors of sales-graph and the spec's codes they stand for.

Every expected failure is one of these; the HTTP layer (REST and GraphQL) renders them in one
place (``sales_graph.http.envelope``). The tree:

* SalesGraphError                     INTERNAL_ERROR            500
  * ValidationError                   VALIDATION_ERROR          400
  * Unauthorized                      UNAUTHORIZED              401
  * Forbidden                         FORBIDDEN                 403
  * NotFound                          NOT_FOUND                 404
  * MethodNotAllowed                  METHOD_NOT_ALLOWED        405
  * Conflict                          CONFLICT                  409
  * PreconditionFailed                PRECONDITION_FAILED       412
  * PayloadTooLarge                   PAYLOAD_TOO_LARGE         413
  * UnsupportedMediaType              UNSUPPORTED_MEDIA_TYPE    415
  * IdempotencyKeyReused              IDEMPOTENCY_KEY_REUSED    422
  * RateLimitExceeded                 RATE_LIMIT_EXCEEDED       429
  * UpstreamError                     UPSTREAM_UNAVAILABLE      502
    * UpstreamUnavailable             UPSTREAM_UNAVAILABLE      502
    * UpstreamTimeout                 UPSTREAM_TIMEOUT          504
  * ServiceUnavailable                SERVICE_UNAVAILABLE       503

The spec's table has the codes VALIDATION_ERROR to INTERNAL_ERROR; DESIGN.md adds
PRECONDITION_FAILED; the HTTP-level codes (405, 413, 415), the upstream codes and
SERVICE_UNAVAILABLE are ours, listed in ``docs/errors.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SalesGraphError(Exception):
    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}
        super().__init__(self.message)


class ValidationError(SalesGraphError):
    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "Invalid request data"

    @classmethod
    def of(cls, field: str, message: str) -> ValidationError:
        """The error for one field: ``details.fields`` names it."""
        return cls(message, details={"fields": {field: message}})


class Unauthorized(SalesGraphError):
    code = "UNAUTHORIZED"
    http_status = 401
    default_message = "Missing or invalid authentication"


class Forbidden(SalesGraphError):
    code = "FORBIDDEN"
    http_status = 403
    default_message = "Insufficient permissions"


class NotFound(SalesGraphError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "Resource not found"

    @classmethod
    def of(cls, kind: str, field: str) -> NotFound:
        """The answer for an id that is unknown or that the caller may not see: the same
        words either way, naming the argument but never echoing an id."""
        return cls(f"{kind} not found", details={"field": field})


class MethodNotAllowed(SalesGraphError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405
    default_message = "Method not allowed"


class Conflict(SalesGraphError):
    code = "CONFLICT"
    http_status = 409
    default_message = "Duplicate or conflicting data"


class PreconditionFailed(SalesGraphError):
    code = "PRECONDITION_FAILED"
    http_status = 412
    default_message = "The resource changed since it was read"


class PayloadTooLarge(SalesGraphError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    default_message = "Request body too large"


class IdempotencyKeyReused(SalesGraphError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422
    default_message = "The Idempotency-Key was used with a different request"


class UnsupportedMediaType(SalesGraphError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415
    default_message = "Unsupported content type"


class RateLimitExceeded(SalesGraphError):
    code = "RATE_LIMIT_EXCEEDED"
    http_status = 429
    default_message = "Too many requests"


class UpstreamError(SalesGraphError):
    code = "UPSTREAM_UNAVAILABLE"
    http_status = 502
    default_message = "An upstream system failed"


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"
    http_status = 502
    default_message = "An upstream system is unavailable"


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"
    http_status = 504
    default_message = "An upstream system did not answer in time"


class ServiceUnavailable(SalesGraphError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    default_message = "Service unavailable"


_BY_STATUS: dict[int, type[SalesGraphError]] = {
    cls.http_status: cls
    for cls in (
        ValidationError,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimitExceeded,
        ServiceUnavailable,
    )
}


def error_for_status(status: int, message: str | None = None) -> SalesGraphError:
    """The error that an HTTP status raised by a framework (Starlette, Strawberry) stands for."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ValidationError if 400 <= status < 500 else SalesGraphError
    return cls(message)
