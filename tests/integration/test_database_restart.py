"""PostgreSQL going away under a request (a fast shutdown cuts every connection, SQLSTATE
57P01): the request gets a retryable 503 (REST: the envelope and Retry-After; GraphQL:
SERVICE_UNAVAILABLE), never a 500, and the next request is served on fresh connections."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from sales_graph.app import create_app
from sales_graph.db.engine import CONNECT_TIMEOUT_S, Database
from sales_graph.db.unavailable import is_unavailable
from sales_graph.schema.context import Context
from sales_graph.services import leads, users
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway, gateway
from tests.services import ServiceUrls, require_reachable

__all__ = ["gateway"]

pytestmark = pytest.mark.asyncio


async def _cut_connections(database_url: str) -> int:
    """What a fast shutdown does to the database's sessions: every backend terminated."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await connection.close()


def _stalled(
    original: Callable[..., Awaitable[Any]], started: asyncio.Event
) -> Callable[..., Awaitable[Any]]:
    async def stalled(session: Any, *args: Any, **kwargs: Any) -> Any:
        started.set()
        await session.exec(text("SELECT pg_sleep(30)"))
        return await original(session, *args, **kwargs)

    return stalled


@pytest.fixture
def fresh_database(fresh_postgres: str) -> str:
    return fresh_postgres


async def test_a_request_in_flight_gets_a_retryable_503(
    gateway: Gateway, fresh_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = gateway.org
    token = gateway.token(org.admin)
    started = asyncio.Event()
    monkeypatch.setattr(leads, "list_leads", _stalled(leads.list_leads, started))
    request = asyncio.create_task(
        gateway.client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"})
    )
    await asyncio.wait_for(started.wait(), 10)
    assert await _cut_connections(fresh_postgres) >= 1
    response = await asyncio.wait_for(request, 20)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert "retry" in error["message"]

    started.clear()
    monkeypatch.setattr(users, "current_user", _stalled(users.current_user, started))
    me = asyncio.create_task(gateway.post(org.admin, "{ me { id } }"))
    await asyncio.wait_for(started.wait(), 10)
    await _cut_connections(fresh_postgres)
    answer = await asyncio.wait_for(me, 20)
    # The field failed, and then the request's commit on the lost connection: the whole
    # request is a 503 in the error envelope, as REST's.
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

    monkeypatch.undo()
    # The pool replaced the cut connections: the next requests are served.
    assert (await gateway.data(org.admin, "{ me { id } }"))["me"]["id"] == str(org.admin.id)
    served = await gateway.client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"})
    assert served.status_code == 200, served.text


async def test_what_counts_as_the_database_being_away() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection")
    assert is_unavailable(OperationalError("SELECT 1", {}, shutdown))
    assert is_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    wrapped = RuntimeError("while reading")
    wrapped.__cause__ = asyncpg.exceptions.ConnectionDoesNotExistError("closed")
    assert is_unavailable(wrapped)
    # A commit after the restart cut the connection under a savepoint (the soak found it).
    from sqlalchemy.exc import PendingRollbackError

    for kind in ("", "savepoint "):
        assert is_unavailable(
            PendingRollbackError(
                f"Can't reconnect until invalid {kind}transaction is rolled back.  Please "
                "rollback() fully before proceeding"
            )
        )
    assert not is_unavailable(
        PendingRollbackError("This Session's transaction has been rolled back")
    )
    duplicate = asyncpg.exceptions.UniqueViolationError("duplicate key")
    assert not is_unavailable(IntegrityError("INSERT", {}, duplicate))
    assert not is_unavailable(ValueError("a bug"))


async def test_a_stalled_database_costs_at_most_the_connect_timeout(stalled_postgres: str) -> None:
    db = Database(stalled_postgres)
    begun = time.perf_counter()
    try:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error, judged below
            await db.ping()
    finally:
        await db.dispose()
    elapsed = time.perf_counter() - begun
    assert elapsed < CONNECT_TIMEOUT_S + 3, elapsed  # not asyncpg's 60 s
    assert is_unavailable(caught.value), repr(caught.value)


@dataclass
class PostgresProxy:
    """A toxiproxy in front of the real PostgreSQL: the URL to connect through, and faults."""

    url: str
    toxiproxy: httpx.AsyncClient
    name: str

    async def stall(self) -> None:
        """Accept, never answer."""
        toxic = {"type": "timeout", "attributes": {"timeout": 0}}
        (await self.toxiproxy.post(f"/proxies/{self.name}/toxics", json=toxic)).raise_for_status()

    async def set_enabled(self, enabled: bool) -> None:
        """Disabled: open connections are cut and new ones refused, as a stopped server does."""
        answer = await self.toxiproxy.post(f"/proxies/{self.name}", json={"enabled": enabled})
        answer.raise_for_status()


@contextlib.asynccontextmanager
async def proxied(services: ServiceUrls, database_url: str) -> AsyncIterator[PostgresProxy]:
    require_reachable("toxiproxy", services.toxiproxy)
    name = f"sales-graph-test-{uuid.uuid4().hex[:12]}"
    rest = database_url.split("//", 1)[1]
    credentials, _, location = rest.rpartition("@")
    upstream, _, database = location.partition("/")
    async with httpx.AsyncClient(base_url=services.toxiproxy, timeout=5) as toxiproxy:
        created = await toxiproxy.post(
            "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
        )
        created.raise_for_status()
        listen = created.json()["listen"]
        url = f"postgresql+asyncpg://{credentials}@{listen}/{database}"
        try:
            yield PostgresProxy(url, toxiproxy, name)
        finally:
            await toxiproxy.delete(f"/proxies/{name}")


@pytest.fixture
async def postgres_proxy(services: ServiceUrls, postgres_url: str) -> AsyncIterator[PostgresProxy]:
    async with proxied(services, postgres_url) as proxy:
        yield proxy


@pytest.fixture
async def stalled_postgres(postgres_proxy: PostgresProxy) -> str:
    """A toxiproxy in front of the real PostgreSQL that accepts connections and never answers."""
    await postgres_proxy.stall()
    return postgres_proxy.url


async def test_a_database_that_stalls_under_an_open_connection_costs_the_command_timeout(
    postgres_proxy: PostgresProxy,
) -> None:
    """The connection was open (pooled) before the database stopped answering: the pre-ping
    and the statement end at the command timeout, as a retryable error, not a hang."""
    db = Database(postgres_proxy.url, command_timeout_s=2)
    try:
        await db.ping()  # a pooled connection, open and answering
        await postgres_proxy.stall()
        begun = time.perf_counter()
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error, judged below
            async with db.session() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        elapsed = time.perf_counter() - begun
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await db.dispose()
    # Bounded by the command timeout (then the connect timeout of a fresh connection),
    # not by asyncpg's defaults: no timeout at all on a statement.
    assert elapsed < 2 + CONNECT_TIMEOUT_S + 3, elapsed
    assert is_unavailable(caught.value), repr(caught.value)


async def test_a_query_whose_snapshot_cannot_begin_gets_a_retryable_503(
    services: ServiceUrls,
    fresh_postgres: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database goes away after the caller was authenticated and before the query's
    snapshot (its first statement) began: the error is SERVICE_UNAVAILABLE with Retry-After in
    GraphQL and REST alike, not an error without a code (a hook of the operation failed, not a
    field), and the requests after the database is back are served."""
    async with proxied(services, fresh_postgres) as proxy:
        org = await seeded_org(proxy.url)
        app = create_app(gateway_settings(tmp_path, proxy.url))
        async with app_client(app) as client:
            gateway = Gateway(client, app, org, "postgresql")
            token = gateway.token(org.admin)
            original = Context.read_one_snapshot

            async def database_gone(context: Context) -> None:
                await proxy.set_enabled(False)
                await original(context)

            monkeypatch.setattr(Context, "read_one_snapshot", database_gone)
            for accept in ("application/graphql-response+json", "application/json"):
                answer = await client.post(
                    "/graphql",
                    json={"query": "{ leads(first: 1) { totalCount } }"},
                    headers={"Authorization": f"Bearer {token}", "Accept": accept},
                )
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "1"
                errors = answer.json()["errors"]
                assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]
                assert "retry" in errors[0]["message"]
                await proxy.set_enabled(True)
            rest = await client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"})
            assert rest.status_code == 503, rest.text
            assert rest.headers["Retry-After"] == "1"
            assert rest.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            await proxy.set_enabled(True)

            monkeypatch.undo()
            data = await gateway.data(org.admin, "{ leads(first: 1) { totalCount } }")
            assert data["leads"]["totalCount"] >= 0
            served = await client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"})
            assert served.status_code == 200, served.text
