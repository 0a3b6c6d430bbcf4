"""The per-request GraphQL context and the ``Info`` alias the resolvers use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from sales_graph.db.isolation import FieldIsolation, shielded
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.runtime import Runtime
from sales_graph.services.access import scope_for

if TYPE_CHECKING:
    from sales_graph.schema.loaders import Loaders

T = TypeVar("T")


@dataclass
class Context:
    # The HTTP request; for a subscription event, the WebSocket or the SSE request.
    request: HTTPConnection
    response: Response | None
    runtime: Runtime
    session: AsyncSession
    principal: Principal | None
    # One AsyncSession serves the request; resolvers run concurrently, so they take turns.
    _db_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _scope: AccessScope | None = None
    _loaders: Loaders | None = None
    _isolation: FieldIsolation | None = None

    @asynccontextmanager
    async def db(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """The session, for one field at a time; ``write`` for a mutation (db/isolation.py)."""
        async with self._db_lock:
            if self._isolation is None:
                postgres = self.runtime.db.dialect == "postgresql"
                self._isolation = FieldIsolation(self.session, aborts_on_error=postgres)
            async with self._isolation.use(write=write) as session:
                yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]], *, write: bool = False) -> T:
        """``work`` in ``db()``, run to its end even if the field is cancelled (db/isolation.py)."""

        async def in_session() -> T:
            async with self.db(write=write) as session:
                return await work(session)

        return await shielded(self.session, in_session())

    async def read_one_snapshot(self) -> None:
        """The request's transaction, not begun yet, reads one snapshot (schema/snapshot.py)."""
        if self.runtime.db.dialect == "postgresql" and not self.session.in_transaction():
            await self.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    async def scope(self) -> AccessScope:
        async def load(session: AsyncSession) -> AccessScope:
            if self._scope is None:
                self._scope = await scope_for(session, self.principal)
            return self._scope

        if self._scope is not None:
            return self._scope
        return await self.run(load)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from sales_graph.schema.loaders import Loaders

            self._loaders = Loaders(self)
        return self._loaders


Info: TypeAlias = StrawberryInfo[Context, None]


_READ_SCOPE = {"lead": "leads:read", "opportunity": "opportunities:read"}


async def visible_id(
    info: Info, record_id: uuid.UUID | None, *, kind: Literal["lead", "opportunity"]
) -> strawberry.ID | None:
    """The id of a related record when the caller sees it, else null: an id field says no more
    about a record than the record's own field would."""
    if record_id is None:
        return None
    scope = await info.context.scope()
    if not scope.has_scope(_READ_SCOPE[kind]):
        return None
    loaders = info.context.loaders
    row = await (loaders.lead if kind == "lead" else loaders.opportunity).load(record_id)
    return strawberry.ID(str(record_id)) if row is not None else None
