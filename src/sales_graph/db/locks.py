"""Locks across processes, held for as long as a block runs and dropped when the process dies:
a PostgreSQL session advisory lock (on a connection of its own), or, for the embedded SQLite
file, an ``flock`` on a file next to it (the processes sharing that file share the machine)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from sales_graph.db.engine import Database


def _key(name: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def exclusive(db: Database, name: str) -> AsyncIterator[bool]:
    """Yields True with the lock ``name`` held for the block, False when another process (or
    another block of this one) holds it; never waits."""
    if db.dialect == "postgresql":
        async with db.engine.connect() as connection:
            taken = (
                await connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)})
            ).scalar_one()
            await connection.commit()
            try:
                yield bool(taken)
            finally:
                if taken:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)}
                    )
                    await connection.commit()
        return
    database = db.engine.url.database
    directory = Path(f"{database}.locks") if database and database != ":memory:" else None
    if directory is None:
        yield True
        return
    directory.mkdir(exist_ok=True)
    path = directory / hashlib.sha256(name.encode()).hexdigest()[:32]
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
