"""An anonymous operation that asks for anything protected is refused before it runs.

Spec and issue 5: "no credentials" is 401 UNAUTHORIZED. The public root fields (``health`` and
introspection, where introspection is on) still answer without credentials; any other root field,
and every mutation, makes the whole operation a 401 with ``WWW-Authenticate``, its error coded
UNAUTHORIZED as usual (``errors[].extensions.code``). Credentials that are present but bad never
get here: the authentication middleware answers 401 first.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql.error import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from sales_graph.errors import Unauthorized

PUBLIC_ROOT_FIELDS = frozenset({"health", "__typename", "__schema", "__type"})
CHALLENGE = 'Bearer realm="sales-graph", ApiKey header="X-API-Key"'


def root_field_names(document: DocumentNode, operation_name: str | None) -> set[str] | None:
    """The names of the root fields the operation selects, through fragments; None when the
    document has no such operation (validation reports that)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    if operation.operation is not OperationType.QUERY:
        return {operation.operation.value}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    seen: set[str] = set()

    def collect(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    collect(fragments[name].selection_set)

    collect(operation.selection_set)
    return names


class AuthenticationRequired(SchemaExtension):
    """Listed after the query limits, whose validation step has run when this one's does: an
    invalid document gets its validation errors, a valid one is checked here."""

    def on_validate(self) -> Iterator[None]:
        self._check()
        yield

    def _check(self) -> None:
        context = self.execution_context
        document = context.graphql_document
        if context.pre_execution_errors or document is None:
            return
        request_context = context.context
        if getattr(request_context, "principal", None) is not None:
            return
        names = root_field_names(document, context.operation_name)
        if names is None or names <= PUBLIC_ROOT_FIELDS:
            return
        error = Unauthorized()
        context.pre_execution_errors = [GraphQLError(error.message, original_error=error)]
        response = getattr(request_context, "response", None)
        if response is not None:
            response.status_code = error.http_status
            response.headers["WWW-Authenticate"] = CHALLENGE
