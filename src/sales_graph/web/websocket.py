"""Subscriptions over graphql-transport-ws on ``/graphql`` (docs/real-time.md).

Strawberry's protocol handler, with the gateway's rules: ``connection_init`` authenticates the
connection (its payload's ``Authorization`` or ``X-API-Key``, else the upgrade request's) and
is refused with 4401 otherwise; once acknowledged, the credentials stay under watch, a ``ping``
goes out every ``SUBSCRIPTIONS__HEARTBEAT_S``, and a connection a subscription asks to end
(a slow consumer, expired credentials) is closed with its code. Only subscriptions run here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from graphql import GraphQLError, OperationType
from sales_graph.errors import ServiceUnavailable, Unauthorized
from sales_graph.schema.context import Context
from sales_graph.schema.live import Connection
from sales_graph.web.live import (
    NOT_A_SUBSCRIPTION,
    authenticate,
    close_reason,
    credentials,
    operation_type,
    watch_credentials,
)

# RFC 6455: the server cannot serve now; the client may try again later.
TRY_AGAIN_LATER = 1013


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
        await self.websocket.close(int(code), close_reason(reason))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload")
        if self.connection_acknowledged and isinstance(payload, dict):
            kind = operation_type(payload.get("query"), payload.get("operationName"))
            if kind is not None and kind is not OperationType.SUBSCRIPTION:
                error = GraphQLError(NOT_A_SUBSCRIPTION, extensions={"code": "VALIDATION_ERROR"})
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [error.formatted]}
                )
                return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().shutdown()
