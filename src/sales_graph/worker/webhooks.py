"""Outbound webhooks in the worker: the fan-out consumers and the dispatcher
(docs/real-time.md, "Outbound webhooks").

The fan-out handler reads a committed event (a Kafka consumer per topic we publish, or the
in-process bus) and records its deliveries for the endpoints that asked for it, with its inbox
row, in one transaction; the Kafka consumers' batch handler does the same for a partition's
events of one poll in one transaction, set-based. The :class:`Dispatcher` claims due deliveries
``FOR UPDATE SKIP LOCKED`` (several dispatchers share them, as relays share the outbox),
checks each URL of the round, sends each delivery signed with the endpoint's secrets over its
:class:`Lanes`, and records the attempts (the delivered ones in one statement): in the claim's
transaction when the round ends within ``HOLD_S``; otherwise the round leases its rows (not
due again for the round's timeouts and a margin), commits, and records them in a transaction of
its own. A dispatcher killed between sending and recording leaves the rows pending, sent again
at once (its transaction rolled back) or when the lease ends (at least once; receivers
deduplicate by ``webhook-id``, the event id). One aggregate's deliveries to one endpoint go one
after the other, and a failed one holds back the ones behind it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httptools
import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph import __version__
from sales_graph.db.engine import Database
from sales_graph.db.repositories import webhooks as webhook_repo
from sales_graph.db.repositories.webhooks import Due
from sales_graph.logs import get_logger
from sales_graph.services import webhooks
from sales_graph.services.webhooks import Pinned
from sales_graph.settings import WebhookSettings
from sales_graph.telemetry.metrics import webhook_attempt
from sales_graph.timeutil import utcnow
from sales_graph.worker.consumer import BatchHandler, MessageHandler
from sales_graph.worker.handling import event_id_of, handling
from sales_graph.worker.http1 import Http1Client, Origin
from sales_graph.worker.listen import Listener, idle_until

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime
    from sales_graph.worker.service import Service

_log = get_logger("sales_graph.worker.webhooks")
USER_AGENT = f"sales-graph-webhooks/{__version__}"
# A claimed round's lease: the attempts' timeouts plus this.
LEASE_MARGIN_S = 30.0
# A round that takes longer than this leases its rows and commits its claim (run_once).
HOLD_S = 2.0
# Leased rounds a dispatcher lets finish in the background while it claims the next ones.
MAX_TAILS = 4
# How long an idle connection to a receiver is kept for the next round, and how many idle ones
# are kept in all (this many per concurrent send).
KEEPALIVE_S = 30.0
LANE_CONNECTIONS = 4
# The error of an attempt not made: the target's address is not allowed (SSRF).
REFUSED = "refused: "


def fan_out_handler(runtime: Runtime) -> MessageHandler:
    async def handle(message: dict[str, Any]) -> None:
        with handling(message, event_id_of(message)):
            async with runtime.db.session() as session:
                recorded = await webhooks.fan_out(session, message)
        if recorded:
            _log.debug(
                "webhooks.fanned_out",
                event_type=message.get("event_type"),
                event_id=message.get("event_id"),
                deliveries=recorded,
            )

    return handle


def fan_out_batch_handler(runtime: Runtime) -> BatchHandler:
    """A partition's events of one poll in one transaction (:func:`webhooks.fan_out_all`);
    nothing is rejected (an event no endpoint may receive makes nothing)."""

    async def handle(messages: Sequence[dict[str, Any]]) -> dict[int, str]:
        async with runtime.db.session() as session:
            recorded = await webhooks.fan_out_all(session, messages)
        if recorded:
            _log.debug("webhooks.fanned_out_batch", events=len(messages), deliveries=recorded)
        return {}

    return handle


class Lanes:
    """The dispatcher's HTTP: at most ``MAX_CONCURRENT_SENDS`` requests in flight over an
    :class:`~sales_graph.worker.http1.Http1Client` (connections kept alive per checked address,
    redirects never followed, no proxy), each attempt bounded by ``TIMEOUT_S``."""

    def __init__(self, settings: WebhookSettings, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._turns = asyncio.Semaphore(settings.max_concurrent_sends)
        self._client = Http1Client(
            keepalive_s=KEEPALIVE_S,
            max_idle=settings.max_concurrent_sends * LANE_CONNECTIONS,
            # The system's CAs (certifi's bundle), loaded once for every connection.
            tls=tls or httpx.create_ssl_context(),
        )

    async def post(self, endpoint: str, target: Pinned, headers: str, body: bytes) -> int:
        """The answer's status; TimeoutError after ``TIMEOUT_S`` (waiting for a turn aside).
        Connections are kept per endpoint (``Origin.owner``)."""
        async with self._turns:
            async with asyncio.timeout(self.settings.timeout_s):
                origin = Origin(
                    target.tls, target.address, target.port, target.server_name, endpoint
                )
                return await self._client.post(
                    origin, target.target, f"Host: {target.host_header}\r\n{headers}", body
                )

    async def aclose(self) -> None:
        self._client.close()

    async def __aenter__(self) -> Lanes:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


@dataclass(eq=False)
class Dispatcher:
    db: Database
    settings: WebhookSettings
    _: KW_ONLY
    name: str = "webhooks"
    # Called between sending a round and recording it (a test kills the dispatcher there).
    after_send: Callable[[list[Due]], Awaitable[None]] | None = None
    # A claimed round's lease: the attempts' timeouts plus this.
    lease_margin_s: float = LEASE_MARGIN_S
    # How long a round may keep its claim's transaction open before it leases its rows.
    hold_s: float = HOLD_S
    attempts: int = field(default=0, init=False)
    delivered: int = field(default=0, init=False)
    _lanes: Lanes | None = field(default=None, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    async def run_once(self, *, tails: set[asyncio.Task[None]] | None = None) -> int:
        """Sends one round of due deliveries; the number claimed (0: nothing due now).

        A round that ends within ``HOLD_S`` is recorded in its claim's transaction, its rows
        locked all along: no lease to write, one transaction (a dispatcher that dies meanwhile
        leaves them due at once: its transaction rolls back). A longer one leases its rows and
        commits, so that no transaction stays open for the round's timeouts, and is recorded in
        a transaction of its own when it ends: with ``tails``, in a task added there, so that
        the next rounds need not wait for its slowest receivers (the lease keeps its rows, and
        those behind them, from being claimed again meanwhile)."""
        sending: asyncio.Task[list[tuple[Due, webhooks.Attempt]]] | None = None
        try:
            async with self.db.session() as session:
                now = utcnow()
                due = await webhook_repo.claim_due(session, now, self.settings.dispatch_batch_size)
                if not due:
                    return 0
                groups: dict[tuple[Any, str], list[Due]] = {}
                for row in due:
                    groups.setdefault((row.endpoint_id, row.ordering_key), []).append(row)
                sending = asyncio.ensure_future(self._send_round(due, list(groups.values())))
                # SQLite's transaction would hold the database's one write lock (every API
                # write would wait for the round): there a round always leases and commits.
                hold_s = self.hold_s if self.db.dialect == "postgresql" else 0.0
                await asyncio.wait({sending}, timeout=hold_s)
                held = sending.done()
                if held:
                    self._count_all(await self._record(session, due, sending.result()))
                else:
                    await webhook_repo.lease(
                        session, [row.id for row in due], now + self._lease(due, groups)
                    )
            if not held:
                finishing, sending = sending, None
                if tails is None:
                    await self._finish(finishing, due)
                else:
                    tail = asyncio.create_task(self._finish_in_background(finishing, due))
                    tails.add(tail)
                    tail.add_done_callback(tails.discard)
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
        return len(due)

    async def _finish(
        self, sending: asyncio.Task[list[tuple[Due, webhooks.Attempt]]], due: list[Due]
    ) -> None:
        """A leased round's end: its attempts recorded when the last one is answered."""
        try:
            attempts = await sending
            async with self.db.session() as session:
                self._count_all(await self._record(session, due, attempts))
        finally:
            if not sending.done():
                sending.cancel()

    async def _finish_in_background(
        self, sending: asyncio.Task[list[tuple[Due, webhooks.Attempt]]], due: list[Due]
    ) -> None:
        try:
            await self._finish(sending, due)
        except Exception:
            # Its rows stay leased: sent again when the lease ends (at least once).
            _log.exception("webhooks.dispatch_error", dispatcher=self.name, rows=len(due))

    def _count_all(self, recorded: list[tuple[Due, webhooks.Attempt, bool]]) -> None:
        for row, attempt, delivered in recorded:
            self._count(row, attempt, delivered)

    def _lease(self, due: list[Due], groups: dict[tuple[Any, str], list[Due]]) -> timedelta:
        """Long enough for the longest chain of one aggregate's deliveries, one by one, and for
        the round's attempts queueing for the MAX_CONCURRENT_SENDS connections."""
        longest = max(len(g) for g in groups.values())
        waves = -(-len(due) // self.settings.max_concurrent_sends)
        return timedelta(
            seconds=self.settings.timeout_s * max(longest, waves) + self.lease_margin_s
        )

    async def _send_round(
        self, due: list[Due], groups: list[list[Due]]
    ) -> list[tuple[Due, webhooks.Attempt]]:
        lanes = self._lanes or Lanes(self.settings)
        try:
            # Each URL of the round checked (SSRF) once, just before its attempts.
            urls = list(dict.fromkeys(row.url for row in due))
            found = await asyncio.gather(*(self._check(u) for u in urls))
            checked = dict(zip(urls, found, strict=True))
            sent = await asyncio.gather(*(self._send_in_order(lanes, g, checked) for g in groups))
        finally:
            if lanes is not self._lanes:
                await lanes.aclose()
        if self.after_send is not None:
            await self.after_send(due)
        return [result for results in sent for result in results]

    async def _record(
        self,
        session: AsyncSession,
        due: list[Due],
        attempts: list[tuple[Due, webhooks.Attempt]],
    ) -> list[tuple[Due, webhooks.Attempt, bool]]:
        """Each attempt with whether it was recorded as delivered."""
        outcomes = await webhooks.record_attempts(session, attempts, self.settings)
        attempted = {row.id for row, _ in attempts}
        # Those behind a failed one in their chain were not tried: due again at once (behind
        # the failed one, which waits for its retry).
        await webhook_repo.lease(
            session, [row.id for row in due if row.id not in attempted], utcnow()
        )
        return [
            (row, attempt, delivered)
            for (row, attempt), delivered in zip(attempts, outcomes, strict=True)
        ]

    def _count(self, row: Due, attempt: webhooks.Attempt, delivered: bool) -> None:
        self.attempts += 1
        if delivered:
            self.delivered += 1
            webhook_attempt("delivered")
            return
        last = row.attempts + 1 >= self.settings.max_attempts
        refused = (attempt.error or "").startswith(REFUSED)
        webhook_attempt("exhausted" if last else "refused" if refused else "failed")
        _log.warning(
            "webhooks.attempt_failed",
            delivery_id=row.id,
            endpoint_id=str(row.endpoint_id),
            attempt=row.attempts + 1,
            error=attempt.error,
        )

    async def _check(self, url: str) -> list[str] | webhooks.TargetRefused:
        try:
            return await webhooks.check_target(url, self.settings)
        except webhooks.TargetRefused as exc:
            return exc

    async def _send_in_order(
        self,
        lanes: Lanes,
        rows: list[Due],
        checked: dict[str, list[str] | webhooks.TargetRefused],
    ) -> list[tuple[Due, webhooks.Attempt]]:
        """One aggregate's deliveries to one endpoint, in order, until one fails."""
        results = []
        for row in rows:
            found = checked[row.url]
            if isinstance(found, webhooks.TargetRefused):
                attempt = webhooks.Attempt(None, f"{REFUSED}{found}")
            else:
                attempt = await send(lanes, row, found[0])
            results.append((row, attempt))
            if not attempt.delivered:
                break
        return results

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop``: at once while rounds come full, else after new deliveries
        commit (a NOTIFY, on PostgreSQL) or ``POLL_INTERVAL_S`` (retries coming due)."""
        listener = Listener(self.db, self.wake, webhook_repo.NOTIFY_CHANNEL)
        # Leased rounds still waiting for slow receivers (at most MAX_TAILS; the sends of all
        # rounds share the MAX_CONCURRENT_SENDS turns).
        tails: set[asyncio.Task[None]] = set()
        async with Lanes(self.settings) as lanes:
            self._lanes = lanes
            try:
                while not stop.is_set():
                    await listener.ensure()
                    if len(tails) >= MAX_TAILS:
                        await asyncio.wait(tails, return_when=asyncio.FIRST_COMPLETED)
                    try:
                        claimed = await self.run_once(tails=tails)
                    except Exception:
                        _log.exception("webhooks.dispatch_error", dispatcher=self.name)
                        claimed = 0
                    if claimed >= self.settings.dispatch_batch_size:
                        continue
                    await idle_until(stop, self._wake, listener, self.settings.poll_interval_s)
            finally:
                # Their rows stay leased: sent again when the lease ends (at least once).
                for tail in tails:
                    tail.cancel()
                await asyncio.gather(*tails, return_exceptions=True)
                self._lanes = None
                await listener.close()


async def send(lanes: Lanes, row: Due, address: str) -> webhooks.Attempt:
    """One attempt: the delivery's envelope POSTed signed to ``address``, an address its URL's
    host was just checked to resolve to (not a second resolution of the name); the answer's
    body is not read."""
    signed = webhooks.signature_headers(row.secrets, str(row.event_id), utcnow(), row.body)
    headers = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    try:
        status = await lanes.post(
            str(row.endpoint_id),
            webhooks.pinned(row.url, address),
            headers + _FIXED_HEADERS,
            row.body.encode(),
        )
    except TimeoutError:
        return webhooks.Attempt(None, f"timeout after {lanes.settings.timeout_s} s")
    except (OSError, ssl.SSLError, httptools.HttpParserError) as exc:
        return webhooks.Attempt(None, f"{type(exc).__name__}: {exc}"[:1000])
    except Exception as exc:
        # Whatever one attempt raises fails that attempt, never the round: the other
        # deliveries' outcomes are recorded.
        _log.exception("webhooks.attempt_error", delivery_id=str(row.id))
        return webhooks.Attempt(None, f"{type(exc).__name__}: {exc}"[:1000])
    return webhooks.Attempt(status, None if 200 <= status < 300 else f"HTTP {status}")


_FIXED_HEADERS = f"Content-Type: application/json\r\nUser-Agent: {USER_AGENT}\r\n"


def services(runtime: Runtime) -> list[Service]:
    """The dispatcher, unless outbound webhooks are off."""
    settings = runtime.settings.webhooks
    return [Dispatcher(runtime.db, settings)] if settings.enabled else []
