"""Object types built from rows and models by field name (schema/derive.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pytest
import strawberry
from pydantic import BaseModel
from strawberry.printer import print_schema

from sales_graph.connectors.models import Money, UpstreamModel
from sales_graph.schema.common import load_one
from sales_graph.schema.derive import from_attributes, mirrored_type


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass
class LineRow:
    sku: str
    price: Decimal


@dataclass
class OrderRow:
    id: uuid.UUID
    colour: str
    total: Decimal
    discount: Decimal | None
    lines: list[LineRow]
    owner_id: uuid.UUID | None
    stored_notes: str
    internal: str = "not a field"


strawberry.enum(Colour, name="Colour")


@strawberry.type
class Line:
    sku: str
    price: float


@strawberry.type
class Order:
    id: strawberry.ID
    colour: Colour
    total: float
    discount: float | None
    lines: list[Line]
    notes: str
    owner_id: strawberry.Private[uuid.UUID | None]
    row: strawberry.Private[OrderRow]

    from_row = from_attributes(OrderRow, notes=lambda row: row.stored_notes.upper())


@strawberry.type
class Misnamed:
    sku: str

    from_row = from_attributes(LineRow, skew=lambda row: row.sku)


def _order(**changes: object) -> OrderRow:
    values: dict[str, object] = {
        "id": uuid.UUID(int=7),
        "colour": "blue",
        "total": Decimal("12.50"),
        "discount": None,
        "lines": [LineRow("a", Decimal("1.10")), LineRow("b", Decimal("2"))],
        "owner_id": uuid.UUID(int=9),
        "stored_notes": "fragile",
    }
    values.update(changes)
    return OrderRow(**values)  # type: ignore[arg-type]


def test_fields_are_copied_by_name_and_converted_by_their_declared_type() -> None:
    row = _order()

    order = Order.from_row(row)

    assert order.id == "00000000-0000-0000-0000-000000000007"
    assert order.colour is Colour.BLUE
    assert order.total == 12.5
    assert type(order.total) is float
    assert order.discount is None
    assert [(line.sku, line.price) for line in order.lines] == [("a", 1.1), ("b", 2.0)]
    assert all(type(line) is Line and type(line.price) is float for line in order.lines)
    assert order.owner_id == uuid.UUID(int=9)
    assert order.row is row


def test_an_optional_value_is_converted_when_present() -> None:
    assert Order.from_row(_order(discount=Decimal("0.25"))).discount == 0.25


def test_a_derived_field_is_not_copied() -> None:
    assert Order.from_row(_order()).notes == "FRAGILE"


def test_deriving_a_field_the_type_does_not_have_is_an_error() -> None:
    with pytest.raises(TypeError, match="skew"):
        Misnamed.from_row(LineRow("a", Decimal(1)))


class PartModel(UpstreamModel):
    name: str
    price: Money


class KitModel(UpstreamModel):
    kit_id: str
    owner_key: str
    parts: list[PartModel]
    weight: int
    budget: Money | None = None
    note: str | None = None


@mirrored_type(description="A part.")
class Part:
    from_model = from_attributes(PartModel)


@mirrored_type(description="A kit.", exclude={"owner_key"})
class Kit:
    from_model = from_attributes(KitModel)
    weight: float = strawberry.field(description="Grams.")
    stale: bool = strawberry.field(description="Served from cache.")


@strawberry.type
class Query:
    kit: Kit


def test_a_mirrored_type_has_the_models_fields_in_its_order() -> None:
    sdl = print_schema(strawberry.Schema(Query))

    assert (
        '''"""A kit."""
type Kit {
  kitId: String!
  parts: [Part!]!

  """Grams."""
  weight: Float!
  budget: Float
  note: String

  """Served from cache."""
  stale: Boolean!
}'''
        in sdl
    )
    assert (
        '''"""A part."""
type Part {
  name: String!
  price: Float!
}'''
        in sdl
    )


def test_a_mirrored_type_is_built_from_its_model() -> None:
    model = KitModel(
        kit_id="k",
        owner_key="x",
        parts=[{"name": "p", "price": "1.25"}],
        weight=3,
        budget="7.5",
    ).as_stale()

    kit = Kit.from_model(model)

    assert (kit.kit_id, kit.weight, kit.budget, kit.note, kit.stale) == ("k", 3.0, 7.5, None, True)
    assert [(part.name, part.price) for part in kit.parts] == [("p", 1.25)]
    assert not hasattr(kit, "owner_key")


def test_excluding_a_field_the_model_does_not_have_is_an_error() -> None:
    class Model(BaseModel):
        a: int

    with pytest.raises(TypeError, match="owner"):

        @mirrored_type(description="x", exclude={"owner"})
        class Mirror:
            from_model = from_attributes(Model)


class _Loader:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []

    async def load(self, key: str) -> str | None:
        self.asked.append(key)
        return self.known.get(key)


async def test_load_one_builds_what_the_loader_finds() -> None:
    loader = _Loader({"a": "found"})

    assert await load_one(loader, "a", str.upper) == "FOUND"
    assert await load_one(loader, "b", str.upper) is None
    assert loader.asked == ["a", "b"]


async def test_load_one_without_a_key_asks_nothing() -> None:
    loader = _Loader({"": "found"})

    assert await load_one(loader, None, str.upper) is None
    assert await load_one(loader, "", str.upper) is None
    assert loader.asked == []
