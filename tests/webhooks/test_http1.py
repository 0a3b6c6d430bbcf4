"""The dispatcher's HTTP/1.1 client against real sockets: servers the test runs, answering as
receivers in the wild do (kept alive or not, chunked, 1xx first, closed while idle, garbage,
TLS with a certificate of the URL's name while the connection goes to the checked address)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sales_graph.worker.http1 import Http1Client, Origin, ProtocolFailure
from tests.webhooks.conftest import read_post

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
NO_TLS = ssl.create_default_context()


@asynccontextmanager
async def server(
    answer: Answer, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server on 127.0.0.1 running ``answer`` per connection; yields its port and the
    requests' heads it read (``read_request``), in order."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.heads = heads  # type: ignore[attr-defined]
        try:
            await answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield listening.sockets[0].getsockname()[1], heads
    finally:
        listening.close()


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    head = await read_post(reader)
    writer.heads.append(head)  # type: ignore[attr-defined]
    return head


def origin(port: int, *, tls: bool = False, name: str = "partner.test") -> Origin:
    return Origin(tls, "127.0.0.1", port, name)


HEADERS = "Host: partner.test\r\nContent-Type: application/json\r\n"


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader, writer)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()


class Counted:
    """A server's answer per connection, counting the connections it was given."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self.answer(reader, writer)


async def test_a_connection_is_kept_alive_and_the_request_is_as_written() -> None:
    counted = Counted(keep_alive)
    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(counted) as (port, heads):
        statuses = [await client.post(origin(port), "/h?x=1", HEADERS, b"{}") for _ in range(10)]
    client.close()
    assert statuses == [204] * 10
    assert counted.connections == 1
    assert heads[0] == (
        b"POST /h?x=1 HTTP/1.1\r\nHost: partner.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n"
    )


async def test_answers_with_bodies_chunked_after_1xx_or_ended_by_the_close() -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
        ]
    )

    async def varied(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await read_request(reader, writer)
            writer.write(answer)
            await writer.drain()
        # The last: no length, the body ends when the connection closes.
        await read_request(reader, writer)
        writer.write(b"HTTP/1.0 202 Accepted\r\n\r\nuntil the end")
        await writer.drain()

    counted = Counted(varied)
    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(counted) as (port, _):
        statuses = [await client.post(origin(port), "/", HEADERS, b"{}") for _ in range(4)]
    client.close()
    assert statuses == [200, 201, 500, 202]
    assert counted.connections == 1


async def test_a_kept_connection_the_receiver_closed_is_replaced() -> None:
    """The receiver answers once per connection and closes it without saying so: the next
    request on the kept one fails before any answer and goes out again on a new one."""

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, writer)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(once) as (port, heads):
        statuses = [await client.post(origin(port), "/", HEADERS, b"{}") for _ in range(3)]
    client.close()
    assert statuses == [204, 204, 204]
    assert len(heads) == 3


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
        # Headers never ended, then the close.
        b"HTTP/1.1 200 OK\r\n",
        # Not HTTP statuses (a 0xx would otherwise wait as an interim answer until the timeout).
        b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
        # A protocol switch is not an answer to a POST.
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        # A body cut short of its length: the receiver did not finish answering.
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ],
)
async def test_what_is_not_an_answer_fails(reply: bytes) -> None:
    async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, writer)
        writer.write(reply)
        await writer.drain()

    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(bad) as (port, _):
        with pytest.raises(ProtocolFailure):
            await client.post(origin(port), "/", HEADERS, b"{}")
    client.close()


async def test_bytes_after_an_answer_never_answer_the_next_request() -> None:
    """A receiver answers 500 and, in the same bytes, a 204 nobody asked for: the connection
    is dropped, so the next request gets its own answer (500 again) on a new one."""

    async def spoofing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader, writer)
            writer.write(
                b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
            )
            await writer.drain()

    counted = Counted(spoofing)
    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(counted) as (port, _):
        statuses = [await client.post(origin(port), "/", HEADERS, b"{}") for _ in range(3)]
    client.close()
    assert statuses == [500, 500, 500]
    assert counted.connections == 3


async def test_connections_are_kept_per_owner() -> None:
    """Two endpoints on one receiver's address never share a connection."""
    counted = Counted(keep_alive)
    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(counted) as (port, _):
        for owner in ("a", "b", "a", "b"):
            where = Origin(False, "127.0.0.1", port, "partner.test", owner)
            assert await client.post(where, "/", HEADERS, b"{}") == 204
    client.close()
    assert counted.connections == 2


async def test_an_idle_connection_is_closed_after_keepalive_s() -> None:
    closed = asyncio.Event()

    async def watched(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, writer)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client closes it
        closed.set()

    client = Http1Client(keepalive_s=0.05, max_idle=4, tls=NO_TLS)
    async with server(watched) as (port, _):
        assert await client.post(origin(port), "/", HEADERS, b"{}") == 204
        async with asyncio.timeout(10):
            await closed.wait()
    client.close()


async def test_nothing_can_smuggle_a_line_into_the_head() -> None:
    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(keep_alive) as (port, heads):
        for target, headers in [
            ("/a\r\nX-Evil: 1", HEADERS),
            ("/a b", HEADERS),
            ("/ü", HEADERS),
            ("/", HEADERS + "X-Evil: 1\r\n\r\nGET / HTTP/1.1\r\n"),
            ("/", "Host: a\nX: b\r\n"),
        ]:
            with pytest.raises(ValueError, match="not printable ASCII"):
                await client.post(origin(port), target, headers, b"{}")
    client.close()
    assert heads == []


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate of ``name``: the server's context, and a client's trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    return served, trusting


async def test_tls_to_the_checked_address_with_the_urls_name(tmp_path: Path) -> None:
    """The connection goes to 127.0.0.1 (the checked address); the certificate is checked
    against the URL's name, sent as SNI: another name fails, as does a CA not trusted."""
    served, trusting = _certificate(tmp_path, "partner.test")
    client = Http1Client(keepalive_s=30, max_idle=4, tls=trusting)
    untrusting = Http1Client(keepalive_s=30, max_idle=4, tls=ssl.create_default_context())
    async with server(keep_alive, served) as (port, heads):
        assert await client.post(origin(port, tls=True), "/", HEADERS, b"{}") == 204
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.post(origin(port, tls=True, name="other.test"), "/", HEADERS, b"{}")
        with pytest.raises(ssl.SSLCertVerificationError):
            await untrusting.post(origin(port, tls=True), "/", HEADERS, b"{}")
    client.close()
    untrusting.close()
    assert len(heads) == 1


async def test_a_slow_answer_is_cut_by_the_callers_timeout_and_not_kept() -> None:
    connections = 0

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await read_request(reader, writer)
            await asyncio.Event().wait()  # never answers
        await keep_alive(reader, writer)

    client = Http1Client(keepalive_s=30, max_idle=4, tls=NO_TLS)
    async with server(slow_first) as (port, _):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.post(origin(port), "/", HEADERS, b"{}")
        assert await client.post(origin(port), "/", HEADERS, b"{}") == 204
    client.close()
    assert connections == 2
