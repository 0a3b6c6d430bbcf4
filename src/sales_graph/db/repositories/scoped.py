"""The reads every kind of sales record answers the same way under an access scope: one by id,
several by ids, a page of a filter in one of its named orders, a filter's count."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, func, inspect, or_
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from sales_graph.db.paging import Order, PageRequest, PageResult, fetch_page
from sales_graph.domain.scope import AccessScope


class Filter(Protocol):
    def clauses(self) -> list[ColumnElement[bool]]: ...


def equal_where_given(*conditions: tuple[Any, object]) -> list[ColumnElement[bool]]:
    """``column == value`` for each (column, value) whose value is given: a filter's optional
    equality conditions (``None`` means "any")."""
    return [col(column) == value for column, value in conditions if value is not None]


_ESCAPE = "\\"


def contains(text: str, *values: Any) -> ColumnElement[bool]:
    """One of ``values`` (text, NULL read as empty) holds ``text`` anywhere, case-insensitively;
    ``%``, ``_`` and ``\\`` in ``text`` are characters to find, not LIKE wildcards."""
    escaped = "".join(_ESCAPE + c if c in "%_\\" else c for c in text.lower())
    pattern = f"%{escaped}%"
    return or_(*(func.lower(func.coalesce(v, "")).like(pattern, escape=_ESCAPE) for v in values))


Row = TypeVar("Row", bound=SQLModel)
Child = TypeVar("Child", bound=SQLModel)
F = TypeVar("F", bound=Filter, contravariant=True)


@dataclass(frozen=True, slots=True)
class ScopedReads(Generic[Row, F]):
    model: type[Row]
    # The clause limiting the records to those a scope sees, and the orders a page may be
    # sorted in, by name.
    visible: Callable[[AccessScope], ColumnElement[bool]]
    orders: Mapping[str, Order]
    # The record's id: its table's primary key, read once from the mapping.
    id_column: Any = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id_column", inspect(self.model).primary_key[0])

    def select(self, scope: AccessScope) -> SelectOfScalar[Row]:
        return select(self.model).where(self.visible(scope))

    async def get(
        self,
        session: AsyncSession,
        scope: AccessScope,
        row_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> Row | None:
        statement = self.select(scope).where(self.id_column == row_id)
        if for_update:
            statement = statement.with_for_update()
        return (await session.exec(statement)).first()

    async def by_ids(
        self, session: AsyncSession, scope: AccessScope, ids: Sequence[uuid.UUID]
    ) -> list[Row]:
        if not ids:
            return []
        statement = self.select(scope).where(self.id_column.in_(ids))
        return list((await session.exec(statement)).all())

    async def page(
        self,
        session: AsyncSession,
        scope: AccessScope,
        where: F,
        order: str,
        request: PageRequest,
    ) -> PageResult[Row]:
        statement = self.select(scope).where(*where.clauses())
        return await fetch_page(session, statement, self.orders[order], request)

    async def count(self, session: AsyncSession, scope: AccessScope, where: F) -> int:
        statement = (
            select(func.count())
            .select_from(self.model)
            .where(self.visible(scope), *where.clauses())
        )
        return int((await session.exec(statement)).one())

    async def lines_of(
        self,
        session: AsyncSession,
        scope: AccessScope,
        model: type[Child],
        parent_id: Any,
        parent_ids: Sequence[uuid.UUID],
        order: Sequence[Any],
    ) -> list[Child]:
        """The rows of ``model`` (its ``parent_id`` column naming the record) that belong to
        the records the scope sees, in ``order``."""
        visible = self.visible(scope)  # checks the scope may read the records, ids or none
        if not parent_ids:
            return []
        statement = (
            select(model)
            .join(self.model, self.id_column == parent_id)
            .where(parent_id.in_(parent_ids), visible)
            .order_by(*order)
        )
        return list((await session.exec(statement)).all())
