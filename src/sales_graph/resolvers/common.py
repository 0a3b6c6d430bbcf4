"""What every resolver does the same way: paging arguments and a mutation's savepoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.paging import PageRequest, page_request
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import ValidationError
from sales_graph.schema.context import Info

T = TypeVar("T")


def paging(
    info: Info, *, limit: int | None, offset: int | None, first: int | None, after: str | None
) -> PageRequest:
    settings = info.context.runtime.settings.graphql
    return page_request(
        limit=limit,
        offset=offset,
        first=first,
        after=after,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


def search_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise ValidationError(
            "Invalid request data", details={"fields": {"search": "1 to 200 characters"}}
        )
    return value


async def mutate(info: Info, command: Callable[[AsyncSession, AccessScope], Awaitable[T]]) -> T:
    """Runs one mutation field in a savepoint: it takes effect whole or not at all."""
    scope = await info.context.scope()
    return await info.context.run(lambda session: command(session, scope), write=True)


async def read(info: Info, query: Callable[[AsyncSession, AccessScope], Awaitable[T]]) -> T:
    scope = await info.context.scope()
    return await info.context.run(lambda session: query(session, scope))
