"""Spans of GraphQL operations (tracing on, ``telemetry/tracing.py``).

One span per operation, ``query LeadPage`` / ``mutation ConvertLead`` (the type alone for an
anonymous one), with ``graphql.operation.type`` and ``graphql.operation.name``; the statements
and upstream calls of its resolvers are its children. With ``SALES_GRAPH_TRACING__RESOLVERS``,
also a span per resolver call (``Lead.account``); the fields the planned executor completes
inline (``schema/execution.py``) and the default resolvers have none.

Strawberry's ``OpenTelemetryExtension`` is not used: its operation span is not made current
(the SQL spans would not be its children), it names a mutation "GraphQL Query", records the
whole document, and it spans every resolver call of every operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from inspect import isawaitable
from typing import Any

from opentelemetry.trace import Status, StatusCode
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing.utils import should_skip_tracing

from graphql import GraphQLError, GraphQLResolveInfo
from sales_graph.telemetry import tracing


def graphql_tracing(*, resolvers: bool) -> list[type[SchemaExtension]]:
    """The extensions to add to the schema: none when tracing is off."""
    if not tracing.enabled():
        return []
    return [ResolverSpans if resolvers else OperationSpans]


class OperationSpans(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        with tracing.span("graphql") as span:
            yield
            if span is None:
                return
            kind, name = self._operation()
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
            result = self.execution_context.result
            errors: list[GraphQLError] = (result.errors if result else None) or []
            if errors:
                span.set_attribute("graphql.errors.count", len(errors))
                span.set_status(Status(StatusCode.ERROR, "the result has errors"))

    def _operation(self) -> tuple[str, str | None]:
        context = self.execution_context
        if context.graphql_document is None:
            return "graphql", None  # the document did not parse
        try:
            kind = context.operation_type.value
        except Exception:  # no such operation in the document: an error result
            return "graphql", None
        return kind, context.operation_name


class ResolverSpans(OperationSpans):
    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if should_skip_tracing(_next, info):
            return _next(root, info, *args, **kwargs)
        return self._traced(_next, root, info, *args, **kwargs)

    async def _traced(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        attributes = {
            "graphql.field.name": info.field_name,
            "graphql.field.parent_type": info.parent_type.name,
            "graphql.field.path": ".".join(str(key) for key in info.path.as_list()),
        }
        with tracing.span(f"{info.parent_type.name}.{info.field_name}", attributes=attributes):
            result = _next(root, info, *args, **kwargs)
            if isawaitable(result):
                awaited: Awaitable[Any] = result
                result = await awaited
            return result
