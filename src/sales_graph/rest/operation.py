"""A route-table entry compiled against the GraphQL schema: all that is read from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLNonNull, GraphQLSchema
from sales_graph.rest.answers import Answer, parsed
from sales_graph.rest.bodies import body_schema
from sales_graph.rest.shapes import JSONObject, camel, snake
from sales_graph.rest.table import Body, RestRoute
from sales_graph.rest.variables import Variables, parameter_schema


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    schema: JSONObject
    required: bool
    example: Any = None


def _body(body: Body, route: RestRoute) -> JSONObject:
    omit = (*body.omit, *([snake(route.if_match)] if route.if_match else []))
    omit = tuple(name for name in omit if name in body.model.model_fields)
    schema = body_schema(body.model, omit=omit, renames=body.renames, nulls=body.nullable)
    return {**schema, "allOf": list(body.rules)} if body.rules else schema


@dataclass(frozen=True)
class Operation:
    route: RestRoute
    answer: Answer
    variables: Variables
    follow_up: Variables | None
    body: JSONObject | None
    query: tuple[Parameter, ...]

    # The route's document with the fragments of its shapes: what runs.
    document: str

    @classmethod
    def of(cls, route: RestRoute, schema: GraphQLSchema) -> Operation:
        document = "\n".join([route.document, *(s.fragment(schema) for s in route.shapes)])
        node = parsed(schema, document)
        follow_up = parsed(schema, route.follow_up) if route.follow_up else None
        body = _body(route.body, route) if route.body else None
        variables = Variables(
            schema,
            node,
            path=route.path,
            query=[p.name for p in route.query],
            body=(body or {}).get("properties", ()),
        )
        query = tuple(
            Parameter(
                p.name,
                p.description,
                p.schema or parameter_schema(variables.types[camel(p.name)]),
                isinstance(variables.types[camel(p.name)], GraphQLNonNull),
                p.example,
            )
            for p in route.query
        )
        return cls(
            route=route,
            answer=Answer(schema, [node, *([follow_up] if follow_up else [])], route.filled),
            variables=variables,
            follow_up=(
                Variables(schema, follow_up, path=route.path, strict=False) if follow_up else None
            ),
            body=body,
            query=query,
            document=document,
        )


def compile_routes(routes: Iterable[RestRoute], schema: GraphQLSchema) -> tuple[Operation, ...]:
    return tuple(Operation.of(route, schema) for route in routes)
