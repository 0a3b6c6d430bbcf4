"""Subscriptions over graphql-transport-ws on ``/graphql`` (docs/real-time.md).

Strawberry's protocol handler, with the gateway's rules: ``connection_init`` authenticates the
connection (its payload's ``Authorization`` or ``X-API-Key``, else the upgrade request's) and
is refused with 4401 otherwise, a bearer token past its ``exp`` included (the verifier's leeway
is for requests); once acknowledged, the credentials stay under watch, a ``ping`` goes out every
``SUBSCRIPTIONS__HEARTBEAT_S``, and a connection a subscription asks to end (a slow consumer,
expired credentials) is closed with its code, each of its subscriptions first getting an
``error`` that says why and carries the request id (``web/live.py``'s ``ended_error``, as the
last ``next`` of an SSE stream). Only subscriptions run here.

A message over a request body's limit closes the socket with 1009 (``web/graphql.py``; uvicorn
as ``sales-graph serve`` runs it refuses it first, ``web/server.py``). A message the protocol
does not describe closes it with 4400 (not a JSON object; a ``subscribe`` without a string
``id`` of at most ``MAX_ID_LENGTH`` characters or a payload with a string ``query``). A
``subscribe`` whose other parameters are malformed (``web/params.py``) or that is not a
subscription gets an ``error`` message (``VALIDATION_ERROR``, as ``POST /graphql`` answers it):
its operation only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from typing import Any

from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from graphql import OperationType
from sales_graph.errors import ServiceUnavailable, Unauthorized
from sales_graph.schema.context import Context
from sales_graph.schema.live import EXPIRED_REASON, CloseCode, Connection
from sales_graph.web.live import (
    NOT_A_SUBSCRIPTION,
    authenticate,
    close_reason,
    credentials,
    ended_error,
    operation_type,
    request_error,
    token_expiry,
    watch_credentials,
)
from sales_graph.web.params import malformed

# RFC 6455: the server cannot serve now; the client may try again later.
TRY_AGAIN_LATER = 1013
# RFC 6455: a message too big to process.
MESSAGE_TOO_BIG = 1009
# The longest subscription id taken: it is kept as long as its subscription runs.
MAX_ID_LENGTH = 128
# How long the errors that tell a connection's subscriptions why it ends may take to go out
# (a slow consumer's socket may not drain) before the close frame follows anyway.
_ENDING_ERRORS_S = 1.0


def too_big(text: str, max_bytes: int) -> bool:
    """Whether ``text`` takes more than ``max_bytes`` in UTF-8 (encoded only when it may)."""
    if len(text) * 4 <= max_bytes:
        return False
    return len(text) > max_bytes or len(text.encode()) > max_bytes


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler[Context | Connection, None]):
    _tasks: list[asyncio.Task[None]]

    @property
    def connection(self) -> Connection:
        # The view's context of a WebSocket (web/graphql.py's get_context).
        assert isinstance(self.context, Connection)
        return self.context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        connection = self.connection
        if message.get("payload") is None:
            # The payload is optional: none is an empty one.
            message["payload"] = {}
        payload = message["payload"]
        if (
            self.connection_init_received
            or self.connection_timed_out
            or not isinstance(payload, dict)
        ):
            await super().handle_connection_init(message)
            return
        headers = credentials(payload, connection.request.headers)
        try:
            connection.principal = await authenticate(connection, headers)
        except Unauthorized as exc:
            await self.websocket.close(4401, close_reason(f"Unauthorized: {exc.message}"))
            return
        except ServiceUnavailable as exc:
            await self.websocket.close(TRY_AGAIN_LATER, close_reason(exc.message))
            return
        connection.expires_at = token_expiry(headers)
        if connection.token_expired():
            # Past its exp but within the verifier's leeway (enough for a request): the watch
            # would end the connection at once, so it is refused before any connection_ack.
            await self.websocket.close(int(CloseCode.UNAUTHORIZED), EXPIRED_REASON)
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._tasks = [
                self._start(watch_credentials(connection, headers)),
                self._start(self._heartbeat()),
                self._start(self._end_when_asked()),
            ]

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        task.add_done_callback(self._task_done)
        return task

    async def _heartbeat(self) -> None:
        interval = self.connection.runtime.settings.subscriptions.heartbeat_s
        while True:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})

    async def _end_when_asked(self) -> None:
        code, reason = await self.connection.ending
        # Each running subscription gets an error saying why, with the request id (a browser
        # cannot read the handshake's X-Request-ID), as an SSE stream's last next; nothing of
        # it goes out after that (Strawberry's operation is completed), then the close frame.
        error = ended_error(code, reason)
        with contextlib.suppress(TimeoutError, WebSocketDisconnected):
            async with asyncio.timeout(_ENDING_ERRORS_S):
                for operation in list(self.operations.values()):
                    if operation.completed:
                        continue
                    # Not forgotten: shutdown cancels its task.
                    operation.completed = True
                    await self.send_message(
                        {"id": operation.id, "type": "error", "payload": [error]}
                    )
        await self.websocket.close(int(code), close_reason(reason))

    async def handle_message(self, message: Message) -> None:
        if not isinstance(message, dict):
            await self.handle_invalid_message("Invalid message: not a JSON object")
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if reason := _invalid_subscribe(message):
            # The protocol: a message of a format it does not describe closes the socket.
            await self.handle_invalid_message(reason)
            return
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # 4401, 4409
            return
        payload = message["payload"]
        reason = malformed(payload) or _not_a_subscription(payload)
        if reason is not None:
            # A request error, as POST /graphql answers it (a 400 there): this operation only.
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [request_error(reason)]}
            )
            return
        await super().handle_subscribe(message)

    async def handle_complete(self, message: CompleteMessage) -> None:
        if not isinstance(message.get("id"), str):
            await self.handle_invalid_message("Invalid message: complete needs a string id")
            return
        await super().handle_complete(message)

    async def shutdown(self) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().shutdown()


def _invalid_subscribe(message: SubscribeMessage) -> str | None:
    """Why a ``subscribe`` is not a message of the protocol (closed with 4400), or None: its
    ``id`` is a non-empty string of at most ``MAX_ID_LENGTH`` characters, its ``payload`` an
    object with a string ``query``."""
    id_ = message.get("id")
    if not isinstance(id_, str) or not id_:
        return "Invalid message: subscribe needs an id, a non-empty string"
    if len(id_) > MAX_ID_LENGTH:
        return f"Invalid message: subscribe needs an id of at most {MAX_ID_LENGTH} characters"
    payload: object = message.get("payload")
    if not isinstance(payload, dict):
        return "Invalid message: subscribe needs a payload, an object"
    if not isinstance(payload.get("query"), str):
        return "Invalid message: subscribe needs a payload with a query, a string"
    return None


def _not_a_subscription(payload: Mapping[str, object]) -> str | None:
    kind = operation_type(payload.get("query"), payload.get("operationName"))
    if kind is not None and kind is not OperationType.SUBSCRIPTION:
        return NOT_A_SUBSCRIPTION
    return None
