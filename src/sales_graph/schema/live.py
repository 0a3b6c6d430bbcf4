"""The machinery of GraphQL subscriptions (docs/real-time.md), shared by both transports.

A :class:`Connection` is what a subscription's root resolver sees as ``info.context``: the
principal authenticated when the connection opened (kept current by the transport), and a way
to end the connection with a close code. :func:`live_stream` registers a listener of the
process's :class:`~sales_graph.events.fanout.Fanout` (the limits are checked there) and
returns a :class:`LiveStream`. For each event, the subscriptions of one *audience* (the same
principal, operation and variables: ``schema/delivery.py``) share one answer: the first of them
to get there reads the event (a fresh :class:`Context`: its own session, the principal's scope
read again, its own loaders) and executes the selection on it, in a task the others join.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NoReturn, TypeAlias, TypeVar, cast

from graphql.error import GraphQLError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo
from strawberry.types.graphql import OperationType

from graphql import ExecutionResult
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import RateLimitExceeded, Unauthorized, ValidationError
from sales_graph.events.fanout import Listener, LiveEvent, SlowConsumer, TooManyListeners
from sales_graph.runtime import Runtime
from sales_graph.schema.context import Context
from sales_graph.schema.delivery import Audience, Delivery, EventSource, operation_key
from sales_graph.services.access import scope_for

# How long after it was worked out an audience's answer to an event still serves a subscriber
# of that audience who reaches the event late (one busy sending the previous answer): later, it
# is worked out again, so a subscriber far behind still gets what it sees when it gets there.
SHARE_WINDOW_S = 1.0
# Why a connection whose bearer token's exp has passed ends (or is refused at connection_init).
EXPIRED_REASON = "The token expired"


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
    # The bearer token's exp (web/live.py sets it), after which nothing is delivered.
    expires_at: float | None = None
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

    def token_expired(self) -> bool:
        """Whether the bearer token's ``exp`` has passed (the verifier's leeway aside: a
        connection lasts, a request does not)."""
        return self.expires_at is not None and time.time() >= self.expires_at

    def valid_principal(self) -> Principal | None:
        """The principal events are delivered to now; None when the connection is ending, or
        its bearer token expired (then it ends, whether or not its watch has woken yet)."""
        if self.ending.done():
            return None
        if self.token_expired():
            self.end(CloseCode.UNAUTHORIZED, EXPIRED_REASON)
            return None
        return self.principal


StreamInfo: TypeAlias = StrawberryInfo[Connection, None]
T = TypeVar("T")
# What the subscriber sees of an event (None: nothing to deliver), read under its scope.
Read: TypeAlias = Callable[[AsyncSession, AccessScope, LiveEvent], Awaitable[T | None]]


class LiveStream(EventSource):
    """The source stream of one subscription: an async iterator of :class:`Delivery`, each the
    answer of the subscription's audience to an event (``schema/delivery.py``)."""

    def __init__(
        self,
        connection: Connection,
        listener: Listener,
        read: Read[object],
        operation: Hashable,
        *,
        relevant: Callable[[LiveEvent], bool] | None = None,
        coalesce_s: float = 0.0,
    ) -> None:
        self.connection = connection
        self.listener = listener
        self.read = read
        self.operation = operation
        self.relevant = relevant
        self.coalesce_s = coalesce_s
        self._audience: Audience | None = None
        self._closed = False

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> Delivery:
        while True:
            try:
                burst = await self._next_burst()
            except SlowConsumer as exc:
                self.connection.end(CloseCode.SLOW_CONSUMER, f"Slow consumer: {exc}")
                # The transport closes the connection and cancels this operation.
                await _until_cancelled()
            # A coalesced answer is of the state now: the latest event the subscriber may
            # learn of stands for the burst (an earlier one it does not see must not hide it).
            for event in reversed(burst):
                result = await self._answer(event)
                if result is not None:
                    return Delivery(result)

    async def _next_burst(self) -> list[LiveEvent]:
        """The next relevant event, or with coalescing, it and the relevant ones that came
        within ``coalesce_s`` after it."""
        while True:
            event = await self.listener.get()
            if not self._relevant(event):
                continue
            if self.coalesce_s <= 0:
                return [event]
            # Changes come in bursts (a conversion, a reassignment of many deals): one
            # answer after the burst instead of one per event.
            await asyncio.sleep(self.coalesce_s)
            return [event, *filter(self._relevant, self.listener.pending())]

    def _relevant(self, event: LiveEvent) -> bool:
        return self.relevant is None or self.relevant(event)

    async def _answer(self, event: LiveEvent) -> ExecutionResult | None:
        """The audience's answer to ``event`` (None: nothing to deliver), worked out by the first
        of its subscriptions to get there, or joined while it is at it."""
        connection = self.connection
        principal = connection.valid_principal()
        if principal is None:
            # Ending (expired, refused, a slow consumer): nothing more is delivered; the
            # transport closes the connection and cancels this operation.
            await _until_cancelled()
        if self._audience is None or self._audience.principal is not principal:
            self._audience = Audience(principal, self.operation)
        audience = self._audience
        answer = event.shared.get(audience)
        if not isinstance(answer, SharedAnswer) or not answer.reusable():
            answer = SharedAnswer(connection.runtime.fanout.spawn(self._work(event, principal)))
            event.shared[audience] = answer
        # Shielded: a subscriber going away leaves the work to the others of its audience.
        result = await asyncio.shield(answer.task)
        if connection.valid_principal() is None:
            # It began to end (or its token expired) while the answer was worked out.
            await _until_cancelled()
        return result

    async def _work(self, event: LiveEvent, principal: Principal) -> ExecutionResult | None:
        """Reads ``event`` as ``principal`` sees it now and executes the selection on it, in a
        session, scope and loaders of its own, closed before the answer goes out."""
        runtime = self.connection.runtime
        executor = self.executor
        assert executor is not None, "the subscription's executor binds itself (schema/limits.py)"
        # A turn first (held until the selection is complete): at most
        # MAX_CONCURRENT_DELIVERIES of the process hold a connection, the rest wait here.
        slots = runtime.fanout.delivery_slots(
            runtime.settings.subscriptions.max_concurrent_deliveries
        )
        async with slots, runtime.db.session() as session:
            context = Context(
                request=self.connection.request,
                response=None,
                runtime=runtime,
                session=session,
                principal=principal,
            )
            await context.read_one_snapshot()
            scope = await context.scope()
            value = await context.run(lambda s: self.read(s, scope, event))
            if value is None:
                return None
            result = executor.execute_event(value, context)
            return await result if isinstance(result, Awaitable) else result

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.connection.runtime.fanout.remove(self.listener)
        self.connection.subscriptions -= 1


async def _until_cancelled() -> NoReturn:
    await asyncio.Future()
    raise AssertionError("unreachable")


class SharedAnswer:
    """The work on one event for one audience, and when it ended."""

    def __init__(self, task: asyncio.Task[ExecutionResult | None]) -> None:
        self.task = task
        self.ended_at: float | None = None
        task.add_done_callback(self._ended)

    def _ended(self, _: asyncio.Task[ExecutionResult | None]) -> None:
        self.ended_at = time.monotonic()

    def reusable(self) -> bool:
        """In progress, or answered within ``SHARE_WINDOW_S``: a failure is not (the next
        subscriber tries again), nor an answer older than that (it reads the event again)."""
        if not self.task.done():
            return True
        if self.task.cancelled() or self.task.exception() is not None:
            return False
        return self.ended_at is not None and time.monotonic() - self.ended_at <= SHARE_WINDOW_S


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
    raw = info._raw_info
    operation = operation_key(raw.operation, raw.fragments, info.variable_values)
    stream = LiveStream(
        connection, listener, read, operation, relevant=relevant, coalesce_s=coalesce_s
    )
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
