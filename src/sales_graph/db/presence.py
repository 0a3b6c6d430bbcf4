"""Whether a migrated sales-graph database is there, asked without creating one.

Connecting to a missing SQLite file creates it, empty; the commands that only use a database
(``sales-graph token``, ``client``, ``apikey``, ...) ask :func:`require_database` first, and
leave nothing behind when it is not there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from sales_graph.db.migrate import current_revision

_CONNECT_TIMEOUT_S = 5.0


class DatabaseMissing(Exception):
    """No usable database, in one line: what is wrong, ``where`` (the file, or the URL without
    its password) and the driver's ``reason`` when it refused."""

    def __init__(self, where: str, problem: str, reason: str | None = None) -> None:
        super().__init__(f"{problem} at {where}" + (f" ({reason})" if reason else ""))
        self.where = where


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


async def require_database(url: str) -> None:
    """Raises :class:`DatabaseMissing` unless the database at ``url`` exists, answers and has
    the schema (an Alembic revision). Creates no file: a SQLite file is opened only if it exists.
    """
    path = sqlite_file(url)
    if path is not None:
        where = str(path.resolve())
        if not path.is_file():
            raise DatabaseMissing(where, "no sales-graph database")
    else:
        where = make_url(url).render_as_string(hide_password=True)
    connect_args = {"timeout": _CONNECT_TIMEOUT_S} if url.startswith("postgresql+asyncpg") else {}
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with asyncio.timeout(2 * _CONNECT_TIMEOUT_S):
            revision = await current_revision(engine)
    except (DBAPIError, OSError, TimeoutError) as exc:
        raise DatabaseMissing(where, "cannot open the sales-graph database", _reason(exc)) from exc
    finally:
        await engine.dispose()
    if revision is None:
        raise DatabaseMissing(where, "no sales-graph tables in the database")


def _reason(exc: BaseException) -> str:
    """The driver's own message, first line only (a DBAPIError adds the SQL and a link)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
