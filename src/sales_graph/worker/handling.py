"""What every consumer's handler shares: the consumed event's id (the inbox key) and the request
context it is handled in, so that the events it emits and the calls it makes carry its ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import structlog

from sales_graph.correlation import RequestContext, client_supplied_id, enter_request, leave_request

# The inbox keeps event ids of up to 100 characters.
_MAX_EVENT_ID = 100


def event_id_of(message: dict[str, Any]) -> str:
    """``event_id`` when the message has a usable one, else a hash of its content (so that a
    sender without ids still gets its redeliveries deduplicated)."""
    given = message.get("event_id")
    if isinstance(given, str) and 0 < len(given) <= _MAX_EVENT_ID:
        return given
    canonical = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


@contextmanager
def handling(message: dict[str, Any], event_id: str) -> Iterator[RequestContext]:
    """The event's context while it is handled: request id = its event id, correlation id = its
    own (when it is a plain id), else its event id."""
    correlation = message.get("correlation_id")
    correlation_id = (
        client_supplied_id(correlation) if isinstance(correlation, str) else None
    ) or event_id
    context = RequestContext(request_id=event_id, correlation_id=correlation_id)
    token = enter_request(context)
    try:
        with structlog.contextvars.bound_contextvars(
            request_id=event_id, correlation_id=correlation_id
        ):
            yield context
    finally:
        leave_request(token)
