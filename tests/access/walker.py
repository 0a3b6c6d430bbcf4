"""Queries generated from the GraphQL schema itself, and the oracle's judgement of the answers.

``plan_documents`` reads the schema (introspection), makes one *group* per object reached on a
field path of at most ``DEPTH`` fields below a root field (a connection's ``items`` does not
count as a level), and packs groups into documents that stay inside the gateway's limits
(docs/limits.md: tokens, cost). Nothing names a field or type of ours: a new field or type is
walked as soon as it is in the schema. ``Judge`` checks an answer against ``org.Oracle``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    IntrospectionQuery,
    Lexer,
    Source,
    TokenKind,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from tests.access.org import (
    CURRENT,
    DIRECTORY_TYPES,
    OWNED_TYPES,
    TYPE_SCOPE,
    Caller,
    Oracle,
    Period,
)

INTROSPECTION = get_introspection_query(descriptions=False)
DEPTH = 3  # object levels below a root field
MAX_TOKENS = 1800  # the gateway refuses more than 2,000
MAX_COST = 40_000  # the gateway refuses more than 50,000
DEFAULT_PAGE = 50
SIZE_ARGS = ("limit", "first")
INDEX_RE = re.compile(r"[.]\d+(?=[.:\s]|$)")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Always selected on an object of these types, next to __typename and id, so that the judge
# can tell which record it is.
KEY_FIELDS = {
    "Forecast": ("kind", "forecastType", "period"),
    "PipelineReportLine": ("stage", "version"),
    "TerritoryPerformance": ("version",),
}
# ID-typed fields name the type of their record: ``<prefix>Id`` (``id`` is the parent's own).
ID_PREFIX_TYPE = {
    "owner": "User",
    "user": "User",
    "assignedTo": "User",
    "submittedBy": "User",
    "changedBy": "User",
    "actor": "User",
    "member": "User",
    "manager": "User",
    "endpoint": "WebhookEndpoint",
}


def schema_from(introspection: dict[str, Any]) -> GraphQLSchema:
    """The schema, with each field's and input field's required arguments noted (graphql-core
    drops the default values of enum arguments when it builds a client schema)."""
    schema = build_client_schema(cast(IntrospectionQuery, introspection))
    for t in introspection["__schema"]["types"]:
        for f in t.get("fields") or []:
            required = {
                a["name"]
                for a in f["args"]
                if a["type"]["kind"] == "NON_NULL" and a.get("defaultValue") is None
            }
            REQUIRED_ARGS[(t["name"], f["name"])] = required
        for f in t.get("inputFields") or []:
            if f["type"]["kind"] == "NON_NULL" and f.get("defaultValue") is None:
                REQUIRED_INPUT_FIELDS.setdefault(t["name"], set()).add(f["name"])
    return schema


REQUIRED_ARGS: dict[tuple[str, str], set[str]] = {}
REQUIRED_INPUT_FIELDS: dict[str, set[str]] = {}


def required_args(parent: str, field_name: str) -> set[str]:
    return REQUIRED_ARGS.get((parent, field_name), set())


def id_type_of(schema: GraphQLSchema, field_name: str, parent: str) -> str | None:
    """The record type an ID-typed field or argument names; None when it cannot be told."""
    if field_name == "id":
        return parent
    stem = re.sub(r"Ids?$", "", field_name)
    if stem in ID_PREFIX_TYPE:
        return ID_PREFIX_TYPE[stem]
    candidate = stem[:1].upper() + stem[1:]
    if isinstance(schema.type_map.get(candidate), GraphQLObjectType):
        return candidate
    return None


def is_connection(t: GraphQLNamedType) -> bool:
    return (
        isinstance(t, GraphQLObjectType)
        and "items" in t.fields
        and is_list_type(get_nullable_type(t.fields["items"].type))
    )


def scope_of(t: GraphQLNamedType) -> str | None:
    """The scope gating a type; a connection is gated by its items' type."""
    if is_connection(t):
        assert isinstance(t, GraphQLObjectType)
        return scope_of(get_named_type(t.fields["items"].type))
    return TYPE_SCOPE.get(t.name)


def count_tokens(text: str) -> int:
    lexer = Lexer(Source(text))
    n = 0
    while lexer.advance().kind != TokenKind.EOF:
        n += 1
    return n


# ------------------------------------------------------------------ documents


Tree = dict[str, "Tree | None"]


@dataclass(frozen=True)
class Group:
    """An object reached on ``path`` below the root field; ``full``: with its scalar fields
    (else only ``__typename``, ``id`` and key fields, when the full group is over a limit)."""

    root: str
    path: tuple[str, ...]
    full: bool = True


@dataclass
class Document:
    root: str
    text: str
    tree: Tree
    variables: dict[str, str]  # name -> GraphQL type
    limit: int | None  # the root list's page size, when the plan had to make it smaller
    groups: list[Group] = field(default_factory=list)


def _level(path: tuple[str, ...]) -> int:
    return sum(1 for name in path if name != "items")


def groups_of(schema: GraphQLSchema, root: str) -> list[Group]:
    query = schema.query_type
    assert query is not None
    root_type = get_named_type(query.fields[root].type)
    found: list[Group] = []

    def visit(t: GraphQLNamedType, path: tuple[str, ...]) -> None:
        if not isinstance(t, GraphQLObjectType):
            return
        found.append(Group(root, path))
        if _level(path) >= DEPTH and not is_connection(t):
            return
        for name, f in t.fields.items():
            if required_args(t.name, name):
                continue  # a nested field needing arguments: none today
            child = get_named_type(f.type)
            if isinstance(child, GraphQLObjectType):
                visit(child, (*path, name))

    visit(root_type, ())
    return found


def type_at(schema: GraphQLSchema, root: str, path: tuple[str, ...]) -> GraphQLObjectType:
    query = schema.query_type
    assert query is not None
    t = get_named_type(query.fields[root].type)
    for name in path:
        assert isinstance(t, GraphQLObjectType)
        t = get_named_type(t.fields[name].type)
    assert isinstance(t, GraphQLObjectType)
    return t


def _scalars(t: GraphQLObjectType) -> list[str]:
    return [
        name
        for name, f in t.fields.items()
        if is_leaf_type(get_named_type(f.type)) and not required_args(t.name, name)
    ]


def _keys(t: GraphQLObjectType) -> list[str]:
    keys = ["__typename"]
    if "id" in t.fields:
        keys.append("id")
    keys += [k for k in KEY_FIELDS.get(t.name, ()) if k in t.fields]
    return keys


def merge(schema: GraphQLSchema, groups: list[Group]) -> Tree:
    tree: Tree = {}
    for group in groups:
        node = tree
        t = type_at(schema, group.root, ())
        for key in _keys(t):
            node.setdefault(key, None)
        for name in group.path:
            child = node.setdefault(name, {})
            assert child is not None
            node = child
            child_type = get_named_type(t.fields[name].type)
            assert isinstance(child_type, GraphQLObjectType)
            t = child_type
            for key in _keys(t):
                node.setdefault(key, None)
        for name in _scalars(t) if group.full else ():
            node.setdefault(name, None)
    return tree


def render(tree: Tree) -> str:
    parts = []
    for name, sub in tree.items():
        parts.append(name if sub is None else f"{name} {{ {render(sub)} }}")
    return " ".join(parts)


def root_arguments(schema: GraphQLSchema, root: str) -> dict[str, str]:
    """Variables for the root field's required arguments: name -> GraphQL type."""
    query = schema.query_type
    assert query is not None
    required = required_args(query.name, root)
    return {
        name: str(arg.type) for name, arg in query.fields[root].args.items() if name in required
    }


def document_text(root: str, variables: dict[str, str], tree: Tree, limit: int | None) -> str:
    args = [f"{name}: ${name}" for name in variables]
    if limit is not None:
        args.append(f"limit: {limit}")
    head = f"({', '.join(f'${n}: {t}' for n, t in variables.items())})" if variables else ""
    call = f"{root}({', '.join(args)})" if args else root
    return f"query Walk{head} {{ {call} {{ {render(tree)} }} }}"


def cost(
    schema: GraphQLSchema, t: GraphQLObjectType, tree: Tree, mult: int, passed: int | None
) -> int:
    """docs/limits.md's cost of ``tree`` under an object resolved ``mult`` times."""
    total = 0
    for name, sub in tree.items():
        total += mult
        if sub is None or name == "__typename":
            continue
        f = t.fields[name]
        child = get_named_type(f.type)
        assert isinstance(child, GraphQLObjectType)
        size = (passed or DEFAULT_PAGE) if is_list_type(get_nullable_type(f.type)) else 1
        total += cost(schema, child, sub, mult * size, None)
    return total


def root_cost(schema: GraphQLSchema, root: str, tree: Tree, limit: int | None) -> int:
    query = schema.query_type
    assert query is not None
    f: GraphQLField = query.fields[root]
    t = get_named_type(f.type)
    assert isinstance(t, GraphQLObjectType)
    has_size = any(a in f.args for a in SIZE_ARGS)
    size = (limit or DEFAULT_PAGE) if has_size else DEFAULT_PAGE
    if is_connection(t):
        return 1 + cost(schema, t, tree, 1, size)
    if is_list_type(get_nullable_type(f.type)):
        return 1 + cost(schema, t, tree, size, None)
    return 1 + cost(schema, t, tree, 1, None)


def _fits(
    schema: GraphQLSchema,
    root: str,
    variables: dict[str, str],
    groups: list[Group],
    limit: int | None,
) -> Document | None:
    tree = merge(schema, groups)
    text = document_text(root, variables, tree, limit)
    if count_tokens(text) > MAX_TOKENS or root_cost(schema, root, tree, limit) > MAX_COST:
        return None
    return Document(root, text, tree, variables, limit, list(groups))


def _place(
    schema: GraphQLSchema,
    root: str,
    variables: dict[str, str],
    group: Group,
    can_shrink: bool,
    pending: dict[int | None, list[Group]],
) -> bool:
    for limit in (None, 20, 10, 5, 2, 1) if can_shrink else (None,):
        if _fits(schema, root, variables, [group], limit) is not None:
            pending.setdefault(limit, []).append(group)
            return True
    return False


def plan_documents(schema: GraphQLSchema) -> tuple[list[Document], list[Group]]:
    """Documents covering every group, and the groups no document could hold."""
    query = schema.query_type
    assert query is not None
    documents: list[Document] = []
    unplannable: list[Group] = []
    for root, root_field in query.fields.items():
        variables = root_arguments(schema, root)
        can_shrink = "limit" in root_field.args
        pending: dict[int | None, list[Group]] = {}
        for group in groups_of(schema, root):
            if not _place(schema, root, variables, group, can_shrink, pending):
                keys_only = Group(group.root, group.path, full=False)
                if not _place(schema, root, variables, keys_only, can_shrink, pending):
                    unplannable.append(group)
        for limit, groups in pending.items():
            current: list[Group] = []
            for group in groups:
                if _fits(schema, root, variables, [*current, group], limit) is None:
                    document = _fits(schema, root, variables, current, limit)
                    assert document is not None
                    documents.append(document)
                    current = []
                current.append(group)
            if current:
                document = _fits(schema, root, variables, current, limit)
                assert document is not None
                documents.append(document)
    return documents, unplannable


def split(schema: GraphQLSchema, document: Document) -> list[Document]:
    """Two halves of a document the gateway refused (our cost estimate was short)."""
    if len(document.groups) < 2:
        raise AssertionError(f"the gateway refuses a single group: {document.text}")
    half = len(document.groups) // 2
    parts = []
    for groups in (document.groups[:half], document.groups[half:]):
        tree = merge(schema, groups)
        text = document_text(document.root, document.variables, tree, document.limit)
        parts.append(
            Document(document.root, text, tree, document.variables, document.limit, groups)
        )
    return parts


# ------------------------------------------------------------------ judging answers


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        yield from UUID_RE.findall(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def _path(path: list[str | int]) -> str:
    return ".".join(str(p) for p in path)


def close(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) < 0.005 + 1e-9 * abs(float(b))
    return bool(a == b)


@dataclass
class _Walk:
    """Where a walk of one answer is: the nearest object with an id (``anchor``), and the
    paths that must, or may, carry a FORBIDDEN error."""

    anchor: str
    forbidden: dict[str, str] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)
    any_code: set[str] = field(default_factory=set)


@dataclass
class Judge:
    """Checks answers for one caller; every finding is a line in ``violations``."""

    schema: GraphQLSchema
    oracle: Oracle
    caller: Caller
    violations: list[str] = field(default_factory=list)
    checked_ids: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)
    # Which object fields held a value (filled by every judged answer), and the admin's
    # ``present`` for the answer being judged.
    present: dict[str, bool] = field(default_factory=dict)
    reference: dict[str, bool] | None = None
    # What the finance reads' judgements covered: "<type> sets" answers compared whole (with
    # their key fields), "<type> lines" the lines in them.
    finance: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.visible = self.oracle.visible_ids(self.caller)
        self.invisible = self.oracle.invisible_ids(self.caller)
        self.org = self.oracle.org

    def fail(self, where: str, message: str) -> None:
        """Record a finding once; list indices in paths become [] so that one fault on every
        item of a list is one line (with its count)."""
        line = INDEX_RE.sub("[]", f"[{self.caller.name}] {where}: {message}")
        if line not in self.seen:
            self.violations.append(line)
        self.seen[line] += 1

    def named_args(self, variables: dict[str, Any]) -> str:
        if not variables:
            return ""
        inner = ", ".join(f"{k}: {self.org.key_of(str(v))}" for k, v in variables.items())
        return f"({inner})"

    # -------------------------------------------------------------- generic

    def no_invisible_ids(self, where: str, body: Any) -> None:
        leaked = {s for s in strings_in(body) if s in self.invisible}
        if leaked:
            self.fail(where, f"invisible records in the answer: {self.org.keys(leaked)}")

    def check_id(self, where: str, type_name: str | None, value: Any, field_name: str) -> None:
        if value is None:
            return
        if type_name is None:
            self.fail(
                where, f"the oracle cannot tell which record the ID field {field_name!r} names"
            )
            return
        if type_name in OWNED_TYPES or type_name in DIRECTORY_TYPES:
            self.checked_ids[type_name] += 1
            if str(value) not in self.visible[type_name]:
                known = str(value) in self.org.all_ids().get(type_name, set())
                what = self.org.key_of(str(value)) if known else f"unknown id {value}"
                self.fail(where, f"{type_name} {what} is not visible to the caller")
            return
        self.fail(where, f"type {type_name} has an id but is unknown to the oracle")

    # -------------------------------------------------------------- GraphQL

    def graphql(self, document: Document, variables: dict[str, Any], body: dict[str, Any]) -> None:
        """Judge one answer. ``self.reference`` (the same document answered for the admin, by
        ``presence``) tells which gated fields hold a value: only those must be FORBIDDEN, a
        relation that is empty anyway may be null without an error."""
        where = f"{document.root}{self.named_args(variables)}"
        self.no_invisible_ids(where, body)
        errors = body.get("errors") or []
        data = body.get("data")
        if data is None and not errors:
            self.fail(where, f"no data and no errors: {body}")
            return
        if "data" not in body:
            self.fail(where, f"refused before execution: {errors}")
            return
        state = _Walk(anchor=f"root:{document.root}:{json.dumps(variables, sort_keys=True)}")
        query = self.schema.query_type
        assert query is not None
        root_field = query.fields[document.root]
        root_type = get_named_type(root_field.type)
        assert isinstance(root_type, GraphQLObjectType)
        gate = scope_of(root_type)
        value = (data or {}).get(document.root)
        self.present[f"{state.anchor}/{document.root}"] = value is not None
        walk = value is not None
        if document.root == "me" and self.caller.is_partner:
            # A partner has no user: the contract says nothing of ``me`` but that it is not one.
            state.optional.add(document.root)
            state.any_code.add(document.root)
            walk = False
            if value is not None:
                self.fail(where, f"a partner got a user: {value}")
        elif gate and not self.caller.has(gate) and document.root != "me":
            # ``me`` is the caller's own user: it needs no scope (docs/graphql.md).
            if value is None:
                state.forbidden[document.root] = gate
            else:
                self.fail(where, f"root field answered without the scope {gate}")
        if walk:
            self._value(root_type, value, document.tree, [document.root], state, [])
            self._root_aggregates(document, variables, root_type, value)
        for error in errors:
            path = _path(error.get("path") or [])
            code = (error.get("extensions") or {}).get("code")
            if path in state.forbidden:
                if code != "FORBIDDEN":
                    self.fail(where, f"{path}: code {code}, expected FORBIDDEN")
                state.forbidden.pop(path)
            elif path in state.optional and (code == "FORBIDDEN" or path in state.any_code):
                continue
            else:
                message = error.get("message")
                self.fail(where, f"unexpected error at {path or '(no path)'}: {code} {message!r}")
        for path, scope in sorted(state.forbidden.items()):
            self.fail(path, f"expected null with FORBIDDEN (no scope {scope}), got no error")

    def _value(
        self,
        t: GraphQLObjectType,
        value: Any,
        tree: Tree,
        path: list[str | int],
        state: _Walk,
        rel: list[str | int],
    ) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is not None:
                    self._object(t, item, tree, [*path, i], state, [*rel, i])
        else:
            self._object(t, value, tree, path, state, rel)

    def _object(
        self,
        t: GraphQLObjectType,
        obj: dict[str, Any],
        tree: Tree,
        path: list[str | int],
        state: _Walk,
        rel: list[str | int],
    ) -> None:
        where = _path(path)
        typename = obj.get("__typename", t.name)
        anchor = state.anchor
        if "id" in t.fields:
            self.check_id(where, typename, obj.get("id"), "id")
            if typename == "Forecast" and obj.get("id") is None and obj.get("kind") == "SUBMITTED":
                self.fail(where, "a SUBMITTED forecast without id")
            if obj.get("id") is not None:
                anchor, rel = f"{typename}:{obj['id']}", []
        if typename == "Quota":
            self._quota(where, obj)
        for name, sub in tree.items():
            if name in ("__typename", "id"):
                continue
            f = t.fields[name]
            named = get_named_type(f.type)
            child_path = [*path, name]
            key = f"{anchor}/{_path([*rel, name])}"
            value = obj.get(name)
            if sub is not None:
                self.present[key] = value not in (None, [])
            gate = scope_of(named)
            if gate and not self.caller.has(gate):
                if value not in (None, []):
                    self.fail(_path(child_path), f"answered without the scope {gate}")
                elif self.reference is None or self.reference.get(key, True):
                    state.forbidden[_path(child_path)] = gate
                else:
                    state.optional.add(_path(child_path))
                continue
            if sub is None:
                if str(named) == "ID":
                    record = id_type_of(self.schema, name, t.name)
                    self.check_id(_path(child_path), record, value, name)
                continue
            if value is None:
                continue
            assert isinstance(named, GraphQLObjectType)
            inner = _Walk(anchor, state.forbidden, state.optional, state.any_code)
            self._value(named, value, sub, child_path, inner, [*rel, name])
            if isinstance(value, list) and obj.get("id") is not None:
                self._children(_path(child_path), t.name, name, str(obj["id"]), value)

    def _children(
        self, where: str, parent: str, name: str, parent_id: str, items: list[Any]
    ) -> None:
        expected = self.oracle.children(self.caller, parent, name, parent_id)
        if expected is None:
            return
        if isinstance(expected, int):
            if len(items) != expected:
                self.fail(where, f"{len(items)} items, expected {expected}")
            return
        got = {str(item.get("id")) for item in items if isinstance(item, dict)}
        if got != expected:
            self.fail(where, f"items {self.org.keys(got)}, expected {self.org.keys(expected)}")

    def _quota(self, where: str, obj: dict[str, Any]) -> None:
        quota_id = obj.get("id")
        if quota_id is None or quota_id not in self.org.all_ids()["Quota"]:
            return
        key = self.oracle.quota_by_id(quota_id)
        if "wonAmount" in obj and not close(obj["wonAmount"], self.oracle.won_amount(key)):
            self.fail(
                where, f"{key}.wonAmount {obj['wonAmount']}, expected {self.oracle.won_amount(key)}"
            )
        if "attainment" in obj and not close(obj["attainment"], self.oracle.attainment(key)):
            self.fail(
                where,
                f"{key}.attainment {obj['attainment']}, expected {self.oracle.attainment(key)}",
            )

    # -------------------------------------------------------------- aggregates of root fields

    def _root_aggregates(
        self, document: Document, variables: dict[str, Any], t: GraphQLObjectType, value: Any
    ) -> None:
        where = f"{document.root}{self.named_args(variables)}"
        query = self.schema.query_type
        assert query is not None
        root_field = query.fields[document.root]
        defaults_only = not variables
        if is_connection(t) and defaults_only:
            item_type = get_named_type(t.fields["items"].type).name
            expected = self.visible.get(item_type)
            if expected is None:
                return
            if "totalCount" in value and value["totalCount"] != len(expected):
                self.fail(where, f"totalCount {value['totalCount']}, expected {len(expected)}")
            items_tree = document.tree.get("items") or {}
            if "items" in value and "id" in items_tree:
                got = {str(i["id"]) for i in value["items"]}
                # A page the plan made smaller holds only some of them (checked one by one).
                if len(expected) <= DEFAULT_PAGE and document.limit is None and got != expected:
                    self.fail(
                        where,
                        f"items: extra {self.org.keys(got - expected)}, "
                        f"missing {self.org.keys(expected - got)}",
                    )
            return
        if t.name == "Forecast":
            self._forecasts(where, variables, value)
            return
        if t.name == "CommissionLine":
            self._commissions(where, document, variables, value)
            return
        if t.name in ("PipelineReportLine", "TerritoryPerformance"):
            self._report_lines(where, document, variables, t, value)
            return
        if t.name == "Pipeline":
            self._pipeline(where, variables, value)
            return
        if is_list_type(get_nullable_type(root_field.type)) and defaults_only:
            expected = self.visible.get(t.name)
            if expected is not None and "id" in document.tree:
                got = {str(i["id"]) for i in value}
                if got != expected:
                    self.fail(
                        where,
                        f"extra {self.org.keys(got - expected)}, "
                        f"missing {self.org.keys(expected - got)}",
                    )
            return
        single = not is_list_type(get_nullable_type(root_field.type))
        if single and "id" in variables and value.get("id") not in (None, variables["id"]):
            self.fail(where, f"asked for {variables['id']}, got {value.get('id')}")
        me = self.org.users[self.caller.user].id if self.caller.user else None
        if document.root == "me" and me is not None and value.get("id") != me:
            self.fail(where, f"me is {value.get('id')}")

    def _pipeline(self, where: str, variables: dict[str, Any], value: dict[str, Any]) -> None:
        owner = next(k for k, u in self.org.users.items() if u.id == variables.get("ownerId"))
        expected = self.oracle.pipeline(self.caller, owner, CURRENT)
        for key in ("period", "ownerId"):
            if key in value and value[key] != expected[key]:
                self.fail(where, f"{key} {value[key]}, expected {expected[key]}")
        for key, number in (value.get("summary") or {}).items():
            if key in expected["summary"] and not close(number, expected["summary"][key]):
                self.fail(where, f"summary.{key} {number}, expected {expected['summary'][key]}")
        if "byStage" in value:
            got = [{k: line[k] for k in line if k != "__typename"} for line in value["byStage"]]
            want = [{k: line[k] for k in got[0]} for line in expected["byStage"]] if got else []
            if not _same(got, want):
                self.fail(where, f"byStage {got}, expected {want}")

    def gated_fields(self, type_name: str) -> set[str]:
        """Fields of a type that are null with FORBIDDEN for this caller (judged elsewhere)."""
        t = self.schema.type_map[type_name]
        assert isinstance(t, GraphQLObjectType)
        return {
            name
            for name, f in t.fields.items()
            if (gate := scope_of(get_named_type(f.type))) and not self.caller.has(gate)
        }

    def _commissions(
        self,
        where: str,
        document: Document,
        variables: dict[str, Any],
        value: list[dict[str, Any]],
    ) -> None:
        assert variables.get("period") == CURRENT.name, variables
        complete = document.limit is None and not {"ownerId", "offset"} & variables.keys()
        for message in judge_commissions(
            self.oracle,
            self.caller,
            value,
            complete=complete,
            include_superseded=bool(variables.get("includeSuperseded")),
            skip=self.gated_fields("CommissionLine"),
        ):
            self.fail(where, message)
        if complete and "id" in document.tree:
            self.finance["CommissionLine sets"] += 1
            self.finance["CommissionLine lines"] += len(value)

    def _report_lines(
        self,
        where: str,
        document: Document,
        variables: dict[str, Any],
        t: GraphQLObjectType,
        value: list[dict[str, Any]],
    ) -> None:
        assert variables.get("period") == CURRENT.name, variables
        selected = set(document.tree) - {"__typename"} - self.gated_fields(t.name)
        for message in judge_report_lines(
            self.oracle, self.caller, t.name, value, selected, variables
        ):
            self.fail(where, message)
        if REPORT_KEYS[t.name] <= selected:
            self.finance[f"{t.name} sets"] += 1
            self.finance[f"{t.name} lines"] += len(value)

    def _forecasts(
        self, where: str, variables: dict[str, Any], value: list[dict[str, Any]]
    ) -> None:
        assert variables.get("period", CURRENT.name) == CURRENT.name
        expected = self.oracle.generated(self.caller, CURRENT) + self.oracle.submitted_forecasts(
            self.caller, CURRENT
        )
        got = [_forecast_view(item) for item in value]
        want = list(expected)
        selected = set().union(*(g.keys() for g in got)) if got else set()
        forecast = self.schema.type_map["Forecast"]
        assert isinstance(forecast, GraphQLObjectType)
        for name, f in forecast.fields.items():
            gate = scope_of(get_named_type(f.type))
            if gate and not self.caller.has(gate):
                selected.discard(name)  # null with FORBIDDEN, judged elsewhere
        got_f = Counter(_freeze(_project(g, selected)) for g in got)
        want_f = Counter(_freeze(_project(w, selected)) for w in want)
        if got_f != want_f:
            self.fail(
                where,
                f"forecasts differ: unexpected {self._named(got_f - want_f)}; "
                f"missing {self._named(want_f - got_f)}",
            )

    def _named(self, items: Counter[Any]) -> list[str]:
        out = []
        for frozen in items:
            d = dict(frozen)
            if "territory" in d:
                d["territory"] = self.org.key_of(str(d["territory"]))
            if d.get("id"):
                d["id"] = self.org.key_of(str(d["id"]))
            out.append(str({k: v for k, v in d.items() if k != "breakdown"}))
        return out


# ------------------------------------------------------------------ what Finance got

# The fields naming a report line: which (territory, owner, stage) line, which territory.
REPORT_KEYS = {
    "PipelineReportLine": {"territory", "owner", "stage"},
    "TerritoryPerformance": {"territory"},
}
# Filters of the report roots: argument -> the line's field it compares.
REPORT_FILTERS = {"ownerId": "owner", "territoryId": "territory"}


def finance_view(item: dict[str, Any]) -> dict[str, Any]:
    """A line as GraphQL names its fields, from a GraphQL or a REST answer: related records
    by their id, ``supersededAt`` by whether it is set, stages in capitals."""
    view: dict[str, Any] = {}
    for key, value in item.items():
        if key == "__typename":
            continue
        name = camel(key)
        if name in ("ownerId", "territoryId"):
            name = name.removesuffix("Id")
        if name in ("owner", "territory") and isinstance(value, dict):
            value = value.get("id")
        elif name == "supersededAt":
            value = value is not None
        elif name == "stage" and isinstance(value, str):
            value = value.upper()
        view[name] = value
    return view


def judge_commissions(
    oracle: Oracle,
    caller: Caller,
    items: list[dict[str, Any]],
    *,
    complete: bool,
    include_superseded: bool,
    skip: set[str],
) -> list[str]:
    """Findings on the answer of ``commissions(period: CURRENT)``: ``complete``, the whole
    answer (no owner filter, no smaller page), whose line ids must be the oracle's exactly;
    else only lines of it. Every line's fields but ``skip`` as the oracle has them."""
    org = oracle.org
    found = []
    got = [str(i.get("id")) for i in items]
    expected = {
        org.commissions[k].id
        for k in oracle.commissions(caller, CURRENT, include_superseded=include_superseded)
    }
    superseded = {c.id for c in org.commissions.values() if c.superseded}
    if not include_superseded and set(got) & superseded:
        found.append(f"superseded lines by default: {org.keys(set(got) & superseded)}")
    if len(got) != len(set(got)):
        found.append(f"lines more than once: {org.keys(got)}")
    if complete and set(got) != expected:
        found.append(
            f"lines: extra {org.keys(set(got) - expected)}, missing {org.keys(expected - set(got))}"
        )
    elif set(got) - expected:
        found.append(f"lines not expected: {org.keys(set(got) - expected)}")
    keys = {c.id: k for k, c in org.commissions.items()}
    for item in items:
        key = keys.get(str(item.get("id")))
        if key is None:
            continue  # an unknown id: check_id says so
        want = oracle.commission_view(caller, key)
        for name, value in finance_view(item).items():
            if name in want and name not in skip and not close(value, want[name]):
                found.append(f"{key}.{name} {value!r}, expected {want[name]!r}")
    return found


def judge_report_lines(
    oracle: Oracle,
    caller: Caller,
    type_name: str,
    items: list[dict[str, Any]],
    selected: set[str],
    filters: dict[str, Any],
    period: Period = CURRENT,
) -> list[str]:
    """Findings on the answer of ``pipelineReport``/``territoryPerformance``: the lines, as
    far as the ``selected`` fields tell them, must be the oracle's (as many of each)."""
    org = oracle.org
    if type_name == "PipelineReportLine":
        want = oracle.pipeline_report(caller, period)
    else:
        want = oracle.territory_performance(caller, period)
    for argument, name in REPORT_FILTERS.items():
        if filters.get(argument):
            want = [w for w in want if w.get(name) == filters[argument]]
    if not selected and want:
        selected = set(want[0])  # an empty REST answer tells no fields: the oracle's lines
    fields = sorted(selected & (set(want[0]) if want else selected) - {"key"})

    def frozen(view: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            (f, round(v, 4) if isinstance(v, float) else v) for f in fields for v in [view.get(f)]
        )

    def named(views: Counter[tuple[Any, ...]]) -> list[str]:
        out = []
        for view in views:
            shown = {
                k: org.key_of(v) if k in ("owner", "territory") and isinstance(v, str) else v
                for k, v in view
            }
            out.append(str(shown))
        return out

    got = Counter(frozen(finance_view(item)) for item in items)
    expected = Counter(frozen(w) for w in want)
    if got != expected:
        return [
            f"{type_name} lines differ: unexpected {named(got - expected)}; "
            f"missing {named(expected - got)}"
        ]
    return []


def _forecast_view(item: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for k, v in item.items():
        if k == "__typename":
            continue
        if k == "territory":
            view[k] = v.get("id") if isinstance(v, dict) else v
        elif k == "breakdown" and isinstance(v, list):
            view[k] = [{kk: vv for kk, vv in line.items() if kk != "__typename"} for line in v]
        elif k == "id" and item.get("kind") == "GENERATED":
            continue
        else:
            view[k] = v
    return view


# What the contract fixes of each kind of forecast (other fields are not judged).
FORECAST_KEYS = {
    "GENERATED": {
        "kind",
        "period",
        "forecastType",
        "territory",
        "amount",
        "probabilityWeightedAmount",
        "aiPredictedAmount",
        "breakdown",
    },
    "SUBMITTED": {"kind", "id", "period", "forecastType", "territory", "amount", "notes"},
}


def _project(item: dict[str, Any], selected: set[str]) -> dict[str, Any]:
    keys = FORECAST_KEYS.get(str(item.get("kind")), set()) & selected
    return {k: item.get(k) for k in sorted(keys)}


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 2)
    return v


def _freeze(d: dict[str, Any]) -> tuple[Any, ...]:
    items = []
    for k in sorted(d):
        v = d[k]
        if isinstance(v, list):
            v = tuple(tuple(sorted((kk, _round(vv)) for kk, vv in line.items())) for line in v)
        items.append((k, _round(v)))
    return tuple(items)


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
        for x, y in zip(a, b, strict=True)
    )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def resource_type(path: str) -> str:
    """The record type of a REST path: its first segment after /api/v1, singular."""
    segment = path.removeprefix("/api/v1/").split("/")[0]
    singular = re.sub(r"ies$", "y", segment) if segment.endswith("ies") else segment.rstrip("s")
    return singular[:1].upper() + singular[1:]


def random_uuid() -> str:
    return str(uuid.uuid4())
