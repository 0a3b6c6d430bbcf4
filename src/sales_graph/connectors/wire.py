"""What goes on the wire to an external system, and how a response becomes a model or an error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
import structlog
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from sales_graph.connectors.errors import InvalidPayload, UpstreamNotFound, UpstreamRejected
from sales_graph.connectors.retry import parse_retry_after
from sales_graph.errors import UpstreamError, UpstreamUnavailable, ValidationError

M = TypeVar("M", bound=BaseModel)


def segment(value: str) -> str:
    """An id as exactly one path segment, so that no id can address another endpoint."""
    if not value:
        raise ValidationError("An upstream id may not be empty")
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if set(quoted) == {"."} else quoted


def jsonable(body: BaseModel | Mapping[str, Any]) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)


def call_headers(idempotency_key: str | None, *, has_body: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    if has_body:
        headers["Content-Type"] = "application/json"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    bound = structlog.contextvars.get_contextvars()
    for name, header in (("request_id", "X-Request-ID"), ("correlation_id", "X-Correlation-ID")):
        if isinstance(bound.get(name), str):
            headers[header] = bound[name]
    return headers


async def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` bytes: reading stops there, and the limit
    applies after decompression, so a gzip bomb stops here too."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) > limit:
            return None
    return bytes(buffer)


def too_large(system: str, limit: int, details: dict[str, Any]) -> InvalidPayload:
    return InvalidPayload(
        f"{system} sent an invalid payload: larger than {limit} bytes",
        details={**details, "reason": "too_large", "limit": limit},
    )


def parse_payload(system: str, model: type[M], body: bytes, details: dict[str, Any]) -> M:
    try:
        return model.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError:
        reason = "not JSON"
    except PydanticValidationError as exc:
        reason = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:3]
        )
    raise InvalidPayload(f"{system} sent an invalid payload", details={**details, "reason": reason})


def status_error(
    system: str, response: httpx.Response, body: bytes, details: dict[str, Any]
) -> UpstreamError | UpstreamNotFound:
    """The error a non-2xx status stands for; see ``connectors.errors`` for the tree."""
    status = response.status_code
    details = dict(details)
    upstream_code = error_code(body)
    if upstream_code is not None:
        details["upstream_code"] = upstream_code
    if status == 404:
        return UpstreamNotFound(f"{system} does not know {details.get('path')}", details=details)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            details["retry_after_s"] = retry_after
        return UpstreamUnavailable(f"{system} answered {status}", details=details)
    if 400 <= status < 500:
        return UpstreamRejected(f"{system} rejected the request with {status}", details=details)
    return UpstreamUnavailable(f"{system} answered an unexpected {status}", details=details)


def error_code(body: bytes) -> str | None:
    """The ``error.code`` of an error body in the spec's envelope, if that is what it is."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None
