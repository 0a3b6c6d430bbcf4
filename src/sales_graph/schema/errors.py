"""GraphQL errors carry the spec's ``code`` and the ``request_id`` in ``extensions``.

Expected failures (:class:`SalesGraphError`) keep their message and details; anything else is
logged with the request id and masked as INTERNAL_ERROR.
"""

from __future__ import annotations

import re
from typing import Any

from graphql.error import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from sales_graph.correlation import current_request_id
from sales_graph.db.unavailable import is_unavailable
from sales_graph.errors import SalesGraphError
from sales_graph.logs import get_logger
from sales_graph.schema.scalars import UnreadableValue

_log = get_logger("sales_graph.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$")
_VARIABLE_PATH = re.compile(
    r"got invalid value .*? at '([\w.\[\]]+)'|Variable '\$(\w+)' has invalid value"
)
# graphql-core 3.3: "Variable '$input' has invalid value at .products[0].quantity: <reason>".
_VARIABLE_AT = re.compile(
    r"Variable '\$(\w+)' has invalid value((?: at (?:\.\w+|\[\d+\])+)?): (.*)", re.S
)
_PATH_PART = re.compile(r"\.(\w+)|\[(\d+)\]")


_ARGUMENT_BEFORE = re.compile(r"(\w+)\s*:\s*$")


def _variable_field(message: str) -> tuple[str, str] | None:
    """The input field a variable error is about (``input.`` left out), and the reason."""
    match = _VARIABLE_AT.match(message)
    if match is None:
        return None
    parts = [match.group(1), *(a or b for a, b in _PATH_PART.findall(match.group(2)))]
    return ".".join(parts).removeprefix("input."), match.group(3)


def _bad_field(error: GraphQLError, message: str) -> str | None:
    """The input field a document or variable error is about, when it can be told."""
    if match := _VARIABLE_PATH.search(message):
        return (match.group(1) or match.group(2)).split(".", 1)[-1]
    if error.source is not None and error.positions and "Variable" not in message:
        text = error.source.body[: next(iter(error.positions))]
        if match := _ARGUMENT_BEFORE.search(text):
            return match.group(1)
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _graphql_details(details: dict[str, Any]) -> dict[str, Any]:
    """Field names in GraphQL's spelling: ``employee_count`` -> ``employeeCount``."""
    fields = details.get("fields")
    if not isinstance(fields, dict):
        return details
    renamed = {".".join(_camel(p) for p in str(k).split(".")): v for k, v in fields.items()}
    return {**details, "fields": renamed}


def _with_extensions(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**extensions, "request_id": current_request_id()},
    )


def _in_response_order(data: Any) -> Any:
    """The sort key of an error: where its path is in the response (fields in the order the
    document asks for them, list items by index), then where its field is in the document (when
    ``data`` is null, say), then the path itself. Errors come in the order of the response, not
    in the order the fields happened to fail."""

    def key(
        error: GraphQLError,
    ) -> tuple[list[int], list[tuple[int, int]], list[str], str]:
        positions: list[int] = []
        node = data
        for part in error.path or ():
            if isinstance(node, dict) and part in node:
                positions.append(list(node).index(part))
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                positions.append(part)
            else:
                break  # under a field that is null
            node = node[part]
        locations = [(at.line, at.column) for at in error.locations or ()]
        return positions, locations, [str(part) for part in error.path or ()], error.message

    return key


DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly"
_REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError)


class ErrorCodes(MaskErrors):
    def __init__(self) -> None:
        super().__init__(error_message="Internal server error")

    def _process_result(self, result: object) -> None:
        if not getattr(result, "errors", None):
            # Nothing to mask: skips MaskErrors' isinstance of a runtime-checkable Protocol,
            # which is slow, and runs for every result (every subscription event's too).
            return
        super()._process_result(result)
        errors = getattr(result, "errors", None)
        if errors and len(errors) > 1:
            result.errors = sorted(errors, key=_in_response_order(getattr(result, "data", None)))  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [coded(error, self.error_message) for error in errors]


def has_code(error: GraphQLError) -> bool:
    return bool((error.extensions or {}).get("code"))


def coded(error: GraphQLError, masked_message: str = "Internal server error") -> GraphQLError:
    """``error`` with its ``code`` (and ``details``) in ``extensions``; what is not the caller's
    doing and not a known failure is logged and masked as INTERNAL_ERROR."""
    original = error.original_error
    if isinstance(original, UnreadableValue):
        _log.warning("graphql.unreadable_value", path=error.path)
    if isinstance(original, SalesGraphError):
        extensions: dict[str, object] = {"code": original.code}
        if original.details:
            extensions["details"] = _graphql_details(original.details)
        return _with_extensions(error, original.message, extensions)
    # A scalar's parser that raised while the document was validated: the caller's value; or
    # a request Strawberry could not run (no such operation, no query), over a transport that
    # answers it as a GraphQL error (SSE, WebSocket) rather than an HTTP 400.
    before_execution = error.path is None and isinstance(
        original, (ValueError, TypeError, *_REQUEST_ERRORS)
    )
    if original is None or isinstance(original, GraphQLError) or before_execution:
        # Errors of the document or its variables; no schema hints leak out.
        message = _SUGGESTION.sub("", error.message)
        extensions = {"code": "VALIDATION_ERROR"}
        if found := _variable_field(message):
            extensions["details"] = {"fields": dict([found])}
        elif field := _bad_field(error, message):
            extensions["details"] = {"fields": {field: message.split("; ", 1)[-1]}}
        return _with_extensions(error, message, extensions)
    if is_unavailable(original):
        _log.warning("graphql.database_unavailable", path=error.path, error=repr(original))
        return _with_extensions(
            error,
            DATABASE_UNAVAILABLE,
            {"code": "SERVICE_UNAVAILABLE", "details": {"retry_after_s": 1}},
        )
    _log.error(
        "graphql.unexpected_error",
        path=error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with_extensions(error, masked_message, {"code": "INTERNAL_ERROR"})
