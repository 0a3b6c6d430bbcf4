"""Plain fields read without the resolver machinery: the executor's plan per selection.

graphql-core executes every field the same way: a resolve info, a path, the resolver through
Strawberry's wrapper, an awaitable check, then completion of the value. For a field that only
reads an attribute of its parent (a Strawberry field without a resolver, permission class or
field extension, with no arguments) and returns a scalar or an enum, all of that produces what
``coerce_output_value(getattr(source, name))`` does. Most fields of a page are such fields
(a lead's name, status, email, timestamps ...): 600 of a REST page of 50 leads.

So the executor plans each selection set once per operation (graphql-core collects a
selection's fields once per operation and keeps them, so a list of 50 items has one plan) and
completes its plain fields inline. Anything else, and any plain field whose value would not
complete as-is (null for a non-null field, a value the scalar refuses, an exception), goes
through graphql-core's own ``execute_field``, which gives the same value or the same error
as without the plan. With ``verify=True`` (the test suite), every inline value is also
computed the generic way and the two must be equal.

Before it completes a list of objects, it loads the to-one relations the items' selection asks
for, for the whole list in one batch (``schema/relations.py``): each item's relation then
resolves at once, without a coroutine and a task per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, gather_with_cancel

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from sales_graph.schema.context import Context
from sales_graph.schema.limits import SuggestionFreeExecutor
from sales_graph.schema.relations import RELATION, ToOne


@dataclass(frozen=True, slots=True)
class PlainField:
    """A field completed inline: it reads the attribute ``name`` of its parent."""

    name: str
    leaf: GraphQLLeafType
    non_null: bool


@dataclass(frozen=True, slots=True)
class RelationField:
    """A to-one relation (``schema/relations.py``) resolved without Strawberry's resolver
    wrapper: it needs the request's loaders only, not a resolve info."""

    relation: ToOne[Any, Any, Any]
    field_def: GraphQLField


# A selection's plan: for each response name, how it runs (None: generically).
Plan = dict[str, PlainField | RelationField | None]


def _planned(
    parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
) -> PlainField | RelationField | None:
    relation = _relation(parent_type, field_details_list)
    if relation is None or len(field_details_list) != 1 or field_details_list[0].node.arguments:
        return _plain(parent_type, field_details_list)
    field_def = parent_type.fields[field_details_list[0].node.name.value]
    return None if field_def.args else RelationField(relation, field_def)


def _plain(
    parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
) -> PlainField | None:
    if len(field_details_list) != 1:
        return None
    node = field_details_list[0].node
    if node.arguments:
        return None
    field_def = parent_type.fields.get(node.name.value)
    # Strawberry marks the resolver of a field that only reads its attribute ("basic field"):
    # it calls the field's default resolver (getattr, unless configured otherwise).
    if field_def is None or field_def.args or not getattr(field_def.resolve, "_is_default", False):
        return None
    definition = field_def.extensions.get("strawberry-definition")
    if getattr(definition, "default_resolver", None) is not getattr:
        return None
    return_type: GraphQLOutputType = field_def.type
    non_null = is_non_null_type(return_type)
    leaf = return_type.of_type if non_null else return_type  # type: ignore[union-attr]
    if not is_leaf_type(leaf):
        return None
    return PlainField(definition.python_name, leaf, non_null)


def _relation(parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Any:
    """The to-one relation a field resolves (``schema/relations.py``), if it is one."""
    field_def = parent_type.fields.get(field_details_list[0].node.name.value)
    definition = field_def.extensions.get("strawberry-definition") if field_def else None
    relation = getattr(definition, "metadata", {}).get(RELATION)
    return relation if isinstance(relation, ToOne) else None


# What ``_complete`` returns for a value it leaves to graphql-core.
_GENERIC: Any = object()


def _complete(plain: PlainField, source: Any) -> Any:
    """The field's completed value, or ``_GENERIC`` when graphql-core should complete it
    (it reports the error, or completes it its own way)."""
    try:
        value = getattr(source, plain.name)
        if value is None or value is Undefined:
            return _GENERIC if plain.non_null else None
        if isinstance(value, Exception) or hasattr(value, "__await__"):
            return _GENERIC
        coerced = plain.leaf.coerce_output_value(value)
    except Exception:
        return _GENERIC
    return _GENERIC if coerced is None or coerced is Undefined else coerced


class PlannedExecutor(SuggestionFreeExecutor):
    """graphql-core's executor with the plain fields of each selection completed inline."""

    verify = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by the grouped field set's identity; the set is kept alive with its plan.
        self._plans: dict[int, tuple[GroupedFieldSet, Plan]] = {}
        manager = self.middleware_manager
        self._inline = not (manager is not None and manager.middlewares)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan = {name: _planned(parent_type, details) for name, details in grouped_field_set.items()}
        if not isinstance(self.context_value, Context):  # relations read the request's loaders
            plan = {
                name: None if isinstance(how, RelationField) else how for name, how in plan.items()
            }
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._inline:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plan = self._plan(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                how = plan[response_name]
                if isinstance(how, PlainField):
                    value = _complete(how, source_value)
                    if value is not _GENERIC:
                        if self.verify:
                            field_path = Path(path, response_name, parent_type.name)
                            self._check(
                                value,
                                parent_type,
                                source_value,
                                field_details_list,
                                field_path,
                                position_context,
                            )
                        results[response_name] = value
                        continue
                field_path = Path(path, response_name, parent_type.name)
                if isinstance(how, RelationField):
                    result = self._execute_relation(
                        how,
                        parent_type,
                        source_value,
                        field_details_list,
                        field_path,
                        position_context,
                    )
                else:
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)

    def _execute_relation(
        self,
        field: RelationField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's ``execute_field`` with the relation's own resolution in place of the
        resolver call: the same completion and the same error handling."""
        return_type = field.field_def.type
        info = self.build_resolve_info(
            field.field_def, to_nodes(field_details_list), parent_type, path
        )
        try:
            result = field.relation.resolve_in(self.context_value, source)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return self._awaited_field(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def _awaited_field(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        args = (return_type, field_details_list, info, path, result, position_context)
        ahead = self._load_ahead(return_type, field_details_list, result)
        if not ahead:
            return super().complete_list_value(*args)
        return self._completed_after(ahead, super().complete_list_value, args)

    def _load_ahead(
        self, return_type: GraphQLList[Any], field_details_list: FieldDetailsList, items: Any
    ) -> list[Awaitable[Any]]:
        """The loads of the to-one relations the items' selection asks for, for all items."""
        item_type = return_type.of_type
        if is_non_null_type(item_type):
            item_type = item_type.of_type
        context = self.context_value
        if not (
            self._inline
            and is_object_type(item_type)
            and isinstance(items, list)
            and len(items) > 1
            and isinstance(context, Context)
        ):
            return []
        grouped_field_set = self.collect_subfields(item_type, field_details_list)[0]
        loads = []
        for field_details in grouped_field_set.values():
            relation = _relation(item_type, field_details)
            load = relation.load_ahead(context, items) if relation is not None else None
            if load is not None:
                loads.append(load)
        return loads

    async def _completed_after(
        self, loads: list[Awaitable[Any]], complete: Callable[..., Any], args: tuple[Any, ...]
    ) -> Any:
        # Waited for, not awaited: cancelling this list must not cancel loads the items share.
        # A failed load is the items' to report: each field awaits the loader's failure.
        waited = [asyncio.ensure_future(load) for load in loads]
        for load in waited:
            # Its failure is the items' fields' to report (or nobody's, when the list is
            # cancelled before its items run): never "exception was never retrieved".
            load.add_done_callback(_retrieved)
        await asyncio.wait(waited)
        completed = complete(*args)
        return await completed if self.is_awaitable(completed) else completed

    def _check(
        self,
        value: Any,
        parent_type: GraphQLObjectType,
        source_value: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> None:
        generic = self.execute_field(
            parent_type, source_value, field_details_list, path, position_context
        )
        if self.is_awaitable(generic) or generic != value or type(generic) is not type(value):
            raise AssertionError(
                f"planned execution of {parent_type.name}.{path.key} gave {value!r}, "
                f"generic execution {generic!r}"
            )


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """The rest of graphql-core's ``execute_fields``: the awaitable fields, side by side."""
    if len(awaitable_fields) == 1:
        name = awaitable_fields[0]
        results[name] = await results[name]
        return results
    awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
    results.update(zip(awaitable_fields, awaited, strict=True))
    return results


class VerifiedExecutor(PlannedExecutor):
    """The planned executor that also checks each inline value against generic execution."""

    verify = True


EXECUTORS: dict[str, type[SuggestionFreeExecutor]] = {
    "planned": PlannedExecutor,
    "generic": SuggestionFreeExecutor,
    "verified": VerifiedExecutor,
}
