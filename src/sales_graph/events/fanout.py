"""Committed events handed to the live subscriptions of this process (docs/real-time.md).

The feed (the in-process bus of the embedded footprint, or the gateway's own Kafka reader)
publishes each event once; every listener of its topic gets it in a bounded queue of its own.
A listener whose queue is full when an event arrives is *overflowed*: its queue is emptied and
its next read raises :class:`SlowConsumer`, so a subscriber that does not keep up costs at most
``queue_size`` events of memory, never more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class SlowConsumer(Exception):
    """More events waited for a listener than its queue holds."""


class TooManyListeners(Exception):
    """The principal holds as many listeners as it may."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A committed event: its logical topic (``leads``, ``opportunities`` ...) and envelope.

    One object reaches every listener of its topic; ``shared`` holds what the subscriptions of
    one audience work out about it once for all of them (``schema/live.py``). It lives as long
    as the event does (in a queue or a delivery): bounded like the queues."""

    topic: str
    envelope: dict[str, Any]
    shared: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def event_type(self) -> str:
        return str(self.envelope.get("event_type", ""))

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.envelope.get("payload")
        return payload if isinstance(payload, dict) else {}


@dataclass(eq=False)
class Listener:
    topics: frozenset[str]
    holder: str
    queue_size: int
    overflowed: bool = False
    # None: the queue overflowed (it wakes a reader waiting for the event that was dropped).
    _queue: asyncio.Queue[LiveEvent | None] = field(init=False)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(self.queue_size)

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def get(self) -> LiveEvent:
        if self.overflowed:
            raise SlowConsumer(f"more than {self.queue_size} events were waiting")
        event = await self._queue.get()
        if event is None:
            raise SlowConsumer(f"more than {self.queue_size} events were waiting")
        return event

    def pending(self) -> list[LiveEvent]:
        """The events waiting now, taken out of the queue (coalescing readers)."""
        if self.overflowed:
            raise SlowConsumer(f"more than {self.queue_size} events were waiting")
        taken = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is None:
                raise SlowConsumer(f"more than {self.queue_size} events were waiting")
            taken.append(event)
        return taken


class Fanout:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._held: Counter[str] = Counter()
        # Set once the feed reads (the Kafka reader has its partitions and positions).
        self.ready = asyncio.Event()
        self.published = 0
        self._slots: asyncio.Semaphore | None = None
        # Deliveries' shared work (schema/live.py), running on its own: held here until done.
        self._work: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """``work`` in a task of its own, which no subscriber going away cancels; its failure
        is the waiting subscribers' (retrieved here when none waits any more)."""
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work_done)
        return task

    def _work_done(self, task: asyncio.Task[Any]) -> None:
        self._work.discard(task)
        if not task.cancelled():
            task.exception()

    async def close(self) -> None:
        """Cancels the work still running (the process stops)."""
        for task in list(self._work):
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)

    def delivery_slots(self, size: int) -> asyncio.Semaphore:
        """The process's turns for deliveries that use the database: one event reaches every
        listener at once, and without turns they would all wait for a pooled connection, the
        last ones until the pool's timeout ends them (``SUBSCRIPTIONS__MAX_CONCURRENT_DELIVERIES``;
        the first caller's size counts)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(size)
        return self._slots

    def publish(self, topic: str, envelope: dict[str, Any]) -> None:
        event = LiveEvent(topic, envelope)
        self.published += 1
        for listener in list(self._listeners):
            if topic in listener.topics:
                listener.offer(event)

    def listener_count(self, holder: str | None = None) -> int:
        return len(self._listeners) if holder is None else self._held[holder]

    def add(
        self, topics: frozenset[str], *, holder: str, queue_size: int, max_per_holder: int
    ) -> Listener:
        if self._held[holder] >= max_per_holder:
            raise TooManyListeners(holder)
        listener = Listener(topics, holder, queue_size)
        self._listeners.add(listener)
        self._held[holder] += 1
        return listener

    def remove(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.discard(listener)
            self._held[listener.holder] -= 1
            if self._held[listener.holder] <= 0:
                del self._held[listener.holder]
