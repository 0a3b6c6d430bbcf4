"""The outbox relay: claims unpublished rows, publishes them, marks them published.

Run by ``sales-graph worker`` (and in process by ``serve`` in the embedded footprint). Several
relays share the rows (``FOR UPDATE SKIP LOCKED``; an aggregate's rows are taken in order, see
``db.repositories.outbox.claim``). A relay killed between publishing and marking leaves rows
that are published again: delivery is at least once, consumers deduplicate by ``event_id``.
A relay that lives on after failing to mark them (the database went away under the commit)
remembers which rows Kafka already has and marks them at the next claim without sending them
again, so a database restart alone puts no second copy on the topics.

No retry library here: a row's next try is a time stored on the row (``retry_at``), so that it
outlives the relay and is shared by every relay, and ``run`` is a poll loop, not a retry loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.engine import Database
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.db.repositories.outbox import Pending
from sales_graph.logs import get_logger
from sales_graph.settings import EventSettings
from sales_graph.telemetry.metrics import events_published
from sales_graph.timeutil import utcnow
from sales_graph.worker.listen import Listener, idle_until
from sales_graph.worker.sinks import Delivery, EventSink

_log = get_logger("sales_graph.worker.relay")

# Transient failures (the broker is away) back off up to this long between tries.
MAX_BACKOFF_S = 30.0
MAX_UNRECORDED = 100_000


@dataclass(eq=False)
class Relay:
    db: Database
    sink: EventSink
    settings: EventSettings
    _: KW_ONLY
    name: str = "relay"
    # Called between publishing and marking published (a test kills the relay there).
    after_publish: Callable[[list[Pending]], Awaitable[None]] | None = None
    published: int = field(default=0, init=False)
    # True while waiting for a NOTIFY or the next poll (nothing left to publish).
    idle: bool = field(default=False, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    # While running: the LISTEN connection (PostgreSQL).
    listener: Listener | None = field(default=None, init=False)
    # Rows Kafka acknowledged whose marking did not commit; bounded (a row another relay
    # marks in the meantime is never claimed again, its id only waits here to be dropped).
    _unrecorded: set[int] = field(default_factory=set, init=False)

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Publishes one batch; the number of rows claimed (0: nothing to do now)."""
        delivered: list[int] = []
        try:
            async with self.db.session() as session:
                rows = await outbox_repo.claim(session, self.settings.relay_batch_size, utcnow())
                if not rows:
                    return 0
                results = await self._publish(rows)
                delivered, failed = _split(rows, results)
                if self.after_publish is not None:
                    await self.after_publish(rows)
                now = utcnow()
                await outbox_repo.mark_published(session, delivered, now)
                for failure, ids in failed.items():
                    await self._mark_failed(session, rows, failure, ids, now)
        except BaseException:
            if delivered:
                self._remember_unrecorded(delivered)
            raise
        self._unrecorded.difference_update(delivered)
        self.published += len(delivered)
        published = set(delivered)
        events_published(row.topic for row in rows if row.id in published)
        return len(rows)

    async def _publish(self, rows: list[Pending]) -> list[Delivery | None]:
        """Each row's result; a row Kafka has already (``_unrecorded``) is not sent again."""
        sending = [row for row in rows if row.id not in self._unrecorded]
        sent = iter(await self.sink.publish(sending) if sending else [])
        return [None if row.id in self._unrecorded else next(sent) for row in rows]

    def _remember_unrecorded(self, delivered: list[int]) -> None:
        if len(self._unrecorded) + len(delivered) > MAX_UNRECORDED:
            self._unrecorded.clear()  # at worst some rows are sent twice (at least once)
        self._unrecorded.update(delivered)
        _log.warning("outbox.delivered_not_recorded", relay=self.name, rows=len(delivered))

    async def _mark_failed(
        self,
        session: AsyncSession,
        rows: list[Pending],
        failure: Delivery,
        ids: list[int],
        now: datetime,
    ) -> None:
        attempts = max(r.attempts for r in rows if r.id in ids) + 1
        backoff = min(self.settings.relay_retry_backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
        await outbox_repo.mark_failed(
            session,
            ids,
            str(failure),
            now=now,
            retry_at=now + timedelta(seconds=backoff),
            # The broker being away never parks a row; a message it refuses does.
            max_attempts=self.settings.relay_max_attempts,
            transient=failure.transient,
        )
        _log.warning("outbox.publish_failed", relay=self.name, rows=len(ids), error=str(failure))

    async def run(self, stop: asyncio.Event) -> None:
        listener = self.listener = Listener(self.db, self.wake, outbox_repo.NOTIFY_CHANNEL)
        try:
            while not stop.is_set():
                await listener.ensure()
                try:
                    claimed = await self.run_once()
                except Exception:
                    _log.exception("outbox.relay_error", relay=self.name)
                    claimed = 0
                    await _wait(stop, self.settings.relay_poll_interval_s)
                if claimed >= self.settings.relay_batch_size:
                    continue
                await self._idle(stop, listener)
        finally:
            await listener.close()

    async def _idle(self, stop: asyncio.Event, listener: Listener) -> None:
        """Until a NOTIFY, the stop or the next poll (``worker/listen.py``)."""
        self.idle = True
        try:
            await idle_until(stop, self._wake, listener, self.settings.relay_poll_interval_s)
        finally:
            self.idle = False


def _split(
    rows: list[Pending], results: list[Delivery | None]
) -> tuple[list[int], dict[Delivery, list[int]]]:
    """Delivered ids, and failed ids by failure. After an aggregate's first failure its later
    rows stay unpublished too (sent again after it, so first deliveries keep their order)."""
    delivered: list[int] = []
    failed: dict[Delivery, list[int]] = {}
    broken: dict[str, Delivery] = {}
    # One entry (and one log line) per kind of failure, not per row.
    kinds: dict[tuple[str, bool], Delivery] = {}
    for row, result in zip(rows, results, strict=True):
        failure = result or broken.get(row.key)
        if failure is None:
            delivered.append(row.id)
            continue
        failure = kinds.setdefault((str(failure), failure.transient), failure)
        broken.setdefault(row.key, failure)
        failed.setdefault(failure, []).append(row.id)
    return delivered, failed


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
