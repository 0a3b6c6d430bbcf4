"""A REST request's inputs as the variables of its GraphQL operation, bound by name.

A path parameter, query parameter or body field goes to the variable of its name in
camelCase (``owner_id`` -> ``$ownerId``); a body field that names no variable goes to the
field of that name of the input-object variable that has one (``email`` -> ``$input.email``,
``contract_term`` -> ``$contractTerms.contractTerm``). Values take the variable's GraphQL type:
enums in upper case, query strings as integers and booleans, objects with camelCase keys;
free-form JSON passes as it is. A route whose inputs do not all bind fails at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    type_from_ast,
)
from sales_graph.rest.answers import operation_of
from sales_graph.rest.schemas import BOOL, UUID
from sales_graph.rest.shapes import JSONObject, RestInput, camel

_BOOLEANS = {"true": True, "false": False}


def _nullable_type(type_: GraphQLInputType) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _from_json(value: Any, type_: GraphQLInputType) -> Any:
    """A JSON value of REST as GraphQL's ``type_`` takes it."""
    type_ = _nullable_type(type_)
    if value is None:
        return None
    if isinstance(type_, GraphQLList) and isinstance(value, list):
        return [_from_json(item, type_.of_type) for item in value]
    if isinstance(type_, GraphQLEnumType) and isinstance(value, str):
        return value.upper()
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        fields = type_.fields
        return {
            camel(k): _from_json(v, fields[camel(k)].type) if camel(k) in fields else v
            for k, v in value.items()
        }
    return value


def _from_text(raw: str, type_: GraphQLInputType) -> Any:
    """A query string value (already checked against its schema) as GraphQL's ``type_``."""
    type_ = _nullable_type(type_)
    if isinstance(type_, GraphQLScalarType) and type_.name == "Int":
        return int(raw)
    if isinstance(type_, GraphQLScalarType) and type_.name == "Boolean":
        return _BOOLEANS.get(raw, raw)
    return _from_json(raw, type_)


def parameter_schema(type_: GraphQLInputType) -> JSONObject:
    """The schema of a query parameter bound to a variable of ``type_``."""
    type_ = _nullable_type(type_)
    if isinstance(type_, GraphQLEnumType):
        return {"type": "string", "enum": [name.lower() for name in type_.values]}
    names: dict[str, JSONObject] = {"ID": UUID, "Boolean": BOOL}
    if isinstance(type_, GraphQLScalarType) and type_.name in names:
        return dict(names[type_.name])
    raise ValueError(f"a query parameter of type {type_} needs a declared schema")


class Variables:
    """How one operation's variables are read from a REST request."""

    def __init__(
        self,
        schema: GraphQLSchema,
        node: DocumentNode,
        *,
        path: str,
        query: Iterable[str] = (),
        body: Iterable[str] = (),
        strict: bool = True,
    ) -> None:
        definitions = operation_of(node).variable_definitions or ()
        self.types: dict[str, GraphQLInputType] = {
            d.variable.name.value: type_from_ast(schema, d.type)  # type: ignore[misc]
            for d in definitions
        }
        self._path = self._names(re.findall(r"{(\w+)}", path), strict)
        self._query = self._names(query, strict)
        self._body: dict[str, tuple[str, str | None]] = {}
        for name in body:
            self._body[name] = self._body_target(name)
        # An input object the body fills is sent even when the body leaves it empty.
        self._required_inputs = sorted(
            {
                variable
                for variable, field in self._body.values()
                if field is not None and isinstance(self.types[variable], GraphQLNonNull)
            }
        )

    def _names(self, names: Iterable[str], strict: bool) -> dict[str, str]:
        bound = {name: camel(name) for name in names if camel(name) in self.types}
        unbound = [name for name in names if name not in bound]
        if strict and unbound:
            raise ValueError(f"no variable takes {unbound}")
        return bound

    def _body_target(self, name: str) -> tuple[str, str | None]:
        key = camel(name)
        if key in self.types:
            return key, None
        holders = [
            variable
            for variable, type_ in self.types.items()
            if isinstance(_nullable_type(type_), GraphQLInputObjectType)
            and key in _nullable_type(type_).fields
        ]
        if len(holders) != 1:
            raise ValueError(f"body field {name!r} binds to {holders or 'no variable'}")
        return holders[0], key

    def of(self, inputs: RestInput) -> JSONObject:
        """The variables of a request that the document has checked."""
        found: JSONObject = {variable: {} for variable in self._required_inputs}
        for name, variable in self._path.items():
            found[variable] = _from_text(inputs.path[name], self.types[variable])
        for name, variable in self._query.items():
            if (raw := inputs.query.get(name)) is not None:
                found[variable] = _from_text(raw, self.types[variable])
        for name, value in inputs.body.items():
            if name not in self._body:
                continue  # a follow-up's: it takes the path and query only
            variable, field = self._body[name]
            if field is None:
                found[variable] = _from_json(value, self.types[variable])
            else:
                holder = _nullable_type(self.types[variable])
                found.setdefault(variable, {})[field] = _from_json(value, holder.fields[field].type)
        return found
