"""A query reads one snapshot of the database.

Its statements (a page and its total, a record and its related records) then see the same
committed data: on PostgreSQL the request's transaction of a query runs at REPEATABLE READ,
taken when the query starts and nothing has run yet. A read-only transaction never fails to
serialize there. Mutations keep READ COMMITTED: their writes lock what they change, and a
REST follow-up query reads on in the mutation's transaction. SQLite serializes its
transactions (one connection) and needs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from sales_graph.schema.context import Context


class ReadSnapshot(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if execution.operation_type is OperationType.QUERY and isinstance(context, Context):
            await context.read_one_snapshot()
        yield
