"""Offset and keyset (cursor) paging, the same for every list."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
from sqlalchemy import tuple_
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from sales_graph.errors import ValidationError

Kind = Literal["datetime", "int", "str", "date"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Order:
    """One sort order of a list: a key expression, its direction, and how to read a cursor."""

    name: str
    key: Any
    id_column: Any
    descending: bool
    kind: Kind
    value_of: Callable[[Any], Any]
    # The list it sorts: a cursor names the list and the order, and is read by no other.
    list_name: str = ""

    @property
    def tag(self) -> str:
        return f"{self.list_name}.{self.name}" if self.list_name else self.name

    def apply(self, statement: SelectOfScalar[Any]) -> SelectOfScalar[Any]:
        if self.descending:
            return statement.order_by(self.key.desc(), self.id_column.desc())
        return statement.order_by(self.key.asc(), self.id_column.asc())

    def after(self, statement: SelectOfScalar[Any], cursor: Cursor) -> SelectOfScalar[Any]:
        value, row_id = self._decode_values(cursor)
        left = tuple_(self.key, self.id_column)
        right = tuple_(value, row_id)
        return statement.where(left < right if self.descending else left > right)

    def _decode_values(self, cursor: Cursor) -> tuple[Any, uuid.UUID]:
        if cursor.order != self.tag:
            raise ValidationError(
                "The cursor belongs to another list or sort order",
                details={"fields": {"after": f"cursor is for {cursor.order}, not {self.tag}"}},
            )
        try:
            return _KEY_READERS[self.kind](cursor.value), uuid.UUID(cursor.row_id)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _malformed() from exc

    def cursor_for(self, value: Any, row_id: uuid.UUID) -> str:
        if isinstance(value, datetime):
            value = value.isoformat()
        return Cursor(self.tag, value, str(row_id)).encode()


# One order of a list, as its repository declares it: name, key, descending, kind, value_of.
OrderSpec = tuple[str, Any, bool, Kind, Callable[[Any], Any]]


def orders_of(list_name: str, id_column: Any, *specs: OrderSpec) -> dict[str, Order]:
    """The sort orders of one list by name, each tied on ``id_column`` and named by the list
    in its cursors."""
    return {
        name: Order(name, key, id_column, descending, kind, value_of, list_name)
        for name, key, descending, kind, value_of in specs
    }


def time_orders(model: Any) -> tuple[OrderSpec, ...]:
    """Newest first, oldest first, last changed first: the orders of a list by its timestamps."""
    return (
        ("CREATED_AT_DESC", model.created_at, True, "datetime", lambda r: r.created_at),
        ("CREATED_AT_ASC", model.created_at, False, "datetime", lambda r: r.created_at),
        ("UPDATED_AT_DESC", model.updated_at, True, "datetime", lambda r: r.updated_at),
    )


def _malformed() -> ValidationError:
    return ValidationError("Malformed cursor", details={"fields": {"after": "malformed cursor"}})


# A cursor's key must be what this gateway mints, within what the column holds: a forged one
# is the caller's mistake (400), never a database error.
_INT32 = 2**31


def _datetime_key(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a timestamp")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    if parsed.isoformat() != value:
        raise ValueError("not a timestamp as minted")
    return parsed.astimezone(UTC)


def _int_key(value: Any) -> int:
    if type(value) is not int or not -_INT32 <= value < _INT32:
        raise ValueError("not a 32-bit integer")
    return value


def _str_key(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_CURSOR_LENGTH:
        raise ValueError("not a text key")
    return value


def _date_key(value: Any) -> date:
    if not isinstance(value, str):
        raise TypeError("not a date")
    parsed = date.fromisoformat(value)
    if parsed.isoformat() != value:
        raise ValueError("not a date as minted")
    return parsed


_KEY_READERS: dict[Kind, Callable[[Any], Any]] = {
    "datetime": _datetime_key,
    "int": _int_key,
    "str": _str_key,
    "date": _date_key,
}
MAX_CURSOR_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Cursor:
    order: str
    value: Any
    row_id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.order, self.value, self.row_id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if len(text) > MAX_CURSOR_LENGTH:
            raise _malformed()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            decoded = orjson.loads(raw)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise _malformed() from exc
        if not isinstance(decoded, list) or len(decoded) != 3:
            raise _malformed()
        order, value, row_id = decoded
        if not isinstance(order, str) or not isinstance(row_id, str):
            raise _malformed()
        cursor = cls(order, value, row_id)
        # Only a cursor as this gateway writes it: no other alphabet, padding, spacing or JSON.
        if cursor.encode() != text:
            raise _malformed()
        return cursor


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page: offset paging, or keyset paging after a cursor (never both)."""

    limit: int
    offset: int = 0
    after: Cursor | None = None

    @property
    def is_cursor(self) -> bool:
        return self.after is not None


def page_request(
    *,
    limit: int | None,
    offset: int | None,
    first: int | None,
    after: str | None,
    default_size: int,
    max_size: int,
) -> PageRequest:
    problems: dict[str, str] = {}
    if limit is not None and first is not None:
        problems["first"] = "give limit or first, not both"
    if after is not None and offset not in (None, 0):
        problems["after"] = "give offset or after, not both"
    size = first if first is not None else limit
    name = "first" if first is not None else "limit"
    if size is not None and not 1 <= size <= max_size:
        problems[name] = f"must be between 1 and {max_size}"
    if offset is not None and offset < 0:
        problems["offset"] = "must be 0 or more"
    if problems:
        raise ValidationError("Invalid paging arguments", details={"fields": problems})
    return PageRequest(
        limit=size or default_size,
        offset=offset or 0,
        after=Cursor.decode(after) if after is not None else None,
    )


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    items: list[T]
    has_more: bool
    end_cursor: str | None


async def fetch_page(
    session: AsyncSession, statement: SelectOfScalar[T], order: Order, request: PageRequest
) -> PageResult[T]:
    """One statement: a page plus one row, to know whether more follow."""
    if request.after is not None:
        statement = order.after(statement, request.after)
    statement = order.apply(statement).limit(request.limit + 1)
    if not request.is_cursor:
        statement = statement.offset(request.offset)
    rows = list((await session.exec(statement)).all())
    has_more = len(rows) > request.limit
    rows = rows[: request.limit]
    end = order.cursor_for(order.value_of(rows[-1]), rows[-1].id) if rows else None  # type: ignore[attr-defined]
    return PageResult(rows, has_more, end)
