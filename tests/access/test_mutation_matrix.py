"""Every write, with every id it takes pointed at a record the caller may not see.

The GraphQL mutations and their id arguments (any ID-typed argument or input field, lists of
ids too) come from the schema; the REST writes (POST/PUT/PATCH/DELETE) and their ids (path
parameters, body properties of format uuid) from /openapi.json. Other required values are
generated from the input types (``value_for``, overridable per field name). For each case the
answer with an invisible id must be the answer with a random UUID (NOT_FOUND / 404, the same
message), nothing may be written (a digest of every table) and no outbox row added, and the
invisible id may not be in the answer. A write that did happen spoils the seeded world, so the
next case gets a fresh one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from tests.access.conftest import CALLERS, World, open_world, outbox_count, snapshot
from tests.access.org import CURRENT, SALES_TYPES, Caller
from tests.access.walker import (
    REQUIRED_INPUT_FIELDS,
    camel,
    id_type_of,
    random_uuid,
    required_args,
    resource_type,
    strings_in,
)
from tests.services import ServiceUrls

pytestmark = pytest.mark.asyncio(loop_scope="module")

MATRIX_CALLERS = ("rA1", "rX", "mA", "head")
# Invisible records tried first (they would otherwise make the write succeed: a qualified lead
# for convertLead, an open deal for a stage change).
PREFERRED_INVISIBLE = {
    "Lead": ["L_QB1", "L_B1", "L_BU", "L_C", "L_N"],
    "Opportunity": ["O_B1a", "O_B2a", "O_C1", "O_N"],
    "Account": ["AcB2", "AcBG", "AcC", "AcN"],
    "Quota": ["Q_rB1", "Q_TB", "Q_TC"],
}
MIN_GRAPHQL_CASES = 30  # (mutation x id argument x caller) with an invisible record
MIN_REST_CASES = 12
ECHOES: list[str] = []
COUNTS: dict[str, int] = {
    "graphql": 0,
    "rest": 0,
    "graphql_role_refused": 0,
    "rest_role_refused": 0,
}


class Worlds:
    """The module's world, rebuilt when a case wrote to it."""

    def __init__(self, services: ServiceUrls, tmp: Path) -> None:
        self.services = services
        self.tmp = tmp
        self.stack: AsyncExitStack | None = None
        self.world: World | None = None
        self.dirty = False
        self.builds = 0

    async def get(self) -> World:
        if self.world is None or self.dirty:
            await self.close()
            self.stack = AsyncExitStack()
            self.builds += 1
            self.world = await self.stack.enter_async_context(
                open_world(self.services, self.tmp / f"world{self.builds}")
            )
            self.dirty = False
        return self.world

    async def close(self) -> None:
        if self.stack is not None:
            await self.stack.aclose()
        self.stack = None
        self.world = None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(
    services: ServiceUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Worlds]:
    holder = Worlds(services, tmp_path_factory.mktemp("matrix"))
    try:
        yield holder
    finally:
        await holder.close()


# ------------------------------------------------------------------ values from input types


@dataclass
class Values:
    """Valid values for a caller: visible records for ids, sensible scalars by field name."""

    world: World
    caller: Caller
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def visible_id(self, record: str) -> str:
        org = self.world.org
        assert self.caller.user is not None
        if record == "User":
            return org.users[self.caller.user].id
        if record == "Territory":
            oracle = self.world.oracle
            mine = sorted(oracle.owned(self.caller.user)) or sorted(oracle.member(self.caller.user))
            return org.territories[mine[0] if mine else "TA"].id
        visible = sorted(self.world.oracle.visible_ids(self.caller)[record], key=org.key_of)
        assert visible, f"{self.caller.name} sees no {record}"
        return visible[0]

    def scalar(self, name: str, type_name: str) -> Any:
        n = next(self.counter)
        strings = {
            "email": f"matrix{n}@matrix-test.com",
            "period": CURRENT.name,
            "name": f"Matrix {n}",
            "opportunityName": f"Matrix deal {n}",
            "reason": "matrix test",
            "paymentTerms": "net_30",
            "billingFrequency": "monthly",
            "country": "US",
        }
        numbers = {"amount": 1000.0, "quantity": 1, "unitPrice": 100.0, "probability": 40}
        if type_name == "String":
            return strings.get(name, f"matrix {name}")
        if type_name in ("Int", "Float"):
            return numbers.get(name, 1)
        if type_name == "Boolean":
            return True
        if type_name == "Date":
            return CURRENT.end.isoformat()
        if type_name == "DateTime":
            return f"{CURRENT.end.isoformat()}T12:00:00Z"
        if type_name == "JSON":
            return {}
        raise AssertionError(f"no value for the scalar {type_name} ({name})")


ENUM_CHOICES = {"stage": "QUALIFICATION", "forecastType": "COMMIT", "status": "WORKING"}


def value_for(schema: GraphQLSchema, values: Values, name: str, t: Any, parent: str) -> Any:
    """A valid value of type ``t`` for the field ``name`` (required fields only)."""
    t = get_nullable_type(t)
    if is_list_type(t):
        return [value_for(schema, values, name, t.of_type, parent)]
    if isinstance(t, GraphQLEnumType):
        choice = ENUM_CHOICES.get(name)
        return choice if choice in t.values else next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        required = REQUIRED_INPUT_FIELDS.get(t.name, set())
        return {
            f: value_for(schema, values, f, ft.type, t.name)
            for f, ft in t.fields.items()
            if f in required
        }
    assert isinstance(t, GraphQLScalarType)
    if t.name == "ID":
        record = id_type_of(schema, name, parent)
        assert record is not None, f"{parent}.{name}: which record does this id name?"
        return values.visible_id(record)
    return values.scalar(name, t.name)


@dataclass(frozen=True)
class Slot:
    """Where an id goes: a path of argument and input field names (an int for a list item)."""

    path: tuple[str | int, ...]
    record: str | None

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.path)


def id_slots(schema: GraphQLSchema, mutation: str) -> list[Slot]:
    assert schema.mutation_type is not None
    f = schema.mutation_type.fields[mutation]
    returns = get_named_type(f.type).name
    found: list[Slot] = []

    def visit(name: str, t: Any, path: tuple[str | int, ...], parent: str, seen: set[str]) -> None:
        inner = get_nullable_type(t)
        if is_list_type(inner):
            visit(name, inner.of_type, (*path, 0), parent, seen)
            return
        named = get_named_type(inner)
        if isinstance(named, GraphQLScalarType) and named.name == "ID":
            found.append(Slot(path, id_type_of(schema, name, parent)))
        elif isinstance(named, GraphQLInputObjectType) and named.name not in seen:
            for field_name, input_field in named.fields.items():
                visit(
                    field_name,
                    input_field.type,
                    (*path, field_name),
                    named.name,
                    seen | {named.name},
                )

    for arg_name, arg in f.args.items():
        # ``id`` names the record the mutation acts on: the type it returns.
        visit(arg_name, arg.type, (arg_name,), returns, set())
    return found


def arguments(
    schema: GraphQLSchema, values: Values, mutation: str, slot: Slot, value: str
) -> dict[str, Any]:
    """Every required argument valid, and ``value`` at ``slot``."""
    assert schema.mutation_type is not None
    f = schema.mutation_type.fields[mutation]
    returns = get_named_type(f.type).name
    required = required_args(schema.mutation_type.name, mutation)
    args = {
        name: value_for(schema, values, name, arg.type, returns)
        for name, arg in f.args.items()
        if name in required or name == slot.path[0]
    }
    # Walk down to the slot, creating what is missing (an optional input object or list).
    node: Any = args
    t: Any = f.args[str(slot.path[0])].type
    for i, step in enumerate(slot.path):
        last = i == len(slot.path) - 1
        if last:
            if isinstance(step, int):
                node[:] = [value]
            else:
                node[step] = value
            break
        nxt = slot.path[i + 1]
        if isinstance(step, int):
            inner = get_nullable_type(t).of_type
            if not node:
                node.append({} if isinstance(nxt, str) else [])
            node = node[0]
            t = inner
        else:
            if isinstance(nxt, int):
                node = node.setdefault(step, [])
                t = get_nullable_type(t) if i else t
            else:
                if node.get(step) is None:
                    named = get_named_type(t)
                    node[step] = (
                        value_for(schema, values, step, named, returns)
                        if isinstance(named, GraphQLInputObjectType)
                        else {}
                    )
                node = node[step]
                named = get_named_type(t)
                assert isinstance(named, GraphQLInputObjectType)
                t = named.fields[str(nxt)].type
    return args


def mutation_text(schema: GraphQLSchema, mutation: str, args: dict[str, Any]) -> str:
    assert schema.mutation_type is not None
    f = schema.mutation_type.fields[mutation]
    head = ", ".join(f"${name}: {f.args[name].type}" for name in args)
    call = ", ".join(f"{name}: ${name}" for name in args)
    return f"mutation Matrix({head}) {{ {mutation}({call}) {{ __typename }} }}"


def invisible_id(world: World, caller: Caller, record: str) -> str | None:
    org = world.org
    invisible = world.org.all_ids()[record] - world.oracle.visible_ids(caller)[record]
    for key in PREFERRED_INVISIBLE.get(record, []):
        tables: dict[str, dict[str, Any]] = {
            "Lead": org.leads,
            "Opportunity": org.opportunities,
            "Account": org.accounts,
            "Quota": org.quotas,
        }
        record_id = str(tables[record][key].id)
        if record_id in invisible:
            return record_id
    return sorted(invisible)[0] if invisible else None


# ------------------------------------------------------------------ judging one case


def codes_of(body: dict[str, Any]) -> list[Any]:
    if "error" in body and isinstance(body["error"], dict):
        return [body["error"].get("code")]
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


def without_noise(value: Any, sent: str) -> Any:
    if isinstance(value, dict):
        return {
            k: without_noise(v, sent)
            for k, v in value.items()
            if k not in ("request_id", "timestamp")
        }
    if isinstance(value, list):
        return [without_noise(v, sent) for v in value]
    if isinstance(value, str):
        return value.replace(sent, "<id>")
    return value


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]


async def judge_case(
    world: World,
    worlds: Worlds,
    caller: Caller,
    where: str,
    invisible: str,
    send: Any,
    expect_status: int | None,
) -> tuple[list[str], bool]:
    """Run the case with a random id and with the invisible one; the findings, and whether
    the random id was answered NOT_FOUND (else the role or scope refused the write first)."""
    findings: list[str] = []
    before, outbox_before = await snapshot(world), await outbox_count(world)
    random = random_uuid()
    unknown: Outcome = await send(random)
    after_random = await snapshot(world)
    hidden: Outcome = await send(invisible)
    after, outbox_after = await snapshot(world), await outbox_count(world)
    key = world.org.key_of(invisible)
    unknown_codes, hidden_codes = codes_of(unknown.body), codes_of(hidden.body)
    refused_first = bool(unknown_codes) and unknown_codes[0] == "FORBIDDEN"
    if after_random != before:
        findings.append(f"{where} with a random id wrote to {_changed(before, after_random)}")
    if after != after_random:
        findings.append(
            f"{where} with invisible {key}: WROTE to {_changed(after_random, after)} "
            f"(answer {_short(hidden.body)})"
        )
        worlds.dirty = True
    if outbox_after != outbox_before:
        findings.append(
            f"{where} with invisible {key}: {outbox_after - outbox_before} outbox rows added"
        )
        worlds.dirty = True
    if not refused_first and unknown_codes != ["NOT_FOUND"]:
        findings.append(
            f"{where} with a random id: {unknown_codes}, expected NOT_FOUND "
            f"({_short(unknown.body)})"
        )
    if expect_status is not None and not refused_first and unknown.status != expect_status:
        findings.append(
            f"{where} with a random id: HTTP {unknown.status}, expected {expect_status}"
        )
    if hidden_codes != unknown_codes or hidden.status != unknown.status:
        findings.append(
            f"{where} with invisible {key}: {hidden.status} {hidden_codes} "
            f"({_short(hidden.body)}), a random id gets {unknown.status} {unknown_codes}"
        )
    elif without_noise(hidden.body, invisible) != without_noise(unknown.body, random):
        findings.append(
            f"{where} with invisible {key}: {_short(hidden.body)} differs from a random id's "
            f"{_short(unknown.body)}"
        )
    strings = set(strings_in(hidden.body))
    if invisible in strings:
        # Judged by test_write_answers_do_not_echo_the_id_sent.
        ECHOES.append(f"[{caller.name}] {where} with invisible {key}: {_short(hidden.body)}")
    leaked = strings & world.oracle.invisible_ids(caller) - {invisible}
    if leaked:
        findings.append(f"{where}: other invisible ids {world.org.keys(leaked)}")
    return findings, not refused_first


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def _short(body: Any) -> str:
    text = json.dumps(body)
    return text if len(text) < 260 else text[:260] + "..."


def report(findings: list[str]) -> str:
    """Findings, the ones that wrote or answered differently first, id echoes last."""
    ordered = sorted(
        findings, key=lambda f: ("the id sent is in the answer" in f, "random id" in f)
    )
    return f"{len(findings)} findings:\n" + "\n".join(ordered)


# ------------------------------------------------------------------ GraphQL


@pytest.mark.parametrize("caller_name", MATRIX_CALLERS)
async def test_graphql_mutations_with_invisible_ids(worlds: Worlds, caller_name: str) -> None:
    caller = CALLERS[caller_name]
    world = await worlds.get()
    schema = world.schema
    assert schema.mutation_type is not None
    findings: list[str] = []
    cases = refused = always_visible = 0
    for mutation in schema.mutation_type.fields:
        for slot in id_slots(schema, mutation):
            assert slot.record is not None, f"{mutation}({slot}): which record does this id name?"
            if slot.record not in SALES_TYPES:
                always_visible += 1  # users and territories: every user sees them all
                continue
            world = await worlds.get()
            invisible = invisible_id(world, caller, slot.record)
            if invisible is None:
                continue
            values = Values(world, caller)

            async def send(
                record_id: str,
                slot: Slot = slot,
                mutation: str = mutation,
                world: World = world,
                values: Values = values,
            ) -> Outcome:
                args = arguments(world.schema, values, mutation, slot, record_id)
                response = await world.gql(
                    caller_name, mutation_text(world.schema, mutation, args), args
                )
                return Outcome(response.status_code, response.json())

            found, counted = await judge_case(
                world, worlds, caller, f"{mutation}({slot})", invisible, send, None
            )
            findings += found
            cases += counted
            refused += not counted
    COUNTS["graphql"] += cases
    COUNTS["graphql_role_refused"] += refused
    print(
        f"{caller_name}: {cases} GraphQL (mutation x id argument) cases answered NOT_FOUND for a "
        f"random id, {refused} refused by role first, {always_visible} id arguments of users or "
        f"territories (visible to all)"
    )
    assert cases >= 4, cases
    assert not findings, report([f"[{caller_name}] {f}" for f in findings])


# ------------------------------------------------------------------ REST


def rest_writes(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch", "delete") and path.startswith("/api/")
    ]


def rest_slots(schema: GraphQLSchema, path: str, operation: dict[str, Any]) -> list[Slot]:
    slots = [
        Slot(
            ("path", p["name"]),
            resource_type(path) if p["name"] == "id" else id_type_of(schema, camel(p["name"]), ""),
        )
        for p in operation.get("parameters", [])
        if p.get("in") == "path" and (p.get("schema") or {}).get("format") == "uuid"
    ]
    body = request_schema(operation)
    for name, prop in (body.get("properties") or {}).items():
        if prop.get("format") == "uuid":
            slots.append(Slot(("body", name), id_type_of(schema, camel(name), "")))
    return slots


def request_schema(operation: dict[str, Any]) -> dict[str, Any]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema: dict[str, Any] = (content.get("application/json") or {}).get("schema") or {}
    return schema


def rest_body(
    world: World, values: Values, operation: dict[str, Any], slot: Slot, value: str
) -> dict[str, Any]:
    """The required properties (from the spec's example where it has one) and ``value`` at
    ``slot``; other ids point at records the caller sees."""
    schema = request_schema(operation)
    content = (operation.get("requestBody") or {}).get("content") or {}
    example = (content.get("application/json") or {}).get("example") or {}
    body: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = schema["properties"][name]
        if prop.get("format") == "uuid":
            record = id_type_of(world.schema, camel(name), "")
            assert record is not None, name
            body[name] = values.visible_id(record)
        elif name == "period":
            body[name] = CURRENT.name
        elif name == "email":
            body[name] = values.scalar("email", "String")
        elif name in example:
            body[name] = example[name]
        elif "enum" in prop:
            body[name] = prop["enum"][0]
        else:
            kind = {"string": "String", "integer": "Int", "number": "Float", "boolean": "Boolean"}
            body[name] = values.scalar(camel(name), kind[str(prop.get("type"))])
    if slot.path[0] == "body":
        body[str(slot.path[1])] = value
    return body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def openapi(worlds: Worlds) -> dict[str, Any]:
    world = await worlds.get()
    document: dict[str, Any] = (await world.client.get("/openapi.json")).json()
    return document


@pytest.mark.parametrize("caller_name", MATRIX_CALLERS)
async def test_rest_writes_with_invisible_ids(
    worlds: Worlds, openapi: dict[str, Any], caller_name: str
) -> None:
    caller = CALLERS[caller_name]
    world = await worlds.get()
    findings: list[str] = []
    cases = refused = 0
    writes = rest_writes(openapi)
    assert len(writes) >= 5, writes
    for method, path, operation in writes:
        for slot in rest_slots(world.schema, path, operation):
            assert slot.record is not None, f"{method} {path} {slot}: which record?"
            if slot.record not in SALES_TYPES:
                continue
            world = await worlds.get()
            invisible = invisible_id(world, caller, slot.record)
            if invisible is None:
                continue
            values = Values(world, caller)

            async def send(
                record_id: str,
                slot: Slot = slot,
                path: str = path,
                method: str = method,
                operation: dict[str, Any] = operation,
                world: World = world,
                values: Values = values,
            ) -> Outcome:
                params = {
                    p["name"]: record_id
                    if slot.path == ("path", p["name"])
                    else values.visible_id(resource_type(path))
                    for p in operation.get("parameters", [])
                    if p.get("in") == "path"
                }
                url = path.format(**params)
                body = rest_body(world, values, operation, slot, record_id)
                response = await world.rest(caller_name, method, url, json=body)
                return Outcome(response.status_code, response.json())

            found, counted = await judge_case(
                world, worlds, caller, f"{method} {path} [{slot}]", invisible, send, 404
            )
            findings += found
            cases += counted
            refused += not counted
    COUNTS["rest"] += cases
    COUNTS["rest_role_refused"] += refused
    print(
        f"{caller_name}: {cases} REST (write x id) cases answered 404 for a random id, "
        f"{refused} refused by role first"
    )
    assert not findings, report([f"[{caller_name}] {f}" for f in findings])


async def test_matrix_counts_are_above_their_floors() -> None:
    """Runs after the matrix: enough cases were tried (the generator did not dry up)."""
    print(json.dumps(COUNTS, indent=1))
    assert COUNTS["graphql"] >= MIN_GRAPHQL_CASES, COUNTS
    assert COUNTS["rest"] >= MIN_REST_CASES, COUNTS


async def test_write_answers_do_not_echo_the_id_sent() -> None:
    """Runs after the matrix: no answer to a write carried the invisible id it was sent
    (error details included)."""
    assert COUNTS["graphql"] + COUNTS["rest"] > 0, "run with the matrix tests above"
    assert not ECHOES, f"{len(ECHOES)} answers carry the invisible id sent:\n" + "\n".join(ECHOES)
