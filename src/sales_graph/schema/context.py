"""The per-request GraphQL context and the ``Info`` alias the resolvers use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from sales_graph.auth.principal import Principal
from sales_graph.auth.scope import AccessScope
from sales_graph.runtime import Runtime
from sales_graph.services.access import scope_for

if TYPE_CHECKING:
    from sales_graph.resolvers.loaders import Loaders


@dataclass
class Context:
    request: Request
    response: Response
    runtime: Runtime
    session: AsyncSession
    principal: Principal | None
    # One AsyncSession serves the request; resolvers run concurrently, so they take turns.
    _db_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _scope: AccessScope | None = None
    _loaders: Loaders | None = None

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with self._db_lock:
            yield self.session

    async def scope(self) -> AccessScope:
        if self._scope is None:
            async with self.db() as session:
                if self._scope is None:
                    self._scope = await scope_for(session, self.principal)
        return self._scope

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from sales_graph.resolvers.loaders import Loaders

            self._loaders = Loaders(self)
        return self._loaders


Info: TypeAlias = StrawberryInfo[Context, None]
