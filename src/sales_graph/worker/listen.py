"""Waking a polling loop at once on PostgreSQL: a connection that LISTENs for a channel's
NOTIFY (sent in the transaction that made work, so delivered at its commit), and the idle wait
between two rounds that a NOTIFY, the stop or the poll interval ends. The outbox relay and the
webhook dispatcher use it; elsewhere (SQLite) they poll."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sales_graph.db.engine import Database
from sales_graph.logs import get_logger

_log = get_logger("sales_graph.worker.listen")

RELISTEN_INTERVAL_S = 5.0
LISTEN_CHECK_S = 1.0


async def idle_until(
    stop: asyncio.Event, wake: asyncio.Event, listener: Listener, poll_interval_s: float
) -> None:
    """Until ``wake`` is set (a NOTIFY), the stop, or ``poll_interval_s``. Every
    ``LISTEN_CHECK_S`` it looks (no query) whether the listening connection is still open: a
    closed one ends the wait, so that the loop listens again rather than waiting deaf."""
    wake.clear()
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    loop = asyncio.get_running_loop()
    end = loop.time() + poll_interval_s
    try:
        while (left := end - loop.time()) > 0:
            done, _ = await asyncio.wait(
                waits, timeout=min(left, LISTEN_CHECK_S), return_when=asyncio.FIRST_COMPLETED
            )
            if done or listener.lost:
                return
    finally:
        for waiting in waits:
            waiting.cancel()


@dataclass(eq=False)
class Listener:
    """On PostgreSQL, a connection that LISTENs for ``channel``'s NOTIFY, so a commit wakes the
    loop at once. When the database closes it (a restart, cut connections) the loop notices
    within ``LISTEN_CHECK_S`` (:func:`idle_until`) and listens again on a new connection,
    trying at most every ``RELISTEN_INTERVAL_S`` while the database is away; in between it
    polls."""

    db: Database
    wake: Callable[[], None]
    channel: str
    listens: int = field(default=0, init=False)  # connections it has listened on
    _connection: Any = field(default=None, init=False)
    _driver: Any = field(default=None, init=False)
    _next_try: float = field(default=0.0, init=False)

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    @property
    def lost(self) -> bool:
        """It listened, and its connection has been closed since."""
        return self._driver is not None and self._driver.is_closed()

    async def ensure(self) -> None:
        if self.db.dialect != "postgresql" or self.listening:
            return
        await self.close()  # a lost connection: let go of it (``lost`` is False again)
        if time.monotonic() < self._next_try:
            return
        try:
            self._connection = await self.db.engine.connect()
            raw = await self._connection.get_raw_connection()
            self._driver = raw.driver_connection
            await self._driver.add_listener(self.channel, self._on_notify)
        except Exception as exc:
            _log.warning(
                "outbox.listen_unavailable",
                channel=self.channel,
                error=f"{type(exc).__name__}: {exc}",
            )
            await self.close()
            self._next_try = time.monotonic() + RELISTEN_INTERVAL_S
            return
        self.listens += 1
        if self.listens > 1:
            _log.info("outbox.listening_again", channel=self.channel, connections=self.listens)

    def _on_notify(self, *_: object) -> None:
        self.wake()

    async def close(self) -> None:
        driver, connection = self._driver, self._connection
        self._driver = self._connection = None
        if driver is not None and not driver.is_closed():
            with contextlib.suppress(Exception):
                await driver.remove_listener(self.channel, self._on_notify)
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
