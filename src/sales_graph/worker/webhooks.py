"""Outbound webhooks in the worker: the fan-out consumers and the dispatcher
(docs/real-time.md, "Outbound webhooks").

The fan-out handler reads a committed event (a Kafka consumer per topic we publish, or the
in-process bus) and records its deliveries for the endpoints that asked for it, with its inbox
row, in one transaction. The :class:`Dispatcher` claims due deliveries ``FOR UPDATE SKIP
LOCKED`` (several dispatchers share them, as relays share the outbox) and leases them (not
due again for the round's timeouts and a margin) in one short transaction, sends each signed
with the endpoint's secrets, and records the attempts in another: a dispatcher killed between
sending and recording leaves the rows pending, and they are sent again when the lease ends (at
least once; receivers deduplicate by ``webhook-id``, the event id). One aggregate's deliveries
to one endpoint go one after the other, and a failed one holds back the ones behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph import __version__
from sales_graph.db.engine import Database
from sales_graph.db.repositories import webhooks as webhook_repo
from sales_graph.db.repositories.webhooks import Due
from sales_graph.logs import get_logger
from sales_graph.services import webhooks
from sales_graph.settings import WebhookSettings
from sales_graph.telemetry.metrics import webhook_attempt
from sales_graph.timeutil import utcnow
from sales_graph.worker.consumer import MessageHandler
from sales_graph.worker.handling import event_id_of, handling

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime
    from sales_graph.worker.service import Service

_log = get_logger("sales_graph.worker.webhooks")
USER_AGENT = f"sales-graph-webhooks/{__version__}"
# A claimed round's lease: the attempts' timeouts plus this.
LEASE_MARGIN_S = 30.0
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


@dataclass(eq=False)
class Dispatcher:
    db: Database
    settings: WebhookSettings
    _: KW_ONLY
    name: str = "webhooks"
    # Called between sending a round and recording it (a test kills the dispatcher there).
    after_send: Callable[[list[Due]], Awaitable[None]] | None = None
    transport: httpx.AsyncBaseTransport | None = None
    # A claimed round's lease: the attempts' timeouts plus this.
    lease_margin_s: float = LEASE_MARGIN_S
    attempts: int = field(default=0, init=False)
    delivered: int = field(default=0, init=False)
    _client: httpx.AsyncClient | None = field(default=None, init=False)

    async def run_once(self) -> int:
        """Sends one round of due deliveries; the number claimed (0: nothing due now)."""
        async with self.db.session() as session:
            now = utcnow()
            due = await webhook_repo.claim_due(session, now, self.settings.dispatch_batch_size)
            groups: dict[tuple[Any, str], list[Due]] = {}
            for row in due:
                groups.setdefault((row.endpoint_id, row.ordering_key), []).append(row)
            # Long enough for the longest chain of one aggregate's deliveries, one by one.
            longest = max((len(g) for g in groups.values()), default=0)
            lease = timedelta(seconds=self.settings.timeout_s * longest + self.lease_margin_s)
            await webhook_repo.lease(session, [row.id for row in due], now + lease)
        if not due:
            return 0
        client = self._client or self._new_client()
        try:
            sent = await asyncio.gather(*(self._send_in_order(client, g) for g in groups.values()))
        finally:
            if client is not self._client:
                await client.aclose()
        if self.after_send is not None:
            await self.after_send(due)
        async with self.db.session() as session:
            attempted: set[int] = set()
            for results in sent:
                for row, attempt in results:
                    attempted.add(row.id)
                    await self._record(session, row, attempt)
            # Those behind a failed one in their chain were not tried: due again at once
            # (behind the failed one, which waits for its retry).
            await webhook_repo.lease(
                session, [row.id for row in due if row.id not in attempted], utcnow()
            )
        return len(due)

    async def _record(self, session: AsyncSession, row: Due, attempt: webhooks.Attempt) -> None:
        self.attempts += 1
        if await webhooks.record_attempt(session, row, attempt, self.settings):
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

    async def _send_in_order(
        self, client: httpx.AsyncClient, rows: list[Due]
    ) -> list[tuple[Due, webhooks.Attempt]]:
        """One aggregate's deliveries to one endpoint, in order, until one fails."""
        results = []
        for row in rows:
            attempt = await self._send(client, row)
            results.append((row, attempt))
            if not attempt.delivered:
                break
        return results

    async def _send(self, client: httpx.AsyncClient, row: Due) -> webhooks.Attempt:
        try:
            addresses = await webhooks.check_target(row.url, self.settings)
        except webhooks.TargetRefused as exc:
            return webhooks.Attempt(None, f"{REFUSED}{exc}")
        # Connect to an address just checked, not to a second resolution of the name.
        target = webhooks.pinned(row.url, addresses[0])
        body = orjson.dumps(row.envelope).decode()
        headers = webhooks.signature_headers(row.secrets, str(row.event_id), utcnow(), body)
        headers |= {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": target.host_header,
        }
        try:
            request = client.build_request(
                "POST",
                target.url,
                content=body,
                headers=headers,
                extensions={"sni_hostname": target.server_name},
            )
            response = await client.send(request, stream=True)  # the answer's body is not read
            await response.aclose()
        except httpx.TimeoutException:
            return webhooks.Attempt(None, f"timeout after {self.settings.timeout_s} s")
        except httpx.HTTPError as exc:
            return webhooks.Attempt(None, f"{type(exc).__name__}: {exc}"[:1000])
        status = response.status_code
        return webhooks.Attempt(status, None if 200 <= status < 300 else f"HTTP {status}")

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.settings.timeout_s,
            follow_redirects=False,  # a redirect is a failed attempt, never followed
            trust_env=False,  # no proxy from the environment
            transport=self.transport,
        )

    async def run(self, stop: asyncio.Event) -> None:
        async with self._new_client() as client:
            self._client = client
            try:
                while not stop.is_set():
                    try:
                        claimed = await self.run_once()
                    except Exception:
                        _log.exception("webhooks.dispatch_error", dispatcher=self.name)
                        claimed = 0
                    if claimed >= self.settings.dispatch_batch_size:
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.poll_interval_s)
            finally:
                self._client = None


def services(runtime: Runtime) -> list[Service]:
    """The dispatcher, unless outbound webhooks are off."""
    settings = runtime.settings.webhooks
    return [Dispatcher(runtime.db, settings)] if settings.enabled else []
