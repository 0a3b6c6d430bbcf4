"""A route's answer, read from its GraphQL operation: the JSON Schema and the JSON itself.

One walk of the selection set against the schema's types yields both. A field's REST name is
its response key (its alias, else its name) in snake_case; its schema follows its type:
non-null or nullable, lists, enums (in lower case, as REST spells them), scalars, nested objects.
The spec's REST shape differs from the graph in a few declared ways, all said in the document:

- an alias renames (``total: totalCount``, ``territoryId: territory { id }``);
- a related record selected by ``{ id }`` alone is its id (``territory_id``, ``member_ids``);
- a selection that is one fragment spread (``{ ...Lead }``) is the named schema ``Lead`` of the
  document's components, built from the fragment;
- a field whose alias starts with ``_`` (``_version: version``) is read by the route (its
  ``ETag``) but is not part of the answer;
- a field the operation always fills, though its type is nullable, is declared by the route
  (``filled``: a submitted forecast's ``id``);
- the answer is the root field's object; a list root is ``{"data": [...]}``; a page (a
  ``...Connection``) is ``{"data": items, "pagination": {...its other fields}}``; several root
  fields (an operation and its follow-up) are merged into one object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
)
from sales_graph.rest.schemas import BOOL, DATE, INT, NUM, STR, TIME, nullable, obj, ref
from sales_graph.rest.shapes import JSONObject, snake

_SCALARS: dict[str, JSONObject] = {
    "ID": STR,
    "String": STR,
    "Int": INT,
    "Float": NUM,
    "Boolean": BOOL,
    "Date": DATE,
    "DateTime": TIME,
    # Free-form JSON: a plain object schema (no recursion), which every generator takes.
    "JSON": {"type": "object"},
}


@dataclass(frozen=True)
class _Selection:
    fields: tuple[_Field, ...]
    # The fragment that is the whole selection: a named schema of the document.
    component: str | None = None
    # ``{ id }`` alone: the related record is its id.
    reference: bool = False


@dataclass(frozen=True)
class _Field:
    key: str
    name: str
    type: GraphQLOutputType
    selection: _Selection | None
    description: str | None

    @property
    def hidden(self) -> bool:
        return self.key.startswith("_")


def parsed(schema: GraphQLSchema, document: str) -> DocumentNode:
    """``document``, checked against ``schema``: a route that does not fit fails at start."""
    node = parse(document)
    problems = validate(schema, node)
    if problems:
        raise ValueError(f"{document!r}: {problems[0].message}")
    return node


def operation_of(node: DocumentNode) -> OperationDefinitionNode:
    (operation,) = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
    return operation


def _nullable_type(type_: GraphQLOutputType) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _base(type_: GraphQLOutputType) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


class _Walker:
    def __init__(self, node: DocumentNode) -> None:
        self._fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def _nodes(self, selection_set: SelectionSetNode) -> Iterable[FieldNode]:
        for item in selection_set.selections:
            if isinstance(item, FieldNode):
                yield item
            elif isinstance(item, FragmentSpreadNode):
                yield from self._nodes(self._fragments[item.name.value].selection_set)
            elif isinstance(item, InlineFragmentNode):
                yield from self._nodes(item.selection_set)

    def selection(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> _Selection:
        fields: dict[str, _Field] = {}
        for node in self._nodes(selection_set):
            key = node.alias.value if node.alias else node.name.value
            if key in fields or node.name.value == "__typename":
                continue
            definition = parent.fields[node.name.value]
            inner = None
            if node.selection_set is not None:
                inner = self.selection(_base(definition.type), node.selection_set)
            fields[key] = _Field(key, snake(key), definition.type, inner, definition.description)
        spreads = selection_set.selections
        only = spreads[0] if len(spreads) == 1 else None
        component = only.name.value if isinstance(only, FragmentSpreadNode) else None
        reference = list(fields) == ["id"] and component is None
        return _Selection(tuple(fields.values()), component, reference)


def _value(value: Any, type_: GraphQLOutputType, selection: _Selection | None) -> Any:
    if value is None:
        return None
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return [_value(item, type_.of_type, selection) for item in value]
    if isinstance(type_, GraphQLEnumType):
        return str(value).lower()
    if selection is None:
        return value
    if selection.reference:
        return value["id"]
    return _object(value, selection.fields)


def _object(value: Mapping[str, Any], fields: Iterable[_Field]) -> JSONObject:
    return {f.name: _value(value[f.key], f.type, f.selection) for f in fields if not f.hidden}


class Answer:
    """The answer of a route: its schema, the named schemas it uses, and the JSON of a result."""

    def __init__(
        self,
        schema: GraphQLSchema,
        documents: Sequence[DocumentNode],
        filled: Iterable[str] = (),
    ) -> None:
        self.components: dict[str, JSONObject] = {}
        self._roots: list[_Field] = []
        for node in documents:
            operation = operation_of(node)
            root = schema.get_root_type(operation.operation)
            assert root is not None
            self._roots.extend(_Walker(node).selection(root, operation.selection_set).fields)
        visible = [f for f in self._roots if not f.hidden]
        base = _base(visible[0].type)
        if len(visible) > 1:
            self._kind = "merged"
        elif isinstance(_nullable_type(visible[0].type), GraphQLList):
            self._kind = "list"
        elif base.name.endswith("Connection"):
            self._kind = "page"
        else:
            self._kind = "object"
        self.schema = self._answer_schema(visible)
        for name in filled:
            prop = self.schema["properties"][name]
            prop["type"] = next(t for t in prop["type"] if t != "null")

    def shape(self, data: Mapping[str, Any]) -> Any:
        """The REST JSON of an operation's ``data``."""
        if self._kind == "merged":
            merged: JSONObject = {}
            for root in self._roots:
                if not root.hidden:
                    merged |= _value(data[root.key], root.type, root.selection)
            return merged
        (root,) = [f for f in self._roots if not f.hidden]
        value = _value(data[root.key], root.type, root.selection)
        if self._kind == "list":
            return {"data": value}
        if self._kind == "page":
            return {"data": value.pop("items"), "pagination": value}
        return value

    def version(self, data: Mapping[str, Any], key: str) -> int:
        """The version an answer is at (its ``ETag``): ``key`` of the first root field."""
        return int(data[self._roots[0].key][key])

    def next_cursor(self, data: Mapping[str, Any], key: str) -> str | None:
        """The cursor to read on from when more follow: ``key`` of the first root field, a
        ``pageInfo { hasNextPage endCursor }``."""
        info = data[self._roots[0].key][key]
        return info["endCursor"] if info["hasNextPage"] else None

    def _answer_schema(self, visible: list[_Field]) -> JSONObject:
        if self._kind == "merged":
            fields = [f for root in visible for f in _fields_of(root) if not f.hidden]
            return self._properties(fields)
        (root,) = visible
        found = self._schema(root.type, root.selection)
        if self._kind == "list":
            return obj(data=found)
        if self._kind == "page":
            items = found["properties"].pop("items")
            found["required"].remove("items")
            return obj(data=items, pagination=found)
        return found

    def _schema(self, type_: GraphQLOutputType, selection: _Selection | None) -> JSONObject:
        if not isinstance(type_, GraphQLNonNull):
            return nullable(self._schema(GraphQLNonNull(type_), selection))
        inner = type_.of_type
        if isinstance(inner, GraphQLList):
            return {"type": "array", "items": self._schema(inner.of_type, selection)}
        if isinstance(inner, GraphQLEnumType):
            return {"type": "string", "enum": [name.lower() for name in inner.values]}
        if isinstance(inner, GraphQLScalarType):
            return dict(_SCALARS[inner.name])
        assert isinstance(inner, GraphQLObjectType), inner
        assert selection is not None
        if selection.reference:
            return self._schema(inner.fields["id"].type, None)
        found = self._properties(f for f in selection.fields if not f.hidden)
        if selection.component is None:
            return found
        if inner.description:
            found = {"description": inner.description, **found}
        known = self.components.setdefault(selection.component, found)
        assert known == found, f"fragment {selection.component} means two things"
        return ref(selection.component)

    def _properties(self, fields: Iterable[_Field]) -> JSONObject:
        properties = {}
        for f in fields:
            found = self._schema(f.type, f.selection)
            if f.description and "$ref" not in found:
                found = {**found, "description": f.description}
            properties[f.name] = found
        return obj(**properties)


def _fields_of(root: _Field) -> tuple[_Field, ...]:
    assert root.selection is not None, f"{root.key} is no object"
    return root.selection.fields
