"""GraphQL errors are listed in the order of the response: by where their path is in ``data``,
then, where ``data`` does not hold the path (null, or no data at all), by where their field is
in the document."""

from __future__ import annotations

from graphql import GraphQLError, Source
from sales_graph.schema.errors import _in_response_order

DOCUMENT = Source("{\n  leads { items { assignedTo { id } } }\n  a: lead(id: 1) { id }\n}")


def _error(path: list[str | int], line: int, column: int) -> GraphQLError:
    # The error of a field at (line, column) of the document, as graphql-core locates it.
    offset = sum(len(text) + 1 for text in DOCUMENT.body.split("\n")[: line - 1]) + column - 1
    return GraphQLError("failed", source=DOCUMENT, positions=[offset], path=path)


def test_errors_follow_the_fields_in_data() -> None:
    data = {"leads": {"items": [{"assignedTo": None}, {"assignedTo": None}]}, "a": None}
    later = _error(["a"], 3, 3)
    second = _error(["leads", "items", 1, "assignedTo"], 2, 19)
    first = _error(["leads", "items", 0, "assignedTo"], 2, 19)
    ordered = sorted([later, second, first], key=_in_response_order(data))
    assert [e.path for e in ordered] == [first.path, second.path, later.path]


def test_without_data_errors_follow_the_document() -> None:
    # A non-null root field failed: data is null, so the document's order decides.
    root = _error(["a"], 3, 3)
    sibling = _error(["leads", "items", 0, "assignedTo"], 2, 19)
    ordered = sorted([root, sibling], key=_in_response_order(None))
    assert [e.path for e in ordered] == [sibling.path, root.path]
