"""GraphQL query limits: size, depth, aliases and cost, checked before anything executes.

* Tokens: Strawberry's ``MaxTokensLimiter`` (a parser option, so a huge document is refused
  before it becomes an AST).
* Introspection: Strawberry's ``DisableIntrospection`` where the schema must stay private.
* Depth, aliases and cost: measured here, in one walk per operation that visits each fragment
  once per context. Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk a
  fragment again at every spread: 20 fragments that each spread the next one twice take them
  seconds (2^20 walks), and the depth limiter raises ``KeyError`` on an unknown fragment.
* Suggestions: validation and variable coercion run with graphql-core's ``hide_suggestions``,
  so no "Did you mean" reveals the schema (``schema.errors`` also strips it from messages).

The cost of an operation is how many times its fields are resolved: a field costs 1 per time
its parent is resolved, and a list multiplies its selections by its size: the ``limit`` or
``first`` argument (clamped to ``max_page_size``; ``default_page_size`` when absent or a
variable without a value), and ``default_page_size`` for lists without one. A field with a size
argument that returns a page object (``LeadConnection``) passes its size to the page's list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql.utilities import get_operation_ast
from strawberry.extensions import (
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
    validate,
    visit,
)
from sales_graph.errors import ValidationError
from sales_graph.jsonlimits import has_nul
from sales_graph.schema.delivery import Delivery, EventSource
from sales_graph.schema.doccache import DocumentCache, cacheable
from sales_graph.settings import GraphQLSettings

_SIZE_ARGUMENTS = ("limit", "first")
# Fragments spread in fragments multiply; saturate long before numbers get silly (or overflow
# a 64-bit JSON integer in the error details).
_CAP = 10**15
# The rules Strawberry adds to graphql-core's in its own validation step, which ours replaces.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


class _Measurer:
    """Measures the operations of one document; each fragment once per (page, depth budget)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        limits: GraphQLSettings,
        variables: Mapping[str, Any],
    ) -> None:
        self._schema = schema
        self._fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self._limits = limits
        self._variables = variables
        self._defaults: dict[str, ValueNode] = {}
        self._memo: dict[tuple[str, int | None, int], Measure] = {}
        self._active: set[str] = set()

    def operation(self, node: OperationDefinitionNode) -> Measure:
        self._memo.clear()  # variable defaults belong to the operation
        self._defaults = {
            definition.variable.name.value: definition.default_value
            for definition in node.variable_definitions or ()
            if definition.default_value is not None
        }
        root = self._schema.get_root_type(node.operation)
        return self._selections(node.selection_set, root, None, self._limits.max_depth)

    def _selections(
        self,
        node: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        page: int | None,
        budget: int,
    ) -> Measure:
        depth = aliases = cost = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                measure = self._field(selection, parent, page, budget)
            elif isinstance(selection, InlineFragmentNode):
                scope = self._type(selection.type_condition, parent)
                measure = self._selections(selection.selection_set, scope, page, budget)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                measure = self._spread(selection.name.value, page, budget)
            depth = max(depth, measure.depth)
            aliases = min(aliases + measure.aliases, _CAP)
            cost = min(cost + measure.cost, _CAP)
        return Measure(depth, aliases, cost)

    def _spread(self, name: str, page: int | None, budget: int) -> Measure:
        key = (name, page, budget)
        if (known := self._memo.get(key)) is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._active:
            # Unknown fragments and cycles are graphql-core's to report; here they end the walk.
            return Measure()
        self._active.add(name)
        try:
            scope = self._type(fragment.type_condition, None)
            measure = self._selections(fragment.selection_set, scope, page, budget)
        finally:
            self._active.discard(name)
        self._memo[key] = measure
        return measure

    def _field(
        self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None, budget: int
    ) -> Measure:
        alias = 1 if node.alias else 0
        # Introspection (__schema, __type) is refused in production and not priced here;
        # budget 0 means the field is one level too deep, which is all the walk must learn.
        if node.selection_set is None or node.name.value.startswith("__") or budget == 0:
            return Measure(1, alias, 1)
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition = fields.get(node.name.value)
        factor, child_page = self._fan_out(node, definition, page)
        child_type = get_named_type(definition.type) if definition else None
        child = self._selections(node.selection_set, child_type, child_page, budget - 1)
        return Measure(
            1 + child.depth, min(alias + child.aliases, _CAP), min(1 + factor * child.cost, _CAP)
        )

    def _fan_out(
        self, node: FieldNode, definition: Any, page: int | None
    ) -> tuple[int, int | None]:
        """How often the field's selections run, and the size it hands to its page's list."""
        if definition is None:
            return 1, None
        returns_list = is_list_type(get_nullable_type(definition.type))
        if any(name in definition.args for name in _SIZE_ARGUMENTS):
            size = self._page_size(node)
            return (size, None) if returns_list else (1, size)
        if returns_list:
            return (self._limits.default_page_size if page is None else page), None
        return 1, None

    def _page_size(self, node: FieldNode) -> int:
        sizes = [
            self._int(argument.value)
            for argument in node.arguments or ()
            if argument.name.value in _SIZE_ARGUMENTS
        ]
        given = [size for size in sizes if size is not None]
        size = max(given) if given else self._limits.default_page_size
        return max(0, min(size, self._limits.max_page_size))

    def _int(self, value: ValueNode | None) -> int | None:
        """An argument's integer; ``None`` for null; the maximum when it is not an integer."""
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self._variables:
                given = self._variables[name]
                if given is None or (isinstance(given, int) and not isinstance(given, bool)):
                    return given
                return self._limits.max_page_size
            return self._int(self._defaults.get(name))
        if isinstance(value, IntValueNode):
            try:
                return int(value.value)
            except ValueError:  # more digits than Python converts: coercion refuses it anyway
                return self._limits.max_page_size
        if value is None or value.kind == "null_value":
            return None
        return self._limits.max_page_size

    def _type(
        self, condition: NamedTypeNode | None, parent: GraphQLNamedType | None
    ) -> GraphQLNamedType | None:
        if condition is None:
            return parent
        return self._schema.get_type(condition.name.value)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: GraphQLSettings,
    variables: Mapping[str, Any] | None = None,
) -> list[Measure]:
    """The measures of a document's operations, in order (for tests and tuning the limits)."""
    measurer = _Measurer(schema, document, limits, variables or {})
    return [
        measurer.operation(definition)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def _violation(measure: Measure, limits: GraphQLSettings) -> ValidationError | None:
    if measure.depth > limits.max_depth:
        return ValidationError(
            f"Operation is nested deeper than the maximum depth of {limits.max_depth}",
            details={"limit": "depth", "maximum": limits.max_depth},
        )
    if measure.aliases > limits.max_aliases:
        return ValidationError(
            f"Operation uses {measure.aliases} aliases; the maximum is {limits.max_aliases}",
            details={"limit": "aliases", "maximum": limits.max_aliases, "actual": measure.aliases},
        )
    if measure.cost > limits.max_cost:
        return ValidationError(
            f"Operation cost {measure.cost} exceeds the maximum of {limits.max_cost}",
            details={"limit": "cost", "maximum": limits.max_cost, "actual": measure.cost},
        )
    return None


def limits_rule(limits: GraphQLSettings, variables: Mapping[str, Any]) -> type[ValidationRule]:
    """A validation rule bound to this request's variables (page sizes may be variables)."""

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            context = self.context
            measurer = _Measurer(context.schema, context.document, limits, variables)
            measure = measurer.operation(node)
            if error := _violation(measure, limits):
                self.report_error(GraphQLError(error.message, node, original_error=error))

    return QueryLimitsRule


# A 32-bit Int has at most 10 digits and a sign; longer literals are refused unparsed.
_MAX_INT_LITERAL = 11


_NO_OPERATION = (
    "Send operationName naming one operation of the document (it has several, or none by that name)"
)
_NO_NUL = "text without NUL (U+0000) characters"


def _nul_fields(value: Any) -> list[str]:
    """The fields of an input object (or of a list of them) whose values hold a NUL."""
    if isinstance(value, dict):
        return [str(key) for key, item in value.items() if has_nul([key, item])]
    if isinstance(value, list):
        return [field for item in value for field in _nul_fields(item)]
    return []


def _nul_texts(document: DocumentNode, variables: Mapping[str, Any]) -> list[GraphQLError]:
    """Text holding U+0000, in a literal or a variable: PostgreSQL stores none, so it is refused
    here, for every argument, rather than failing in the database."""
    errors = [
        GraphQLError(
            f"Variable '${name}' holds a NUL character",
            original_error=ValidationError(
                "Invalid request data",
                # An input object names its fields, as the input models do; a value its variable.
                details={"fields": dict.fromkeys(_nul_fields(value) or [name], _NO_NUL)},
            ),
        )
        for name, value in variables.items()
        if has_nul(value)
    ]

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
            if "\x00" in node.value:
                errors.append(
                    GraphQLError(
                        "A string literal holds a NUL character",
                        node,
                        original_error=ValidationError(
                            "Invalid request data", details={"fields": {"literal": _NO_NUL}}
                        ),
                    )
                )

    visit(document, Finder())
    return errors


def _oversized_ints(document: DocumentNode) -> list[GraphQLError]:
    errors: list[GraphQLError] = []

    class Finder(Visitor):
        def enter_int_value(self, node: IntValueNode, *_args: Any) -> None:
            if len(node.value.lstrip("-")) > _MAX_INT_LITERAL:
                errors.append(
                    GraphQLError(
                        "Int cannot represent non 32-bit signed integer value: "
                        f"{node.value[:12]}... ({len(node.value)} digits)",
                        node,
                    )
                )

    visit(document, Finder())
    return errors


class CachedParser(SchemaExtension):
    """Parsed documents of authenticated callers (``schema/doccache.py``); a document that does
    not parse is left to Strawberry's own parse step, which reports the syntax error the usual
    way (with its code)."""

    def __init__(self, documents: DocumentCache[DocumentNode]) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query
        if text is not None and cacheable(text, context.context):
            key = (text, tuple(sorted(context.parse_options.items())))
            document = self.documents.get(key)
            if document is None:
                with contextlib.suppress(GraphQLError):
                    document = parse(text, **context.parse_options)
                    self.documents.put(key, text, document)
            if document is not None:
                context.graphql_document = document
        yield


class ValidDocuments:
    """The query texts that passed the schema's validation rules: they are not validated again.
    The limits, which depend on the variables, are measured on every request."""

    def __init__(self, cache: DocumentCache[bool] | None = None) -> None:
        self._texts = cache if cache is not None else DocumentCache[bool]()

    def __contains__(self, text: str) -> bool:
        return self._texts.get(text) is not None

    def add(self, text: str) -> None:
        self._texts.put(text, text, True)


class QueryLimits(SchemaExtension):
    """Runs the validation step itself: every rule, ours too, with suggestions hidden.

    Strawberry skips its own validation when an extension has set the errors.
    """

    def __init__(self, limits: GraphQLSettings, valid: ValidDocuments | None = None) -> None:
        super().__init__()
        self.limits = limits
        self.valid = valid if valid is not None else ValidDocuments()

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            try:
                context.pre_execution_errors = self._errors(document)
            except Exception as exc:
                # Raised out of this hook it would bypass ErrorCodes and reach the caller as is;
                # as an operation error it is logged and masked as INTERNAL_ERROR.
                context.pre_execution_errors = [GraphQLError(str(exc), original_error=exc)]
        yield

    def _errors(self, document: DocumentNode) -> list[GraphQLError]:
        context = self.execution_context
        text = context.query
        if text is None or text not in self.valid:
            if oversized := _oversized_ints(document):
                # graphql-core's Int coercion would crash on these (Python's digit limit).
                return oversized
            rules = (*context.validation_rules, *_STRAWBERRY_RULES)
            errors = validate(context.schema._schema, document, rules, hide_suggestions=True)
            if errors:
                return errors
            if text is not None and cacheable(text, context.context):
                self.valid.add(text)
        # Strawberry names the first operation when none was sent: ask for what was sent.
        if get_operation_ast(document, context._provided_operation_name) is None:
            # GraphQL's GetOperation: several operations need a name, and the name must exist.
            return [GraphQLError(_NO_OPERATION)]
        if nul := _nul_texts(document, context.variables or {}):
            return nul
        measurer = _Measurer(context.schema._schema, document, self.limits, context.variables or {})
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if error := _violation(measurer.operation(definition), self.limits):
                return [GraphQLError(error.message, definition, original_error=error)]
        return []


class SuggestionFreeExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with graphql-core's ``hide_suggestions`` on (variable errors).

    For a subscription (``schema/delivery.py``) it binds itself to the source stream, which
    executes an event's selection once for the subscribers of an audience
    (:meth:`execute_event`) and yields each of them a :class:`Delivery` holding the result,
    which stands in for the per-event executor: it answers that result instead of executing
    the selection again."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)

    def cancellable_iterable(self, iterable: Any) -> Any:
        # Called with the source stream before its first event is asked for.
        if isinstance(iterable, EventSource):
            iterable.bind_executor(self)
        return super().cancellable_iterable(iterable)

    def execute_event(self, value: object, context: object) -> Any:
        """The subscription's selection executed on ``value`` with ``context`` (a session,
        scope and loaders of the event's own)."""
        executor = super().build_per_event_executor(value)
        executor.context_value = context
        return executor.execute_operation(False)

    def build_per_event_executor(self, payload: Any) -> Any:
        if isinstance(payload, Delivery):
            # Executed already: no copy of the executor, only the answer (graphql-core calls
            # nothing but ``execute_operation`` on a per-event executor).
            return payload
        return super().build_per_event_executor(payload)


def query_limit_extensions(
    limits: GraphQLSettings, *, introspection: bool
) -> list[Callable[[], SchemaExtension]]:
    valid = ValidDocuments()
    documents = DocumentCache[DocumentNode]()
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        # Parsed documents are kept (keyed by text and the token limit): REST routes and
        # front ends send the same few documents again and again.
        lambda: CachedParser(documents),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    extensions.append(lambda: QueryLimits(limits, valid))
    return extensions
