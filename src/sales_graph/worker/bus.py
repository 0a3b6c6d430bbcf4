"""The in-process bus of the embedded footprint: published events reach the same handlers the
worker's Kafka consumers call, one at a time, in publication order; a failing handler is tried
up to ``max_attempts`` times (tenacity), waiting ``backoff_s * n`` after attempt n."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt, wait_incrementing

from sales_graph.logs import get_logger
from sales_graph.telemetry import tracing

Handler = Callable[[dict[str, Any]], Awaitable[None]]

_log = get_logger("sales_graph.worker.bus")


class Bus:
    def __init__(self, *, max_attempts: int = 5, backoff_s: float = 0.2) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._queue: asyncio.Queue[tuple[str, str, dict[str, Any], str | None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        # Events whose handler kept failing (the embedded dead-letter list).
        self.dead_letters: list[tuple[dict[str, Any], str]] = []

    def subscribe(self, topic: str, handler: Handler) -> None:
        """``topic`` is the logical topic of the catalog (``opportunities``, ``billing`` ...)."""
        self._handlers.setdefault(topic, []).append(handler)

    def put(
        self, topic: str, key: str, envelope: dict[str, Any], *, traceparent: str | None = None
    ) -> None:
        """``traceparent``: the trace of the request that recorded the event, which its
        handling continues (tracing on)."""
        if self._handlers.get(topic):
            self._queue.put_nowait((topic, key, envelope, traceparent))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Waits until every event put so far was handled (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            topic, _key, envelope, traceparent = await self._queue.get()
            try:
                with tracing.processing(
                    topic,
                    [("traceparent", traceparent.encode())] if traceparent else None,
                    system="sales_graph.bus",
                    message_id=envelope.get("event_id"),
                ):
                    for handler in self._handlers.get(topic, []):
                        await self._deliver(handler, envelope)
            finally:
                self._queue.task_done()

    async def _deliver(self, handler: Handler, envelope: dict[str, Any]) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_incrementing(start=self.backoff_s, increment=self.backoff_s),
            after=lambda state: _log.warning(
                "events.handler_failed",
                event_id=envelope.get("event_id"),
                event_type=envelope.get("event_type"),
                attempt=state.attempt_number,
                error=_described(state.outcome.exception() if state.outcome else None),
            ),
            reraise=True,
        )
        try:
            await retrying(handler, envelope)
        except Exception as exc:
            self.dead_letters.append((envelope, _described(exc)))
            tracing.mark_failed(_described(exc))


def _described(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}"
