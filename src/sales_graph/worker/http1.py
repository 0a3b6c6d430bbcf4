"""A lean HTTP/1.1 client for the webhook dispatcher (docs/real-time.md, "Outbound webhooks").

The dispatcher only POSTs a small JSON body and needs the answer's status: no redirects, no
proxies, no cookies, no body to keep. ``httpx`` spends about 1 ms of CPU per request on what
it offers beyond that (docs/performance.md); this client writes the request itself and parses
the answer with ``httptools`` (llhttp, the parser uvicorn uses), over connections kept alive
per origin. An origin is the *address the URL's host was checked to resolve to* (the SSRF
check), so a connection never goes anywhere a second resolution of the name would lead, with
the URL's host in ``Host`` and, over TLS, as the server name (SNI and the certificate's check).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast

import httptools

# An answer whose headers came before the connection closed counts (HTTP/1.0 style bodies end
# at the close); anything else that closes it first is this error.
CLOSED_EARLY = "connection closed before an answer"


class ProtocolFailure(ConnectionError):
    """The receiver's bytes are not an HTTP/1.1 answer, or it closed before answering."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one connection goes: ``address`` (an IP literal) and ``port``, TLS or not, and the
    name the receiver is asked for (``Host``, SNI); and whose requests it carries (``owner``:
    connections are not shared between owners, so one receiver's stray bytes can never be read
    as the answer to another's request on a shared host)."""

    tls: bool
    address: str
    port: int
    server_name: str
    owner: str = ""


class _Connection(asyncio.Protocol):
    """One connection, one request at a time; reusable after an answer that keeps it alive and
    nothing after it (bytes nobody asked for close it: they could answer the next request)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self.idle_timer: asyncio.TimerHandle | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[int, bool]] | None = None
        self._status: int | None = None
        # The answer says where its body ends (Content-Length, chunked): the connection closing
        # before that end is a failure, not the end of the body.
        self._framed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but act as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._waiting():
            self.close()  # bytes nobody asked for
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolFailure("answered with a protocol switch (101), not to the POST"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail(ProtocolFailure(f"not an HTTP/1.1 answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_idle_timer()
        if self._status is not None and self._status >= 200 and not self._framed:
            self._resolve(self._status, keep_alive=False)  # its body ended with the connection
        elif self._status is not None and self._status >= 200:
            self._fail(
                ProtocolFailure(f"connection closed before the answer's end (HTTP {self._status})")
            )
        else:
            self._fail(ProtocolFailure(CLOSED_EARLY if exc is None else f"{CLOSED_EARLY}: {exc}"))

    # httptools callbacks (the body is not kept)
    def on_message_begin(self) -> None:
        if not self._waiting():
            self.close()  # a second answer in the bytes of the first

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if not 100 <= status <= 599:
            self._fail(ProtocolFailure(f"not an HTTP status: {status}"))
            raise ProtocolFailure(f"not an HTTP status: {status}")  # stops the parser
        self._status = status

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._status = None  # 1xx: the answer is still to come
            self._framed = False
            return
        self._resolve(status, keep_alive=self._parser.should_keep_alive())

    def _waiting(self) -> bool:
        return self._answer is not None and not self._answer.done()

    def _resolve(self, status: int, *, keep_alive: bool) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((status, keep_alive))

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Sends ``request``; the answer's status and whether the connection stays usable."""
        assert self.transport is not None
        self._status = None
        self._framed = False
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            status, keep_alive = await self._answer
        finally:
            self._answer = None
        return status, keep_alive and not self.closed

    def idle_for(self, keepalive_s: float) -> None:
        """Kept for the next request, closed after ``keepalive_s`` without one."""
        self.idle_since = time.monotonic()
        self.idle_timer = asyncio.get_running_loop().call_later(keepalive_s, self.close)

    def _cancel_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def taken(self) -> None:
        self._cancel_idle_timer()

    def close(self) -> None:
        self.closed = True
        self._cancel_idle_timer()
        if self.transport is not None:
            self.transport.close()


class Http1Client:
    """POSTs over connections kept alive per :class:`Origin`, ``keepalive_s`` idle at most; the
    caller bounds how many requests are in flight. A request that fails on a kept-alive
    connection before any answer (the receiver closed it meanwhile) is sent once more on a new
    one; receivers deduplicate deliveries by ``webhook-id``."""

    def __init__(self, *, keepalive_s: float, max_idle: int, tls: ssl.SSLContext) -> None:
        self._keepalive_s = keepalive_s
        self._max_idle = max_idle
        self._tls = tls
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0

    async def post(self, origin: Origin, target: str, headers: str, body: bytes) -> int:
        """The answer's status to ``POST target`` with ``headers`` (``Name: value\\r\\n`` lines,
        Host among them; Content-Length is added here) and ``body``. Cancel it to time it out.
        ValueError for a head with other than printable ASCII and its line breaks."""
        head = f"POST {target} HTTP/1.1\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        if " " in target or not _well_formed(head):
            raise ValueError("the request's head is not printable ASCII lines")
        data = head.encode() + body
        connection = self._take(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, data)
            except ProtocolFailure as exc:
                if str(exc) != CLOSED_EARLY:
                    raise
        return await self._exchange(origin, await self._open(origin), data)

    async def _exchange(self, origin: Origin, connection: _Connection, data: bytes) -> int:
        try:
            status, keep_alive = await connection.exchange(data)
        except BaseException:
            connection.close()
            raise
        if keep_alive:
            self._put(origin, connection)
        else:
            connection.close()
        return status

    async def _open(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            host=origin.address,
            port=origin.port,
            ssl=self._tls if origin.tls else None,
            server_hostname=origin.server_name if origin.tls else None,
        )
        return connection

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.closed:
                connection.taken()
                return connection
        return None

    def _put(self, origin: Origin, connection: _Connection) -> None:
        if self._idle_count >= self._max_idle:
            self._evict_one()
        connection.idle_for(self._keepalive_s)
        self._idle.setdefault(origin, deque()).append(connection)
        self._idle_count += 1

    def _evict_one(self) -> None:
        """Closes the longest idle connection of all origins."""
        origin = min(
            (o for o, idle in self._idle.items() if idle),
            key=lambda o: self._idle[o][0].idle_since,
        )
        self._idle[origin].popleft().close()
        self._idle_count -= 1
        if not self._idle[origin]:
            del self._idle[origin]

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0


def _well_formed(head: str) -> bool:
    """Printable ASCII lines ending in CRLF, the last one empty: nothing of a value can end a
    line early (a header smuggled in) or the head."""
    *lines, last_line, end = head.split("\r\n")
    return (last_line, end) == ("", "") and all(
        line and line.isprintable() and line.isascii() for line in lines
    )
