"""What an entry of the route table says (DESIGN.md section 7); ``routes/`` holds the entries.

An entry names its path, its GraphQL operation and what REST adds: the success status, the
service's input model for a body, the query parameters, the spec's request example, the links.
Everything else (the answer, the schemas, the variables) is read from the operation and the
model when the routes are compiled against the GraphQL schema (``rest/operation.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from graphql import (
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
    is_required_argument,
)
from sales_graph.rest.schemas import CURSOR, LIMIT, OFFSET
from sales_graph.rest.shapes import JSONObject


@dataclass(frozen=True)
class QueryParam:
    """A query parameter: the variable of its name in camelCase, whose GraphQL type gives its
    schema (an enum's values, a boolean, a UUID for an id) and whether it is required, unless
    ``schema`` says more (a period, a page size)."""

    name: str
    description: str
    schema: JSONObject | None = None
    example: Any = None


@dataclass(frozen=True)
class Body:
    """A JSON body: the fields of the service's input ``model``, but ``omit`` (and the
    ``If-Match`` variable's), named as ``renames`` says (model field -> REST field); ``rules``
    are JSON Schema about the whole body that no field's type says (the stage table's).
    ``nullable`` names the optional fields that also take null, meaning what leaving them out
    means (a rotation's ``overlap_seconds``: the default); the others may be left out but are
    not null."""

    model: type[BaseModel]
    omit: tuple[str, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[JSONObject, ...] = ()
    nullable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a value of the success response that another operation takes.

    ``parameters`` map ``path.id``-style names to runtime expressions such as
    ``$response.body#/id``; ``request_body`` fields are merged into the target's body.
    """

    name: str
    operation_id: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    request_body: JSONObject | None = None
    description: str = ""


@dataclass(frozen=True)
class Shape:
    """How REST shows a GraphQL object type: the fragment ``...<type_name>`` with every leaf
    field of the type (its values and ids, in the type's order) but ``omit``, plus ``related``,
    the selections REST spells its own way (a related record as its id:
    ``territoryId: territory { id }``). A field added to the type is in REST without a word here.
    """

    type_name: str
    related: str = ""
    omit: tuple[str, ...] = ()

    def fragment(self, schema: GraphQLSchema) -> str:
        type_ = schema.get_type(self.type_name)
        if not isinstance(type_, GraphQLObjectType):
            raise ValueError(f"Shape: {self.type_name!r} is no object type of the schema")
        if stale := set(self.omit) - set(type_.fields):
            raise ValueError(f"Shape {self.type_name}: omits unknown fields {sorted(stale)}")
        leaves = [
            name
            for name, field_ in type_.fields.items()
            if name not in self.omit
            and is_leaf_type(get_named_type(field_.type))
            and not any(is_required_argument(arg) for arg in field_.args.values())
        ]
        fields = " ".join([*leaves, self.related]).strip()
        return f"fragment {self.type_name} on {self.type_name} {{ {fields} }}"


@dataclass(frozen=True)
class RestRoute:
    method: str
    path: str
    operation_id: str
    summary: str
    # The GraphQL operation (with the fragments it spreads, but those of ``shapes``); its
    # variables take the path parameters, query parameters and body fields of their names
    # (``rest/variables.py``).
    document: str
    # The resources the document spreads as ``...<type>`` (their fragments are derived).
    shapes: tuple[Shape, ...] = ()
    # The success status; 204 answers no body (what the operation returns is not shown).
    status: int = 200
    body: Body | None = None
    # The spec's request example, sent by schemathesis' examples phase.
    example: JSONObject | None = None
    query: tuple[QueryParam, ...] = ()
    # A query run after the operation, in the same unit of work, with the same inputs; its
    # root fields are merged into the answer (the converted lead).
    follow_up: str | None = None
    links: tuple[Link, ...] = ()
    tags: tuple[str, ...] = ()
    # Fields of the answer that this operation always fills though their GraphQL type is
    # nullable (a submitted forecast has an id; a converted lead, its conversion time).
    filled: tuple[str, ...] = ()
    # The field of the answer's root object holding the version sent as ``ETag``.
    etag: str | None = None
    # The hidden field of a page holding its ``pageInfo { hasNextPage endCursor }``: when more
    # follow, a ``Link: <...?after=<cursor>>; rel="next"`` header reads on by keyset paging.
    next_page: str | None = None
    # The variable an ``If-Match`` version goes to; a stale one is 412 PRECONDITION_FAILED.
    if_match: str | None = None


# Offset paging, and keyset paging: ``after`` takes the cursor of a page's ``Link: rel="next"``
# and reads on from there in the same time at any depth (give it instead of ``offset``).
PAGE = (
    QueryParam("limit", "Page size (1 to 200)", LIMIT),
    QueryParam(
        "offset", "Rows to skip (the deeper, the slower: after reads deep pages fast)", OFFSET
    ),
    QueryParam(
        "after",
        "Keyset paging: the cursor of the Link rel=next header of the page before (not with"
        " offset); as fast at any depth",
        CURSOR,
    ),
)
