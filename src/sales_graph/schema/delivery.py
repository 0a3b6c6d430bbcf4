"""One subscription event on its way out, answered once per *audience* (docs/real-time.md).

Subscribers whose answer to an event is necessarily the same share it: the same principal (all
of it: subject, user, role, scopes, client, API key; what the access scope and the field
checks depend on) and the same operation (its document as parsed, the fragments it uses, its
variables as coerced). The first of them to reach the event reads it (a session, the scope,
the record) and executes the selection in a task of its own; the others wait for that task and
get the same :class:`ExecutionResult`. Anything else that differs (another principal, a
principal changed by a credentials check, another selection or variable) is another audience.

The executor (``schema/limits.py``) binds itself to the stream (:class:`EventSource`), so the
stream can execute an event's selection before it yields; the :class:`Delivery` it yields
then stands in for the per-event executor and answers that result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import ExecutionResult, FragmentDefinitionNode, OperationDefinitionNode, print_ast
from sales_graph.domain.principal import Principal


class EventExecutor(Protocol):
    def execute_event(
        self, value: object, context: object
    ) -> Awaitable[ExecutionResult] | ExecutionResult:
        """The operation's selection executed on ``value`` with ``context``."""


class EventSource:
    """A source stream the subscription's executor binds itself to."""

    executor: EventExecutor | None = None

    def bind_executor(self, executor: EventExecutor) -> None:
        self.executor = executor


@dataclass(frozen=True, slots=True)
class Audience:
    """The key of a shared answer (with the event it answers): equal only when the answers
    cannot differ."""

    principal: Principal
    operation: Hashable


@dataclass(eq=False, slots=True)
class Delivery:
    """An event's answer for one subscriber: the result of its audience's execution."""

    result: ExecutionResult

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        """As a per-event executor (``schema/limits.py``): a result of its own (the errors
        list may be changed on the way out); the data is shared, and only read from here on."""
        result = self.result
        errors = list(result.errors) if result.errors else None
        return ExecutionResult(result.data, errors, result.extensions)


def operation_key(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> Hashable:
    """What of a subscription's request its answers depend on: the operation and its
    fragments as printed from the parsed document (spacing and comments aside, the same text)
    and the coerced variables, each value with its type."""
    return (
        print_ast(operation),
        tuple(sorted((name, print_ast(fragment)) for name, fragment in fragments.items())),
        _frozen(variables),
    )


def _frozen(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_frozen(v) for v in value))
    try:
        hash(value)
    except TypeError:
        # Never equal to another value: such a subscriber is an audience of its own.
        return ("object", id(value), object())
    # The type too: 1, 1.0 and True are equal in Python, not in GraphQL.
    return (type(value).__qualname__, value)
