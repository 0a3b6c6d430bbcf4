"""Starting the gateway in tests, one way each: its settings, a migrated database with the test
organisation, an in-process HTTP client over the app (lifespan run), a real server on a loopback
port (in a thread for synchronous tools, or as a task of the test's event loop)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.settings import EventSettings, FinanceSyncSettings, RateLimitSettings, Settings
from sales_graph.web.server import uvicorn_options
from tests.factories import Org, make_org


def gateway_settings(tmp_path: Path, database_url: str | None = None, **fields: Any) -> Settings:
    """Settings of a test gateway: no ``.env``, warnings only, no rate limits (tests/limits
    covers them), no scheduled Finance sync (a test alive at its slot would send what another
    test counts; tests/finance runs its job by hand), data under ``tmp_path``; ``fields``
    override any of them."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "log_level": "WARNING",
        "rate_limit": RateLimitSettings(enabled=False),
        "finance_sync": FinanceSyncSettings(enabled=False),
        "_env_file": None,
    }
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(**(values | fields))


def embedded_settings(tmp_path: Path, database_url: str, **fields: Any) -> Settings:
    """:func:`gateway_settings` of the embedded footprint (the in-process relay and bus, no
    Kafka, no Redis) whatever the environment names."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": None,
        "redis_url": None,
        "events": EventSettings(in_process=True, relay_poll_interval_s=0.2),
    }
    return gateway_settings(tmp_path, database_url, **(values | fields))


async def seeded_org(database_url: str) -> Org:
    """The database migrated, with the test organisation of ``tests.factories`` in it."""
    db = Database(database_url)
    try:
        await upgrade(db.engine)
        async with db.session() as session:
            return await make_org(session)
    finally:
        await db.dispose()


@asynccontextmanager
async def app_client(
    app: ASGIApp, base_url: str = "http://gateway"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over ``app`` in this process, its lifespan started and, at the end, ended."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=base_url
        ) as client,
    ):
        yield client


def server_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """uvicorn's config for ``app`` on a free loopback port: a gateway (``create_app``) is
    served with the options ``sales-graph serve`` gives uvicorn (``web/server.py``), from its
    settings; another app (an identity provider, a receiver) with uvicorn's own."""
    settings = getattr(getattr(app, "state", None), "settings", None)
    served_as = uvicorn_options(settings) if isinstance(settings, Settings) else {}
    values = {"log_level": "warning"} | served_as | options
    return uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **values)


@contextmanager
def served(app: ASGIApp, name: str = "gateway", start_timeout_s: float = 30) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its base URL."""
    server = uvicorn.Server(server_config(app))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        assert thread.is_alive(), f"{name} did not start"
        assert time.monotonic() < deadline, f"{name} did not start in {start_timeout_s} s"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@asynccontextmanager
async def live_server(
    app: ASGIApp, start_timeout_s: float = 20, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` under uvicorn on a free loopback port, as a task of this event loop, and a client
    for it (real sockets: what an in-process transport would not show); ``options`` of
    ``uvicorn.Config`` override those of :func:`server_config`."""
    server = uvicorn.Server(server_config(app, **options))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(start_timeout_s):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task
