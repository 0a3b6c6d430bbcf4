"""Pieces every domain's types share: pages of a list, loading a related record, and input
conversion."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, Generic, Protocol, Self, TypeVar

import strawberry

from sales_graph.db.paging import PageRequest, PageResult
from sales_graph.errors import ValidationError

Item = TypeVar("Item")
K = TypeVar("K", contravariant=True)
R = TypeVar("R")
V = TypeVar("V", covariant=True)


@strawberry.type(description="Cursor paging: pass endCursor as `after` to get the next page.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Connection(Generic[Item]):
    """A page of a list, by offset or cursor; a list's connection subclasses it with its name,
    its description and its ``total_count``."""

    items: list[Item]
    limit: int
    offset: int
    has_more: bool
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @classmethod
    def of(
        cls,
        page: PageRequest,
        result: PageResult[R],
        build: Callable[[R], Item],
        counter: Callable[[], Awaitable[int]],
    ) -> Self:
        return cls(
            items=[build(row) for row in result.items],
            limit=page.limit,
            offset=page.offset,
            has_more=result.has_more,
            page_info=PageInfo(has_next_page=result.has_more, end_cursor=result.end_cursor),
            counter=counter,
        )


def total_count_of(what: str) -> Any:
    """The ``totalCount`` of a connection, counted only when asked for."""

    async def count(root: Connection[Any]) -> int:
        return await root.counter()

    return strawberry.field(
        resolver=count, description=f"How many {what} match the filters (all pages)."
    )


class Loads(Protocol[K, V]):
    def load(self, key: K) -> Awaitable[V | None]: ...


async def load_one(loader: Loads[K, R], key: K | None, build: Callable[[R], Item]) -> Item | None:
    """A related record by its key through a per-request loader, as its type; None without a key
    or when nothing (visible) has it."""
    if not key:
        return None
    found = await loader.load(key)
    return build(found) if found is not None else None


def parse_id(value: strawberry.ID | str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError(
            "Invalid request data", details={"fields": {field: "must be a UUID"}}
        ) from None


def input_values(value: Any) -> Any:
    """A Strawberry input as plain data, leaving out the fields the caller did not send."""
    if isinstance(value, list):
        return [input_values(item) for item in value]
    if isinstance(value, Enum):
        return value
    fields = getattr(value, "__strawberry_definition__", None)
    if fields is None:
        return value
    result: dict[str, Any] = {}
    for field in fields.fields:
        item = getattr(value, field.python_name)
        if item is strawberry.UNSET:
            continue
        result[field.python_name] = input_values(item)
    return result
