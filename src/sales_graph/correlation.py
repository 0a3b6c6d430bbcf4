"""The request context: request and correlation ids, bound to logs for the request's duration."""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from dataclasses import dataclass

_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    correlation_id: str


_current: ContextVar[RequestContext | None] = ContextVar("sales_graph_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def enter_request(context: RequestContext) -> Token[RequestContext | None]:
    return _current.set(context)


def leave_request(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def client_supplied_id(value: str | None) -> str | None:
    """A caller's id is echoed back and logged, so only a short, plain one is kept."""
    # fullmatch: ``$`` would also match before a final newline, which would reach a header.
    return value if value and _SAFE_ID.fullmatch(value) else None
