"""GraphQL errors carry the spec's ``code`` and the ``request_id`` in ``extensions``.

Expected failures (:class:`SalesGraphError`) keep their message and details; anything else is
logged with the request id and masked as INTERNAL_ERROR.
"""

from __future__ import annotations

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from sales_graph.errors import SalesGraphError
from sales_graph.logs import get_logger
from sales_graph.web.context import current_request_id

_log = get_logger("sales_graph.graphql")


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


class ErrorCodes(MaskErrors):
    def __init__(self) -> None:
        super().__init__(error_message="Internal server error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._coded(error) for error in errors]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, SalesGraphError):
            extensions: dict[str, object] = {"code": original.code}
            if original.details:
                extensions["details"] = original.details
            return _with_extensions(error, original.message, extensions)
        if original is None:
            # Parse and validation errors of the document itself.
            return _with_extensions(error, error.message, {"code": "VALIDATION_ERROR"})
        _log.error(
            "graphql.unexpected_error",
            path=error.path,
            exc_info=(type(original), original, original.__traceback__),
        )
        return _with_extensions(error, self.error_message, {"code": "INTERNAL_ERROR"})
