"""Writes every repository makes the same way: add a row, replace a record's ordered lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


class Positioned(Protocol):
    position: int


Row = TypeVar("Row", bound=SQLModel)


async def add(session: AsyncSession, row: Row) -> Row:
    """Adds the row and flushes it (its defaults and generated columns are set)."""
    session.add(row)
    await session.flush()
    return row


async def replace_ordered(
    session: AsyncSession, old: Iterable[SQLModel], new: Sequence[Positioned]
) -> None:
    """Deletes the old lines of a record, then adds the new ones numbered in their order."""
    for row in old:
        await session.delete(row)
    await session.flush()
    for position, line in enumerate(new):
        line.position = position
        session.add(line)
    await session.flush()


# A changed row is written the same way: services save what they changed, and read it back set.
save = add
