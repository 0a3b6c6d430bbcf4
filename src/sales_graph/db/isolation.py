"""One request's session shared by its fields, without one field's failure failing the others.

A statement that fails inside PostgreSQL aborts the transaction, so every later field and the
final commit would fail. So the fields of a request use the session inside savepoints:
a mutation in its own (it takes effect whole or not at all); reads before any mutation in one
shared savepoint that a database error rolls back, which loses nothing since only reads ran in
it (one ``SAVEPOINT`` per request, not two statements per field); reads after a mutation each
in their own, so that their failure never undoes the mutation.

graphql-core cancels the siblings of a failed non-null field; a statement cut off half way
leaves the connection unusable for the commit. So a field's database work runs to its end in a
task of its own (``shielded``), and the unit of work waits for such work before it commits or
rolls back (``settle``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")
_PENDING = "sales_graph.pending_work"


async def shielded(session: AsyncSession, work: Awaitable[T]) -> T:
    """``work`` on ``session``, finished even when the field awaiting it is cancelled."""
    task = asyncio.ensure_future(work)
    pending: set[asyncio.Future[Any]] = session.info.setdefault(_PENDING, set())
    pending.add(task)
    task.add_done_callback(pending.discard)
    return await asyncio.shield(task)


async def settle(session: AsyncSession) -> None:
    """Waits for the shielded work still running on ``session`` (its errors were reported)."""
    pending = session.info.get(_PENDING)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


class FieldIsolation:
    def __init__(self, session: AsyncSession, *, aborts_on_error: bool) -> None:
        self._session = session
        # SQLite keeps its transaction usable after a failed statement: reads need no savepoint.
        self._aborts_on_error = aborts_on_error
        self._reads: AsyncSessionTransaction | None = None
        self._wrote = False

    @asynccontextmanager
    async def use(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        session = self._session
        if write or (self._wrote and self._aborts_on_error):
            async with session.begin_nested():
                yield session
            self._wrote = self._wrote or write
            return
        if not self._aborts_on_error:
            yield session
            return
        if self._reads is None:
            self._reads = await session.begin_nested()
        try:
            yield session
        except DBAPIError:
            await self._reads.rollback()
            self._reads = None
            raise
