"""The outermost middleware: request ids, the access log, and the 500 envelope.

A WebSocket's upgrade request gets its request id too (``X-Request-ID`` in the handshake's
answer), bound for the connection's lifetime: its logs carry it, and so do the errors of its
subscriptions (``extensions.request_id``); one ``websocket.connection`` line is logged when it
ends."""

from __future__ import annotations

import time
import uuid
from contextvars import Token

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from sales_graph.correlation import (
    RequestContext,
    client_supplied_id,
    enter_request,
    leave_request,
)
from sales_graph.db.unavailable import is_unavailable
from sales_graph.errors import SalesGraphError, ServiceUnavailable
from sales_graph.logs import get_logger
from sales_graph.web.asgi import HttpMiddleware
from sales_graph.web.envelope import error_response
from sales_graph.web.metrics import observe_request

_log = get_logger("sales_graph.http")


def _enter(scope: Scope) -> tuple[str, Token[RequestContext | None]]:
    """The request's id (the caller's, when plain enough, else a new one), bound to the
    context and the logs; the token to leave it with."""
    headers = Headers(scope=scope)
    request_id = client_supplied_id(headers.get("x-request-id")) or str(uuid.uuid4())
    correlation_id = client_supplied_id(headers.get("x-correlation-id")) or request_id
    token = enter_request(RequestContext(request_id, correlation_id))
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
    return request_id, token


def _leave(token: Token[RequestContext | None]) -> None:
    structlog.contextvars.clear_contextvars()
    leave_request(token)


class RequestContextMiddleware(HttpMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id, token = _enter(scope)
        close_code: int | None = None
        accepted = False
        begun = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal accepted, close_code
            if message["type"] == "websocket.accept":
                accepted = True
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.close" and close_code is None:
                close_code = message.get("code", 1000)
            await send(message)

        async def receive_close() -> Message:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        try:
            await self.app(scope, receive_close, send_with_id)
        except Exception:
            _log.exception("websocket.unhandled_error", path=scope["path"])
            raise
        finally:
            _log.info(
                "websocket.connection",
                path=scope["path"],
                accepted=accepted,
                close_code=close_code,
                duration_ms=round((time.perf_counter() - begun) * 1000, 2),
            )
            _leave(token)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id, token = _enter(scope)
        status = 500
        started = False
        begun = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away before its body arrived: nobody to answer, nothing broken.
            # 499 in the access log, as nginx counts it; no error logged, no 5xx counted.
            status = 499
            _log.info("http.client_disconnected", method=scope["method"], path=scope["path"])
        except Exception as exc:
            if is_unavailable(exc):
                # The database went away (a restart, cut connections): retryable, not a bug.
                _log.warning(
                    "http.database_unavailable",
                    method=scope["method"],
                    path=scope["path"],
                    error=repr(exc),
                )
                error: SalesGraphError = ServiceUnavailable(
                    "The database is unavailable; retry shortly",
                    details={"retry_after_s": 1},
                )
            else:
                # Logged here with the request id; the caller learns nothing of the internals.
                _log.exception("http.unhandled_error", method=scope["method"], path=scope["path"])
                error = SalesGraphError()
            if started:
                raise
            await error_response(error, request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - begun
            observe_request(scope, status, elapsed)
            _log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            _leave(token)
