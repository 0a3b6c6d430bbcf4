"""What an entry of the route table says (DESIGN.md section 7); ``routes/`` holds the entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sales_graph.rest.shapes import JSONObject, RestInput


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: JSONObject
    description: str = ""
    required: bool = False
    example: Any = None


@dataclass(frozen=True)
class FollowUp:
    """A query run after the operation, in the same unit of work (e.g. the converted lead)."""

    document: str
    variables: Callable[[JSONObject], JSONObject]


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
class RestRoute:
    method: str
    path: str
    operation_id: str
    summary: str
    document: str
    variables: Callable[[RestInput], JSONObject]
    shape: Callable[[JSONObject], Any]
    response: JSONObject
    status: int = 200
    body: JSONObject | None = None
    # The spec's request example, sent by schemathesis' examples phase.
    example: JSONObject | None = None
    query: tuple[QueryParam, ...] = ()
    follow_up: FollowUp | None = None
    links: tuple[Link, ...] = ()
    tags: tuple[str, ...] = field(default=())
    # The version of the answered object, sent as ``ETag``.
    etag: Callable[[JSONObject], int] | None = None
    # The variable an ``If-Match`` version goes to; a stale one is 412 PRECONDITION_FAILED.
    if_match: str | None = None
