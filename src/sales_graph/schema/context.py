"""The per-request GraphQL context and the ``Info`` alias the resolvers use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from sales_graph.auth.principal import Principal
from sales_graph.runtime import Runtime


@dataclass
class Context:
    request: Request
    response: Response
    runtime: Runtime
    session: AsyncSession
    principal: Principal | None


Info: TypeAlias = StrawberryInfo[Context, None]
