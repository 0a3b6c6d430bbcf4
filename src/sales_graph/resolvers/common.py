"""What every resolver does the same way: paging, reading, and a mutation's savepoint."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.paging import PageRequest, PageResult, page_request
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import ValidationError
from sales_graph.schema.common import Connection, parse_id
from sales_graph.schema.context import Info

C = TypeVar("C", bound=Connection[Any])
R = TypeVar("R")
T = TypeVar("T")
W = TypeVar("W")
# Work done with the session, under the caller's scope.
InScope = Callable[[AsyncSession, AccessScope], Awaitable[T]]
# A service's list and its count, both under one filter (``where``): list_leads, count_leads...
ListRows = Callable[[AsyncSession, AccessScope, W, str, PageRequest], Awaitable[PageResult[R]]]
CountRows = Callable[[AsyncSession, AccessScope, W], Awaitable[int]]


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


def optional_id(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    """An optional id argument (a filter): None when not given, else it must be a UUID."""
    return parse_id(value, field) if value else None


def search_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise ValidationError(
            "Invalid request data", details={"fields": {"search": "1 to 200 characters"}}
        )
    return value


async def mutate(info: Info, command: InScope[T]) -> T:
    """Runs one mutation field in a savepoint: it takes effect whole or not at all."""
    scope = await info.context.scope()
    return await info.context.run(lambda session: command(session, scope), write=True)


async def read(info: Info, query: InScope[T]) -> T:
    scope = await info.context.scope()
    return await info.context.run(lambda session: query(session, scope))


async def page_of(
    info: Info,
    connection: type[C],
    build: Callable[[R], Any],
    page: PageRequest,
    where: W,
    order: str,
    *,
    rows: ListRows[W, R],
    count: CountRows[W],
) -> C:
    """A page of a list under ``where`` in ``order``; its total (under the same ``where``) is
    counted only when the caller asks for ``totalCount``."""
    result = await read(info, lambda s, scope: rows(s, scope, where, order, page))

    async def counter() -> int:
        return await read(info, lambda s, scope: count(s, scope, where))

    return connection.of(page, result, build, counter)
