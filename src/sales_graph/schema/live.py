"""The machinery of GraphQL subscriptions (docs/real-time.md), shared by both transports.

A :class:`Connection` is what a subscription's root resolver sees as ``info.context``: the
principal authenticated when the connection opened (kept current by the transport), and a way
to end the connection with a close code. :func:`live_stream` registers a listener of the
process's :class:`~sales_graph.events.fanout.Fanout` (the limits are checked there) and
returns a :class:`LiveStream`: for each event, a fresh :class:`Context` (its own session,
the subscriber's scope read again, its own loaders) reads what the subscriber sees of it,
and the event's selection is executed with that context (``schema/delivery.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeAlias, TypeVar, cast

from graphql.error import GraphQLError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo
from strawberry.types.graphql import OperationType

from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import RateLimitExceeded, Unauthorized, ValidationError
from sales_graph.events.fanout import Listener, LiveEvent, SlowConsumer, TooManyListeners
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.schema.delivery import Delivery
from sales_graph.services.access import scope_for


class CloseCode(IntEnum):
    """How the gateway ends a subscription connection (WebSocket close codes; over SSE the
    last message's error names the same reason)."""

    # No valid credentials at connection_init, or they expired or were revoked since.
    UNAUTHORIZED = 4401
    # More events waited for one subscription than SUBSCRIPTIONS__QUEUE_SIZE.
    SLOW_CONSUMER = 4413


@dataclass(eq=False)
class Connection:
    runtime: Runtime
    # The WebSocket, or the SSE request.
    request: HTTPConnection
    principal: Principal | None = None
    # graphql-transport-ws connection_init payload (Strawberry sets it).
    connection_params: dict[str, Any] | None = None
    subscriptions: int = 0
    ending: asyncio.Future[tuple[CloseCode, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def end(self, code: CloseCode, reason: str) -> None:
        """Asks the transport to close the connection (the first reason wins)."""
        if not self.ending.done():
            self.ending.set_result((code, reason))

    async def scope(self) -> AccessScope:
        async with self.runtime.db.session() as session:
            return await scope_for(session, self.principal)

    def event_context(self, session: AsyncSession) -> Context:
        return Context(
            request=self.request,
            response=None,
            runtime=self.runtime,
            session=session,
            principal=self.principal,
        )


StreamInfo: TypeAlias = StrawberryInfo[Connection, None]
T = TypeVar("T")
# What the subscriber sees of an event (None: nothing to deliver), read under its scope.
Read: TypeAlias = Callable[[AsyncSession, AccessScope, LiveEvent], Awaitable[T | None]]


class LiveStream:
    """The source stream of one subscription: an async iterator of :class:`Delivery`."""

    def __init__(
        self,
        connection: Connection,
        listener: Listener,
        read: Read[object],
        *,
        relevant: Callable[[LiveEvent], bool] | None = None,
        coalesce_s: float = 0.0,
    ) -> None:
        self.connection = connection
        self.listener = listener
        self.read = read
        self.relevant = relevant
        self.coalesce_s = coalesce_s
        self._current: Delivery | None = None
        self._closed = False

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> Delivery:
        await self._end_current()
        while True:
            try:
                event = await self._next_event()
            except SlowConsumer as exc:
                self.connection.end(CloseCode.SLOW_CONSUMER, f"Slow consumer: {exc}")
                # The transport closes the connection and cancels this operation.
                await asyncio.Future()
                continue
            delivery = await self._deliver(event)
            if delivery is not None:
                self._current = delivery
                return delivery

    async def _next_event(self) -> LiveEvent:
        while True:
            event = await self.listener.get()
            if self.relevant is not None and not self.relevant(event):
                continue
            if self.coalesce_s > 0:
                # Changes come in bursts (a conversion, a reassignment of many deals): one
                # answer after the burst instead of one per event.
                await asyncio.sleep(self.coalesce_s)
                self.listener.pending()
            return event

    async def _deliver(self, event: LiveEvent) -> Delivery | None:
        delivery = Delivery(value=None, context=None)
        runtime = self.connection.runtime
        try:
            # A turn first (held until the delivery closes, its selection complete): at most
            # MAX_CONCURRENT_DELIVERIES of the process hold a connection, the rest wait here.
            slots = runtime.fanout.delivery_slots(
                runtime.settings.subscriptions.max_concurrent_deliveries
            )
            await delivery.resources.enter_async_context(slots)
            session = await delivery.resources.enter_async_context(runtime.db.session())
            context = self.connection.event_context(session)
            await context.read_one_snapshot()
            scope = await context.scope()
            value = await context.run(lambda s: self.read(s, scope, event))
        except BaseException:
            await delivery.close()
            raise
        if value is None:
            await delivery.close()
            return None
        delivery.value, delivery.context = value, context
        return delivery

    async def _end_current(self) -> None:
        if self._current is not None:
            await self._current.close()
            self._current = None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._end_current()
        self.connection.runtime.fanout.remove(self.listener)
        self.connection.subscriptions -= 1


async def live_stream(
    info: StreamInfo,
    topics: frozenset[str],
    check: Callable[[AccessScope], None],
    read: Read[T],
    *,
    relevant: Callable[[LiveEvent], bool] | None = None,
    coalesce_s: float = 0.0,
) -> AsyncIterator[T]:
    """A subscription's stream, once the caller may have it: ``check`` (its read scope) on the
    caller's scope now, and the per-connection and per-principal limits. It yields a
    :class:`Delivery` per event, which the executor unwraps into the ``T`` it carries
    (``schema/limits.py``): hence the cast."""
    connection = info.context
    if connection.principal is None:
        raise Unauthorized()
    check(await connection.scope())
    settings = connection.runtime.settings.subscriptions
    if connection.subscriptions >= settings.max_per_connection:
        raise RateLimitExceeded(
            f"At most {settings.max_per_connection} subscriptions per connection",
            details={"limit": settings.max_per_connection},
        )
    try:
        listener = connection.runtime.fanout.add(
            topics,
            holder=connection.principal.subject,
            queue_size=settings.queue_size,
            max_per_holder=settings.max_per_principal,
        )
    except TooManyListeners:
        raise RateLimitExceeded(
            f"At most {settings.max_per_principal} subscriptions per caller",
            details={"limit": settings.max_per_principal},
        ) from None
    connection.subscriptions += 1
    stream = LiveStream(connection, listener, read, relevant=relevant, coalesce_s=coalesce_s)
    return cast(AsyncIterator[T], stream)


STREAMS_ONLY = (
    "Subscriptions run over a WebSocket (graphql-transport-ws) or Server-Sent Events"
    " (Accept: text/event-stream) on /graphql"
)


class SubscriptionsOverStreams(SchemaExtension):
    """A subscription sent as a plain request (a JSON POST, a GET) is refused before it runs
    (VALIDATION_ERROR): it has no connection to deliver events on."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        if (
            not execution.pre_execution_errors
            and execution.graphql_document is not None
            and not isinstance(execution.context, Connection)
            and execution.operation_type is OperationType.SUBSCRIPTION
        ):
            error = ValidationError(STREAMS_ONLY)
            execution.pre_execution_errors = [GraphQLError(error.message, original_error=error)]
        yield
