"""Object types built from what the services and connectors return, a field declared once.

``from_row = from_attributes(LeadRow, metadata=...)`` in an object type makes
``Lead.from_row(row)``: each field the type declares is the source's attribute of the same name,
converted by the field's declared type, except the fields named here, which say how they are
derived. Adding a stored field to a type is its declaration, nothing more.

Conversions by declared type: a ``Float`` from a Decimal or an int (money is a Float in the
schema), an ``ID`` from a UUID, an enum from its stored value, an object type from the value of
the attribute, built the same way (each item of a list; by the type's own ``from_attributes``
when it has one). A private field typed as the source holds the source itself.

``@mirrored_type`` goes further for the upstream types: the fields themselves are those of the
pydantic model the type is built from (``from_model = from_attributes(Model)``), so the
connector's model is the one place they are written.

On a type's first use its builder is generated, as ``dataclasses`` generates ``__init__``: the
constructor call one would write by hand (``Lead(id=str(row.id), email=row.email, ...)``), so a
page of rows costs what it did when it was written out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

import strawberry
from pydantic import BaseModel
from strawberry.types.base import StrawberryList, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.lazy_type import LazyType
from strawberry.types.private import is_private

S = TypeVar("S")
T = TypeVar("T")


class FromAttributes(Generic[S]):
    """A descriptor: ``Type.from_row`` is the function from a source to a ``Type``."""

    def __init__(self, source: type[S], derived: Mapping[str, Callable[[S], Any]]) -> None:
        self.source = source
        self.derived = derived
        self._builders: dict[type[Any], Callable[[S], Any]] = {}
        self._generated: dict[type[Any], Callable[[S], Any]] = {}

    def __set_name__(self, owner: type[Any], name: str) -> None:
        _DECLARED.setdefault(owner, []).append(self)

    def __get__(self, instance: object, owner: type[T]) -> Callable[[S], T]:
        builder = self._builders.get(owner)
        if builder is None:
            # Generated on the first call, not here: field types may name types defined later.
            builder = self._builders[owner] = lambda source: self.generated(owner)(source)
        return builder

    def generated(self, owner: type[T]) -> Callable[[S], T]:
        built = self._generated.get(owner)
        if built is None:
            built = self._generated[owner] = self._builders[owner] = _generate(owner, self)
        return built


def from_attributes(source: type[S], /, **derived: Callable[[S], Any]) -> FromAttributes[S]:
    """Build the type from a ``source``; ``derived`` holds the fields not copied by name."""
    return FromAttributes(source, derived)


_DECLARED: dict[type[Any], list[FromAttributes[Any]]] = {}


class _Code:
    """The generated function's text and the names it uses."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"float": float, "str": str}
        self._count = 0

    def name(self, value: Any) -> str:
        self._count += 1
        name = f"_{self._count}"
        self.names[name] = value
        return name

    def local(self) -> str:
        self._count += 1
        return f"_v{self._count}"


def _generate(owner: type[T], how: FromAttributes[S]) -> Callable[[S], T]:
    code = _Code()
    arguments = {}
    for field in get_object_definition(owner, strict=True).fields:
        if not field.init:  # a field with a resolver
            continue
        name = field.python_name
        if name in how.derived:
            value = f"{code.name(how.derived[name])}(source)"
        elif is_private(field.type):
            value = "source" if get_args(field.type)[0] is how.source else f"source.{name}"
        else:
            value = _converted(field.type, f"source.{name}", code)
        arguments[name] = value
    if unknown := set(how.derived) - set(arguments):
        raise TypeError(f"{owner.__name__} has no fields {sorted(unknown)} to derive")
    call = ", ".join(f"{name}={value}" for name, value in arguments.items())
    text = f"def build(source):\n    return {code.name(owner)}({call})\n"
    where = f"<{owner.__name__} from {how.source.__name__}>"
    exec(compile(text, where, "exec"), code.names)  # noqa: S102 - our text, of declared fields
    built: Callable[[S], T] = code.names["build"]
    return built


def _converted(declared: object, value: str, code: _Code) -> str:
    """The expression of ``value`` as the field declares it."""
    if isinstance(declared, LazyType):
        declared = declared.resolve_type()
    if isinstance(declared, StrawberryOptional):
        local = code.local()
        inner = _converted(declared.of_type, local, code)
        return value if inner == local else f"(None if ({local} := {value}) is None else {inner})"
    if isinstance(declared, StrawberryList):
        local = code.local()
        item = _converted(declared.of_type, local, code)
        return value if item == local else f"[{item} for {local} in {value}]"
    if declared is float:
        return f"float({value})"
    if declared is strawberry.ID:
        return f"str({value})"
    if isinstance(declared, StrawberryEnumDefinition):
        return f"{code.name(declared.wrapped_cls)}({value})"
    if isinstance(declared, type) and get_object_definition(declared) is not None:
        return f"{code.name(_nested(declared))}({value})"
    return value


def _nested(owner: type[Any]) -> Callable[[Any], Any]:
    declared = _DECLARED.get(owner, [])
    if len(declared) > 1:
        raise TypeError(f"{owner.__name__} is built from several sources; derive the field")
    how = declared[0] if declared else FromAttributes(object, {})
    return how.generated(owner)


def mirrored_type(
    *, description: str, exclude: Collection[str] = ()
) -> Callable[[type[T]], type[T]]:
    """An object type with the fields of the pydantic model it is built from, in the model's
    order and of its types (a Decimal is a Float, a model the type that mirrors it), but those
    in ``exclude``. A field the class declares takes the model's place; one the model does not
    have comes after the model's."""

    def mirror(cls: type[T]) -> type[T]:
        sources = [how.source for how in _DECLARED.get(cls, [])]
        if len(sources) != 1 or not issubclass(sources[0], BaseModel):
            raise TypeError(f"{cls.__name__} needs one from_attributes(<a pydantic model>)")
        model: type[BaseModel] = sources[0]
        if unknown := set(exclude) - set(model.model_fields):
            raise TypeError(f"{model.__name__} has no fields {sorted(unknown)} to exclude")
        own = inspect.get_annotations(cls)
        fields = {}
        for name, field in model.model_fields.items():
            if name not in exclude:
                fields[name] = own.pop(name) if name in own else _mirrored(field.annotation)
        cls.__annotations__ = fields | own
        mirrored = strawberry.type(cls, description=description)
        _MIRRORS[model] = mirrored
        return mirrored

    return mirror


_MIRRORS: dict[type[BaseModel], type[Any]] = {}


def _mirrored(annotation: Any) -> Any:
    """The GraphQL field type of a model's field type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _mirrored(get_args(annotation)[0])
    if origin is list:
        return list[_mirrored(get_args(annotation)[0])]  # type: ignore[misc]
    if origin is not None and type(None) in get_args(annotation):
        (inner,) = (arg for arg in get_args(annotation) if arg is not type(None))
        return _mirrored(inner) | None
    if annotation is Decimal:
        return float
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _MIRRORS[annotation]  # mirrored before the types that hold it
    return annotation


__all__ = ["FromAttributes", "from_attributes", "mirrored_type"]
