"""The database: engine, sessions and the unit of work."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.isolation import settle
from sales_graph.jsonlimits import loads_stored
from sales_graph.telemetry.metrics import instrument_sqlalchemy
from sales_graph.telemetry.tracing import instrument_engine

# SQLite keeps NUMERIC as REAL; we accept that for the embedded footprint (PostgreSQL is exact).
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+aiosqlite does \*not\* support Decimal")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE: the write lock is taken (waiting up to busy_timeout) when the transaction
    # begins. A deferred transaction that read first cannot wait for it when another process
    # (the CLI next to the gateway) wrote meanwhile: SQLite fails it with "database is locked".
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (the outbox envelopes above all) are written and read with orjson.
# A row whose document cannot be decoded still loads: its field reads as unreadable, not the page.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": loads_stored}


CONNECT_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 10.0
# Every statement on a connection already open (the pool's pre-ping included): a database
# that stops answering mid-request (a stalled network, a stopping server) ends the statement,
# and the request is a retryable 503. Far above what any statement of ours takes.
COMMAND_TIMEOUT_S = 30.0


def create_engine(
    url: str, *, echo: bool = False, command_timeout_s: float = COMMAND_TIMEOUT_S
) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection: the embedded footprint serialises its transactions instead of
        # meeting SQLite's "database is locked" when two writers upgrade their locks.
        engine = create_async_engine(
            url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60, **_JSON
        )
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_recycle=1800,
        # A database that accepts connections and never answers (a stalled network, a server
        # stopping) costs a request at most these, then a retryable 503 (docs/errors.md),
        # instead of asyncpg's 60 s connect timeout and unbounded waits for the pool and for
        # a statement on a connection that was open before the stall.
        pool_timeout=POOL_TIMEOUT_S,
        connect_args={"timeout": CONNECT_TIMEOUT_S, "command_timeout": command_timeout_s},
        **_JSON,
    )


class Database:
    def __init__(
        self, url: str, *, echo: bool = False, command_timeout_s: float = COMMAND_TIMEOUT_S
    ) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, command_timeout_s=command_timeout_s)
        instrument_engine(self.engine.sync_engine)  # SQL spans, when tracing is on
        instrument_sqlalchemy(self.engine.sync_engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False, autoflush=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits once when the block succeeds, rolls back otherwise."""
        async with self._sessions() as session:
            try:
                yield session
                await settle(session)
                await session.commit()
            except BaseException:
                await settle(session)
                await session.rollback()
                raise

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
