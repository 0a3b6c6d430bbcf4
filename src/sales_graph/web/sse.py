"""Subscriptions over Server-Sent Events: GraphQL over SSE, "distinct connections" mode
(docs/real-time.md), for clients that cannot open a WebSocket.

``POST /graphql`` with ``Accept: text/event-stream`` and a subscription document answers
``text/event-stream``: an ``event: next`` message per result (``data:`` the GraphQL response as
JSON), then ``event: complete``; a comment line (``: ping``) every
``SUBSCRIPTIONS__HEARTBEAT_S``. The request was authenticated by the middleware like any other;
its credentials stay under watch. When the gateway ends the stream (expired credentials, a slow
consumer) the last ``next`` carries an error whose ``extensions`` name the reason (``code``),
the WebSocket close code (``close_code``) and the request id (``web/live.py``'s
``ended_error``), then ``complete``.

A malformed request never gets here (``web/graphql.py`` answers it with a 400 and the error
envelope); what GraphQL reports before executing a well-formed one (parse, validation, no such
operation, variables, scope, limits) is the one ``next``, without ``data``, then ``complete``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from sales_graph.errors import Unauthorized
from sales_graph.logs import get_logger
from sales_graph.schema.live import EXPIRED_REASON, CloseCode, Connection
from sales_graph.web.envelope import error_response
from sales_graph.web.live import ended_error, token_expiry, watch_credentials

_log = get_logger("sales_graph.web.sse")
EVENT_STREAM = "text/event-stream"


def wants_event_stream(request: Request) -> bool:
    return request.method == "POST" and EVENT_STREAM in request.headers.get("accept", "").lower()


def _message(event: str, data: bytes = b"") -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def _result(result: ExecutionResult) -> bytes:
    body: dict[str, Any] = {"data": result.data}
    if result.data is None and result.errors and all(e.path is None for e in result.errors):
        # Nothing ran (parse, validation, a limit, a scope): no data entry, as in JSON.
        del body["data"]
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def serve_event_stream(
    schema: BaseSchema, request: Request, body: dict[str, Any], send: Send
) -> None:
    """Runs the subscription of ``body`` and streams its results until it completes, the
    client goes away, or the gateway ends it."""
    runtime = request.app.state.runtime
    principal = request.state.principal
    scope: Scope = request.scope
    if principal is None:
        await error_response(Unauthorized())(scope, request.receive, send)
        return
    connection = Connection(runtime=runtime, request=request, principal=principal)
    connection.expires_at = token_expiry(request.headers)
    if connection.token_expired():
        # Past its exp but within the verifier's leeway (enough for a request): the watch would
        # end the stream at once, so it is refused before it opens, as at a WebSocket's init.
        await error_response(Unauthorized(EXPIRED_REASON))(scope, request.receive, send)
        return
    stream = await schema.subscribe(
        body["query"],
        variable_values=body.get("variables"),
        context_value=connection,
        operation_name=body.get("operationName"),
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
            ],
        }
    )
    heartbeat_s = runtime.settings.subscriptions.heartbeat_s
    results: asyncio.Queue[ExecutionResult | None] = asyncio.Queue(1)
    helpers = [
        asyncio.create_task(watch_credentials(connection, request.headers)),
        asyncio.create_task(_disconnected(request.receive)),
        # The stream runs in one task of its own, one result ahead at most: a client that
        # reads slowly holds it back, and its subscription's queue fills (a slow consumer).
        asyncio.create_task(_pump(stream, results)),
    ]
    gone = helpers[1]
    try:
        while True:
            step = asyncio.ensure_future(results.get())
            waited: set[asyncio.Future[Any]] = {step, connection.ending, gone}
            done, _ = await asyncio.wait(
                waited,
                timeout=heartbeat_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if step not in done:
                step.cancel()
            if gone in done:
                return
            if connection.ending in done:
                code, reason = connection.ending.result()
                await _send(send, _message("next", _ended(code, reason)))
                break
            if not done:
                await _send(send, b": ping\n\n")
                continue
            result = step.result()
            if result is None:
                break
            await _send(send, _message("next", _result(result)))
        await _send(send, _message("complete"), more=False)
    finally:
        for helper in helpers:
            helper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await helper


async def _pump(
    stream: AsyncGenerator[ExecutionResult, None] | ExecutionResult,
    results: asyncio.Queue[ExecutionResult | None],
) -> None:
    """The subscription's results into ``results``, then None (also when it failed)."""
    try:
        if isinstance(stream, ExecutionResult):
            await results.put(stream)
        else:
            async with contextlib.aclosing(stream):
                async for result in stream:
                    await results.put(result)
    except Exception:
        _log.exception("sse.stream_failed")
    await results.put(None)


async def _send(send: Send, body: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


def _ended(code: CloseCode, reason: str) -> bytes:
    return orjson.dumps({"errors": [ended_error(code, reason)]})
