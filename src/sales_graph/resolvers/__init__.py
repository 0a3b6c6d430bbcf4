"""The root operations (Query, Mutation, Subscription) over the types of
``sales_graph.schema``, assembled into the Strawberry schema: the central contract, exported to
``schema/schema.graphql``.

Resolvers are thin: arguments -> service -> type. The types, their field resolvers and the
dataloaders live in ``sales_graph.schema``, which never imports this package.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext, ExecutionResult

from sales_graph.resolvers.mutation import Mutation
from sales_graph.resolvers.query import Query
from sales_graph.resolvers.subscription import Subscription
from sales_graph.schema.authentication import AuthenticationRequired
from sales_graph.schema.errors import ErrorCodes, coded, has_code
from sales_graph.schema.execution import EXECUTORS
from sales_graph.schema.limits import query_limit_extensions
from sales_graph.schema.live import SubscriptionsOverStreams
from sales_graph.schema.scalars import SCALAR_OVERRIDES
from sales_graph.schema.snapshot import ReadSnapshot
from sales_graph.schema.tracing import graphql_tracing
from sales_graph.settings import GraphQLSettings


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes has logged what deserves a log line; the rest is the caller's mistake.
        return None

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        if result.errors and not all(has_code(error) for error in result.errors):
            # An extension's hook that raised (the snapshot of a query with the database away,
            # say) ends the operation before ErrorCodes sees its result: its errors are coded here.
            result.errors = [e if has_code(e) else coded(e) for e in result.errors]
        return result


def build_schema(
    limits: GraphQLSettings | None = None,
    *,
    introspection: bool = True,
    resolver_spans: bool = False,
    **options: Any,
) -> strawberry.Schema:
    """The schema with the query limits of ``limits`` (the defaults when not given); with
    tracing on (``telemetry/tracing.py``), a span per operation (and per resolver call)."""
    limits = limits or GraphQLSettings()
    options.setdefault("execution_context_class", EXECUTORS[limits.execution])
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *graphql_tracing(resolvers=resolver_spans),
            ErrorCodes,
            *query_limit_extensions(limits, introspection=introspection),
            AuthenticationRequired,
            SubscriptionsOverStreams,
            ReadSnapshot,
        ],
        scalar_overrides=SCALAR_OVERRIDES,
        **options,
    )


schema = build_schema()

__all__ = ["build_schema", "schema"]
