"""Every field path of the GraphQL schema (to depth 3) and every REST GET route, as every caller.

The queries come from the schema itself (introspection) and the routes from /openapi.json; the
expected answers from ``org.Oracle`` (plain sets over the seeded records). See walker.py for how
documents are generated and judged. A new field, type or GET route is walked without touching
this file; a new type with an ``id`` the oracle does not know fails loudly.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from typing import Any

import pytest
import pytest_asyncio

from graphql import GraphQLObjectType, get_named_type
from tests.access.conftest import CALLERS, World
from tests.access.org import (
    CLIENT_TYPES,
    CURRENT,
    DIRECTORY_TYPES,
    FINANCE_LINE_TYPES,
    FINANCE_RECORD_TYPES,
    MONTH_AFTER,
    MONTH_BEFORE,
    MONTHS,
    PREVIOUS,
    SALES_TYPES,
    TYPE_SCOPE,
    Caller,
    Oracle,
    Period,
    build_org,
)
from tests.access.walker import (
    INDEX_RE,
    REPORT_KEYS,
    UUID_RE,
    Document,
    Judge,
    camel,
    close,
    finance_view,
    id_type_of,
    judge_commissions,
    judge_report_lines,
    plan_documents,
    random_uuid,
    resource_type,
    scope_of,
    split,
    strings_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Records worth walking deeply when the caller sees them (cross-territory parents, converted
# leads, reassigned deals); otherwise the first visible ones.
INTERESTING = {
    "Lead": ["L_CONV2", "L_BA1", "L_A1", "L_CU"],
    "Account": ["AcB1", "AcA2", "AcC", "AcA1"],
    "Opportunity": ["O_RE", "O_XA", "O_CB", "O_A1w", "O_B1w"],
    "Territory": ["TA", "TB", "TC"],
}
DEEP_IDS = 3
# Floors: a generator that stops generating cannot pass.
MIN_DOCUMENTS = 60
MIN_FIELD_PATHS_FULL = 1500  # distinct field paths walked by a caller that may read everything
MIN_REQUESTS_FULL = 100
MIN_REST_GET_ROUTES = 10
# What Finance got: answers compared whole, per caller that may read them (with the scopes of
# their key fields), and lines judged in them over all callers.
FINANCE_TYPES = (*FINANCE_RECORD_TYPES, *FINANCE_LINE_TYPES)
MIN_FINANCE_LINES = {"CommissionLine": 50, "PipelineReportLine": 40, "TerritoryPerformance": 10}

COUNTS: dict[str, dict[str, int]] = {}
# The admin's answers, by (document, variables): the reference of which gated fields hold a
# value, for callers lacking a scope (filled by the admin's walk, or on demand).
ADMIN_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def documents(world: World) -> list[Document]:
    planned, unplannable = plan_documents(world.schema)
    assert not unplannable, f"paths no document can hold within the limits: {unplannable}"
    assert len(planned) >= MIN_DOCUMENTS, len(planned)
    return planned


def field_paths(document: Document) -> set[str]:
    paths: set[str] = set()

    def walk(tree: dict[str, Any] | None, prefix: str) -> None:
        for name, sub in (tree or {}).items():
            if name == "__typename":
                continue
            paths.add(f"{prefix}.{name}")
            walk(sub, f"{prefix}.{name}")

    walk(document.tree, document.root)
    return paths


def representatives(world: World, caller: Caller, type_name: str) -> list[str]:
    """Ids of records of ``type_name`` to walk deeply as ``caller``."""
    visible = world.oracle.visible_ids(caller)[type_name]
    tables: dict[str, dict[str, Any]] = {
        "Lead": world.org.leads,
        "Account": world.org.accounts,
        "Opportunity": world.org.opportunities,
        "Territory": world.org.territories,
        "Contact": world.org.contacts,
        "Quota": world.org.quotas,
        "Forecast": world.org.forecasts,
        "User": world.org.users,
        "WebhookEndpoint": world.org.webhooks,
    }
    table = tables[type_name]
    chosen = [table[k].id for k in INTERESTING.get(type_name, []) if table[k].id in visible]
    rest = sorted(visible - set(chosen), key=world.org.key_of)
    return (chosen + rest)[:DEEP_IDS]


def bindings(
    world: World, caller: Caller, document: Document, *, gated: bool = False
) -> list[dict[str, Any]]:
    """Values for the root field's required arguments, from the seeded data. ``gated``: the
    caller lacks the root's scope, so one set of values will do (a visible record, else a
    random id: the answer is FORBIDDEN either way)."""
    assert world.schema.query_type is not None
    if not document.variables:
        return [{}]
    root_type = get_named_type(world.schema.query_type.fields[document.root].type).name
    choices: dict[str, list[Any]] = {}
    for name, type_name in document.variables.items():
        if type_name.rstrip("!") == "ID":
            record = id_type_of(world.schema, name, root_type)
            if name == "id" or record in SALES_TYPES or record in CLIENT_TYPES:
                assert record is not None, f"{document.root}({name}): no record type"
                choices[name] = representatives(world, caller, record)
            elif record in DIRECTORY_TYPES:
                table = world.org.users if record == "User" else world.org.territories
                choices[name] = [r.id for r in table.values()]
            else:
                raise AssertionError(f"{document.root}({name}: {type_name}): unknown argument")
        elif name == "period":
            choices[name] = [CURRENT.name]
        else:
            raise AssertionError(f"{document.root}({name}: {type_name}): no value for it")
    if gated:
        return [
            {name: (values[0] if values else random_uuid()) for name, values in choices.items()}
        ]
    names = list(choices)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*choices.values())
    ]


async def run_document(
    world: World, caller: str, document: Document, variables: dict[str, Any]
) -> list[tuple[Document, dict[str, Any]]]:
    """The answers of a document, split when the gateway refuses it for a limit."""
    body = (await world.gql(caller, document.text, variables)).json()
    errors = body.get("errors") or []
    limit = [e for e in errors if ((e.get("extensions") or {}).get("details") or {}).get("limit")]
    if "data" not in body and limit:
        answers = []
        for part in split(world.schema, document):
            answers += await run_document(world, caller, part, variables)
        return answers
    return [(document, body)]


@pytest.mark.parametrize("caller_name", list(CALLERS))
async def test_graphql_walk(world: World, documents: list[Document], caller_name: str) -> None:
    caller = CALLERS[caller_name]
    assert world.schema.query_type is not None
    judge = Judge(world.schema, world.oracle, caller)
    # For a caller lacking some scope, the admin's answer to the same document tells which
    # gated fields hold a value (those must be null with FORBIDDEN).
    scoped = caller.scopes is not None and not caller.scopes >= set(TYPE_SCOPE.values())
    reference = Judge(world.schema, world.oracle, CALLERS["admin"])
    requests = 0
    paths: set[str] = set()
    gated_roots_seen: set[str] = set()
    for document in documents:
        root_type = get_named_type(world.schema.query_type.fields[document.root].type)
        gate = scope_of(root_type)
        if gate and not caller.has(gate):
            # The root fails as a whole: one document per root is enough.
            if document.root in gated_roots_seen:
                continue
            gated_roots_seen.add(document.root)
        for variables in bindings(
            world, caller, document, gated=bool(gate and not caller.has(gate))
        ):
            for part, body in await run_document(world, caller_name, document, variables):
                key = (part.text, json.dumps(variables, sort_keys=True))
                if caller_name == "admin":
                    ADMIN_ANSWERS[key] = body
                if scoped and not (gate and not caller.has(gate)):
                    if key not in ADMIN_ANSWERS:
                        ADMIN_ANSWERS[key] = (await world.gql("admin", part.text, variables)).json()
                    reference.present = {}
                    reference.graphql(part, variables, ADMIN_ANSWERS[key])
                    judge.reference = reference.present
                judge.graphql(part, variables, body)
                requests += 1
                paths |= field_paths(part)
    COUNTS.setdefault(caller_name, {}).update(
        {"graphql_requests": requests, "graphql_field_paths": len(paths)}
    )
    COUNTS[caller_name].update({f"graphql {k}": n for k, n in judge.finance.items()})
    print(
        f"{caller_name}: {requests} GraphQL requests, {len(paths)} field paths, ids checked "
        f"{dict(judge.checked_ids)}, finance judged {dict(sorted(judge.finance.items()))}"
    )
    if caller.scopes is None or caller.scopes >= set(TYPE_SCOPE.values()):
        assert len(paths) >= MIN_FIELD_PATHS_FULL, len(paths)
        assert requests >= MIN_REQUESTS_FULL, requests
    assert not judge.violations, report(judge.violations, judge.seen)


def report(violations: list[str], seen: Counter[str] | None = None, limit: int = 80) -> str:
    counted = [f"{v} (x{seen[v]})" if seen and seen[v] > 1 else v for v in violations]
    shown = "\n".join(counted[:limit])
    more = f"\n... and {len(violations) - limit} more" if len(violations) > limit else ""
    return f"{len(violations)} violations:\n{shown}{more}"


# ------------------------------------------------------------------ look-ups of invisible ids


def singular_roots(world: World) -> list[tuple[str, str]]:
    """Root fields taking one ``id`` and returning a record type: (field, type)."""
    assert world.schema.query_type is not None
    found = []
    for name, f in world.schema.query_type.fields.items():
        t = get_named_type(f.type)
        if "id" in f.args and isinstance(t, GraphQLObjectType) and "id" in t.fields:
            found.append((name, t.name))
    return found


def same_answer(invisible: dict[str, Any], unknown: dict[str, Any], sent: str, random: str) -> bool:
    """Equal once the id sent and the request ids are taken out."""

    def clean(value: Any, replace: str) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v, replace)
                for k, v in value.items()
                if k not in ("request_id", "timestamp")
            }
        if isinstance(value, list):
            return [clean(v, replace) for v in value]
        if isinstance(value, str):
            return value.replace(replace, "<id>")
        return value

    return bool(clean(invisible, sent) == clean(unknown, random))


USER_CALLERS = [name for name, c in CALLERS.items() if c.user is not None]


@pytest.mark.parametrize("caller_name", USER_CALLERS)
async def test_graphql_lookup_of_invisible_ids_is_not_found(world: World, caller_name: str) -> None:
    caller = CALLERS[caller_name]
    violations: list[str] = []
    checked = 0
    for root, type_name in singular_roots(world):
        if type_name not in SALES_TYPES or not caller.has(TYPE_SCOPE[type_name]):
            continue
        query = f"query($id: ID!) {{ {root}(id: $id) {{ __typename id }} }}"
        random = random_uuid()
        unknown = (await world.gql(caller_name, query, {"id": random})).json()
        codes = [(e.get("extensions") or {}).get("code") for e in unknown.get("errors", [])]
        if codes != ["NOT_FOUND"]:
            violations.append(f"{root}(random id): {codes}, expected NOT_FOUND")
        invisible = world.org.all_ids()[type_name] - world.oracle.visible_ids(caller)[type_name]
        for record_id in sorted(invisible):
            key = world.org.key_of(record_id)
            body = (await world.gql(caller_name, query, {"id": record_id})).json()
            checked += 1
            if not same_answer(body, unknown, record_id, random):
                violations.append(
                    f"{root}({key}): {_short(body)} differs from a random id's {_short(unknown)}"
                )
            # The id sent itself: test_not_found_answers_do_not_echo_the_id_sent.
            leaked = set(strings_in(body)) & world.oracle.invisible_ids(caller) - {record_id}
            if leaked:
                violations.append(f"{root}({key}): other invisible ids {world.org.keys(leaked)}")
    COUNTS.setdefault(caller_name, {})["graphql_invisible_lookups"] = checked
    assert not violations, report([f"[{caller_name}] {v}" for v in violations])


def _short(body: Any) -> str:
    text = json.dumps(body)
    return text if len(text) < 300 else text[:300] + "..."


# ------------------------------------------------------------------ REST GET routes


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def openapi(world: World) -> dict[str, Any]:
    response = await world.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def get_routes(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, item["get"])
        for path, item in openapi["paths"].items()
        if "get" in item and path.startswith("/api/")
    ]


def route_resource(openapi: dict[str, Any], path: str, operation: dict[str, Any]) -> str:
    """The record type a GET route answers: the schema of its answer when it is a type of the
    oracle (itself, or the items of its ``data``), else its path's first segment."""
    schemas = openapi["components"]["schemas"]

    def named(ref: Any) -> str | None:
        return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None

    answer = (
        operation.get("responses", {})
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    )
    name = named(answer.get("$ref"))
    if name in TYPE_SCOPE:
        assert name is not None
        return name
    items = ((schemas.get(name or "", {}).get("properties") or {}).get("data") or {}).get("items")
    item = named((items or {}).get("$ref"))
    if item in TYPE_SCOPE:
        assert item is not None
        return item
    return resource_type(path)


class RestJudge:
    """REST answers judged like GraphQL ones: every id by its key, lists and figures."""

    def __init__(self, world: World, caller: Caller, openapi: dict[str, Any]) -> None:
        self.world = world
        self.caller = caller
        self.openapi = openapi
        self.oracle = world.oracle
        self.org = world.org
        self.visible = self.oracle.visible_ids(caller)
        self.invisible = self.oracle.invisible_ids(caller)
        self.violations: list[str] = []
        self.checked_ids: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.finance: Counter[str] = Counter()

    def fail(self, where: str, message: str) -> None:
        line = INDEX_RE.sub("[]", f"[{self.caller.name}] {where}: {message}")
        if line not in self.seen:
            self.violations.append(line)
        self.seen[line] += 1

    def record_type(self, key: str, parent: str) -> str | None:
        return id_type_of(self.world.schema, camel(key), parent)

    def check(self, where: str, key: str, value: str, type_name: str | None) -> None:
        if type_name is None:
            self.fail(where, f"the oracle cannot tell which record {key!r} names")
        elif type_name not in self.visible:
            self.fail(where, f"type {type_name} has an id but is unknown to the oracle")
        else:
            self.checked_ids[type_name] += 1
            if value not in self.visible[type_name]:
                self.fail(
                    where, f"{type_name} {self.org.key_of(value)} is not visible to the caller"
                )

    def ids(self, where: str, value: Any, current: str | None) -> None:
        """Every UUID in ``value`` by the key naming it: ``id`` is the object's own (of type
        ``current``), ``<x>_id``/``<x>_ids`` and objects under ``<x>`` name their type."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.ids(f"{where}.{i}", item, current)
            return
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            here = f"{where}.{key}"
            # Not records: the request's id, a webhook delivery's event (its id and envelope).
            if key in ("request_id", "event_id", "event"):
                continue
            if isinstance(item, str) and UUID_RE.fullmatch(item):
                self.check(here, key, item, current if key == "id" else self.record_type(key, ""))
            elif isinstance(item, list) and all(isinstance(i, str) for i in item):
                for i, element in enumerate(item):
                    if UUID_RE.fullmatch(element):
                        self.check(f"{here}.{i}", key, element, self.record_type(key, ""))
            elif isinstance(item, (dict, list)):
                singular = re.sub(r"ies$", "y", key) if key.endswith("ies") else key.rstrip("s")
                nested = current if key == "data" else self.record_type(singular, "")
                self.ids(here, item, nested)

    def body(self, where: str, path: str, resource: str, body: Any, params: dict[str, str]) -> None:
        leaked = {s for s in strings_in(body) if s in self.invisible}
        if leaked:
            self.fail(where, f"invisible records in the answer: {self.org.keys(leaked)}")
        if resource in FINANCE_TYPES:
            self.ids(where, body, resource)
            self.finance_lines(where, resource, body, params)
            return
        if resource == "Opportunity" and path.endswith("/pipeline"):
            self.pipeline(where, body, params)
            return
        if resource == "Forecast":
            self.forecasts(where, body)
        self.ids(where, body, resource)
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            expected = self.visible.get(resource)
            listed = (resource in SALES_TYPES and resource != "Forecast") or (
                resource == "WebhookEndpoint"
            )
            if expected is not None and listed:
                got = {item.get("id") for item in body["data"]}
                total = (body.get("pagination") or {}).get("total")
                if total is not None and total != len(expected):
                    self.fail(where, f"pagination.total {total}, expected {len(expected)}")
                if len(expected) <= 50 and got != expected:
                    self.fail(
                        where,
                        f"data: extra {self.org.keys(got - expected)}, missing "
                        f"{self.org.keys(expected - got)}",
                    )

    def finance_lines(
        self, where: str, resource: str, body: dict[str, Any], params: dict[str, str]
    ) -> None:
        items = body.get("data")
        if not isinstance(items, list):
            self.fail(where, f"no list of lines: {_short(body)}")
            return
        # A related record of a type the caller may not read: its id is null.
        related = {"owner": TYPE_SCOPE["User"], "territory": TYPE_SCOPE["Territory"]}
        hidden = {name for name, scope in related.items() if not self.caller.has(scope)}
        for item in items:
            for name in hidden & {k for k, v in finance_view(item).items() if v is not None}:
                self.fail(where, f"{name}_id without the scope {related[name]}")
        if resource == "CommissionLine":
            complete = not {"owner_id", "limit", "offset"} & params.keys()
            findings = judge_commissions(
                self.oracle,
                self.caller,
                items,
                complete=complete,
                include_superseded=params.get("include_superseded") in ("true", True),
                skip=hidden,
            )
            judged = complete
        else:
            selected = set().union(*(finance_view(i).keys() for i in items)) - hidden
            filters = {camel(k): v for k, v in params.items() if k in ("owner_id", "territory_id")}
            findings = judge_report_lines(
                self.oracle, self.caller, resource, items, selected, filters
            )
            judged = not items or REPORT_KEYS[resource] <= selected
        for message in findings:
            self.fail(where, message)
        if judged:
            self.finance[f"{resource} sets"] += 1
            self.finance[f"{resource} lines"] += len(items)

    def pipeline(self, where: str, body: dict[str, Any], params: dict[str, str]) -> None:
        owner = next(k for k, u in self.org.users.items() if u.id == params["owner_id"])
        expected = self.oracle.pipeline(self.caller, owner, CURRENT)
        summary = body.get("summary") or {}
        for key, number in expected["summary"].items():
            got = summary.get(re.sub(r"([A-Z])", r"_\1", key).lower())
            if not close(got, number):
                self.fail(where, f"summary.{key} {got}, expected {number}")
        got_lines = [
            (line["stage"].upper(), line["count"], line["total_amount"], line["weighted_amount"])
            for line in body.get("by_stage") or []
        ]
        want_lines = [
            (line["stage"], line["count"], line["totalAmount"], line["weightedAmount"])
            for line in expected["byStage"]
        ]
        if len(got_lines) != len(want_lines) or not all(
            all(close(a, b) for a, b in zip(g, w, strict=True))
            for g, w in zip(got_lines, want_lines, strict=True)
        ):
            self.fail(where, f"by_stage {got_lines}, expected {want_lines}")
        self.ids(where, body, None)

    def forecasts(self, where: str, body: dict[str, Any]) -> None:
        expected = self.oracle.generated(self.caller, CURRENT) + self.oracle.submitted_forecasts(
            self.caller, CURRENT
        )
        fields = (
            "kind",
            "forecastType",
            "territory",
            "amount",
            "probabilityWeightedAmount",
            "aiPredictedAmount",
            "notes",
            "id",
        )

        # A caller without the territories' scope gets the forecasts without their territory.
        hidden = {"territory"} if not self.caller.has(TYPE_SCOPE["Territory"]) else set()

        def view(item: dict[str, Any], rest: bool) -> tuple[Any, ...]:
            out = []
            for f in fields:
                if f in hidden:
                    continue
                if f == "notes" and item.get("kind") in ("GENERATED", "generated"):
                    continue
                if f == "id" and item.get("kind") in ("GENERATED", "generated"):
                    continue
                if f in ("probabilityWeightedAmount", "aiPredictedAmount") and item.get("kind") in (
                    "SUBMITTED",
                    "submitted",
                ):
                    continue
                if rest:
                    key = (
                        "territory_id"
                        if f == "territory"
                        else re.sub(r"([A-Z])", r"_\1", f).lower()
                    )
                    v = item.get(key)
                    v = v.upper() if f in ("kind", "forecastType") and isinstance(v, str) else v
                else:
                    v = item.get(f)
                out.append((f, round(v, 2) if isinstance(v, float) else v))
            return tuple(out)

        got = Counter(view(item, True) for item in body.get("data") or [])
        want = Counter(view(item, False) for item in expected)
        if got != want:
            self.fail(
                where,
                f"forecasts differ: unexpected {list(got - want)}; missing {list(want - got)}",
            )


REST_CALLERS = list(CALLERS)


def embedded_scope_refusal(caller: Caller, body: dict[str, Any]) -> bool:
    """A 403 naming a scope the caller lacks (not the route's own, which it holds)."""
    details = (body.get("error") or {}).get("details") or {}
    scope = details.get("required_scope")
    return isinstance(scope, str) and not caller.has(scope)


@pytest.mark.parametrize("caller_name", REST_CALLERS)
async def test_rest_get_routes(world: World, openapi: dict[str, Any], caller_name: str) -> None:
    caller = CALLERS[caller_name]
    judge = RestJudge(world, caller, openapi)
    routes = get_routes(openapi)
    assert len(routes) >= MIN_REST_GET_ROUTES, [p for p, _ in routes]
    requests = 0
    refused_for_embedded: list[str] = []
    for path, operation in routes:
        resource = route_resource(openapi, path, operation)
        if (
            resource not in SALES_TYPES
            and resource not in DIRECTORY_TYPES
            and resource not in FINANCE_TYPES
            and resource not in CLIENT_TYPES
        ):
            judge.fail(path, f"resource {resource} unknown to the oracle")
            continue
        params = [p for p in operation.get("parameters", []) if "name" in p]
        path_params = [p["name"] for p in params if p["in"] == "path"]
        required_query = [p["name"] for p in params if p["in"] == "query" and p.get("required")]
        variants: list[tuple[dict[str, str], dict[str, str], str]] = []  # path, query, kind
        query_choices: dict[str, list[str]] = {}
        for name in required_query:
            if name == "period":
                query_choices[name] = [CURRENT.name]
            elif name.endswith("_id"):
                record = id_type_of(world.schema, camel(name), resource)
                assert record in DIRECTORY_TYPES, f"{path}?{name}: {record}"
                table = world.org.users if record == "User" else world.org.territories
                query_choices[name] = [r.id for r in table.values()]
            else:
                raise AssertionError(f"{path}: no value for the query parameter {name}")
        queries = [
            dict(zip(query_choices, values, strict=True))
            for values in itertools.product(*query_choices.values())
        ] or [{}]
        # The id of a path names its resource, but for an endpoint's deliveries (the endpoint).
        named_by_id = "WebhookEndpoint" if path.endswith("/deliveries") else resource
        if "id" in path_params:
            for record_id in (
                representatives(world, caller, named_by_id)
                if caller.user or caller.has(TYPE_SCOPE.get(resource, ""))
                else []
            ):
                variants.append(({"id": record_id}, {}, "visible"))
            invisible = world.org.all_ids().get(named_by_id, set()) - world.oracle.visible_ids(
                caller
            ).get(named_by_id, set())
            for record_id in sorted(invisible):
                variants.append(({"id": record_id}, {}, "invisible"))
        elif "period" in path_params:
            variants += [({"period": CURRENT.name}, q, "list") for q in queries]
        elif path_params:
            raise AssertionError(f"{path}: no value for the path parameters {path_params}")
        else:
            variants += [({}, q, "list") for q in queries]
        random = random_uuid()
        unknown: dict[str, Any] | None = None
        gate = TYPE_SCOPE.get(resource)
        if gate and not caller.has(gate):
            # Refused whatever the record: one request (a visible record if there is one).
            variants = variants[:1] or [({"id": random}, {}, "random")]
        for path_values, query, kind in variants:
            url = path.format(**path_values)
            response = await world.rest(caller_name, "GET", url, params=query)
            requests += 1
            named = {k: world.org.key_of(v) for k, v in {**path_values, **query}.items()}
            where = f"GET {path} {named or ''}"
            if gate and not caller.has(gate):
                if response.status_code != 403:
                    judge.fail(
                        where, f"HTTP {response.status_code} without the scope {gate}, expected 403"
                    )
                continue
            if kind == "invisible":
                if unknown is None:
                    unknown_response = await world.rest(caller_name, "GET", path.format(id=random))
                    requests += 1
                    unknown = unknown_response.json()
                    if unknown_response.status_code != 404:
                        judge.fail(
                            f"GET {path} random",
                            f"HTTP {unknown_response.status_code}, expected 404",
                        )
                if response.status_code != 404:
                    judge.fail(where, f"HTTP {response.status_code}, expected 404 (invisible)")
                body = response.json()
                if not same_answer(body, unknown, path_values["id"], random):
                    judge.fail(
                        where, f"{_short(body)} differs from a random id's {_short(unknown)}"
                    )
                # The id sent itself: test_not_found_answers_do_not_echo_the_id_sent.
                leaked = set(strings_in(body)) & judge.invisible - {path_values["id"]}
                if leaked:
                    judge.fail(where, f"other invisible ids: {world.org.keys(leaked)}")
                continue
            if response.status_code == 403 and embedded_scope_refusal(caller, response.json()):
                # The route embeds a type of a scope the caller lacks (a lead's assignee, a
                # User): the contract says nothing of REST there; noted, not judged.
                refused_for_embedded.append(f"{where}: {response.json()['error']['message']}")
                continue
            if response.status_code != 200:
                judge.fail(where, f"HTTP {response.status_code}: {_short(response.json())}")
                continue
            body = response.json()
            judge.body(where, path, resource, body, query)
            if (
                kind == "visible"
                and named_by_id == resource
                and body.get("id") != path_values["id"]
            ):
                judge.fail(where, f"asked for {path_values['id']}, got {body.get('id')}")
    if refused_for_embedded:
        print(f"{caller_name}: refused for the scope of an embedded type: {refused_for_embedded}")
    COUNTS.setdefault(caller_name, {}).update(
        {"rest_requests": requests, "rest_routes": len(routes)}
    )
    COUNTS[caller_name].update({f"rest {k}": n for k, n in judge.finance.items()})
    print(
        f"{caller_name}: {requests} REST requests over {len(routes)} GET routes, ids checked "
        f"{dict(judge.checked_ids)}, finance judged {dict(sorted(judge.finance.items()))}"
    )
    assert not judge.violations, report(judge.violations, judge.seen)


@pytest.mark.parametrize("caller_name", ["rA1", "mA"])
async def test_not_found_answers_do_not_echo_the_id_sent(
    world: World, openapi: dict[str, Any], caller_name: str
) -> None:
    """No id of an invisible record anywhere in the answer, the id sent included (so a
    random id is not echoed either: the two answers are the same)."""
    caller = CALLERS[caller_name]
    echoed = []
    for root, type_name in singular_roots(world):
        invisible = sorted(
            world.org.all_ids()[type_name] - world.oracle.visible_ids(caller)[type_name]
        )
        if type_name not in SALES_TYPES or not invisible:
            continue
        query = f"query($id: ID!) {{ {root}(id: $id) {{ __typename id }} }}"
        body = (await world.gql(caller_name, query, {"id": invisible[0]})).json()
        if invisible[0] in set(strings_in(body)):
            echoed.append(f"{root}({world.org.key_of(invisible[0])}): {_short(body)}")
    for path, _ in get_routes(openapi):
        resource = resource_type(path)
        if "{id}" not in path or resource not in SALES_TYPES:
            continue
        invisible = sorted(
            world.org.all_ids()[resource] - world.oracle.visible_ids(caller)[resource]
        )
        if invisible:
            response = await world.rest(caller_name, "GET", path.format(id=invisible[0]))
            if invisible[0] in response.text:
                echoed.append(
                    f"GET {path} ({world.org.key_of(invisible[0])}): {response.text[:300]}"
                )
    assert not echoed, "the id sent is in the answer:\n" + "\n".join(echoed)


# ------------------------------------------------------------------ Finance reads' arguments

FINANCE_CALLERS = ["admin", "head", "mB", "mC", "rB1", "partner_commissions:read", "client_rX"]
COMMISSIONS = """query($p: String!, $s: Boolean!, $o: ID) {
  commissions(period: $p, includeSuperseded: $s, ownerId: $o) { id supersededAt } }"""


def fiscal_year(period: Period) -> Period:
    """The fiscal year of a period (it starts in January, as ``org.quarter`` has it)."""
    year = period.start.year
    return Period(
        f"FY{year}", period.start.replace(month=1, day=1), period.end.replace(month=12, day=31)
    )


@pytest.mark.parametrize("caller_name", FINANCE_CALLERS)
async def test_commissions_of_months_years_with_superseded_lines_and_by_owner(
    world: World, caller_name: str
) -> None:
    """What the walk does not pass: a month, a fiscal year and other quarters for ``period``,
    ``includeSuperseded`` and ``ownerId`` (a filter inside what the caller sees), in GraphQL
    and REST, against the oracle's line ids."""
    caller = CALLERS[caller_name]
    org, oracle = world.org, world.oracle
    findings: list[str] = []
    judged = superseded_seen = 0
    periods = [*MONTHS, MONTH_BEFORE, MONTH_AFTER, CURRENT, PREVIOUS, fiscal_year(CURRENT)]
    owners: list[str | None] = [None, *org.users]
    for period, include, owner in itertools.product(periods, (False, True), owners):
        if owner is not None and period != CURRENT:
            continue
        keys = oracle.commissions(caller, period, include_superseded=include)
        if owner is not None:
            keys = {k for k in keys if org.commissions[k].owner == owner}
        expected = {org.commissions[k].id for k in keys}
        owner_id = org.users[owner].id if owner else None
        where = f"{period.name} includeSuperseded={include} owner={owner}"
        body = (
            await world.gql(
                caller_name, COMMISSIONS, {"p": period.name, "s": include, "o": owner_id}
            )
        ).json()
        if body.get("errors"):
            findings.append(f"{where}: {body['errors']}")
            continue
        got = {line["id"] for line in body["data"]["commissions"]}
        if got != expected:
            findings.append(
                f"{where}: extra {org.keys(got - expected)}, missing {org.keys(expected - got)}"
            )
        stale = {line["id"] for line in body["data"]["commissions"] if line["supersededAt"]}
        if not include and stale:
            findings.append(f"{where}: superseded lines {org.keys(stale)}")
        judged += len(got)
        superseded_seen += len(stale)
        params: dict[str, str] = {"include_superseded": str(include).lower()}
        if owner_id:
            params["owner_id"] = owner_id
        response = await world.rest(
            caller_name, "GET", f"/api/v1/commissions/{period.name}", params=params
        )
        if response.status_code != 200:
            findings.append(f"REST {where}: HTTP {response.status_code} {_short(response.json())}")
            continue
        rest = {line["id"] for line in response.json()["data"]}
        if rest != expected:
            findings.append(
                f"REST {where}: extra {org.keys(rest - expected)}, "
                f"missing {org.keys(expected - rest)}"
            )
    assert not findings, report([f"[{caller_name}] {f}" for f in findings])
    assert judged > 0
    sees_superseded = any(org.commissions[k].superseded for k in oracle.commission_keys(caller))
    assert (superseded_seen > 0) == sees_superseded, superseded_seen
    print(
        f"{caller_name}: commission lines judged {judged}, superseded among them {superseded_seen}"
    )


# The report roots, as the test below reads them: query, the fields it selects.
REPORTS = {
    "pipelineReport": (
        """query($p: String!, $o: ID, $t: ID) { pipelineReport(period: $p, ownerId: $o,
          territoryId: $t) { version stage count totalAmount weightedAmount owner { id }
          territory { id } } }""",
        {"version", "stage", "count", "totalAmount", "weightedAmount", "owner", "territory"},
    ),
    "territoryPerformance": (
        """query($p: String!, $t: ID) { territoryPerformance(period: $p, territoryId: $t) {
          version quota closedWon forecast openPipeline attainment coverage territory { id } } }""",
        {"version", "quota", "closedWon", "forecast", "openPipeline", "attainment", "coverage"}
        | {"territory"},
    ),
}


@pytest.mark.parametrize("caller_name", FINANCE_CALLERS)
async def test_reports_of_other_periods_and_by_owner_or_territory(
    world: World, caller_name: str
) -> None:
    """The reports of the previous quarter and of a month (none), and the ownerId and
    territoryId filters (inside what the caller sees), against the oracle's lines."""
    caller = CALLERS[caller_name]
    org = world.org
    findings: list[str] = []
    judged = 0
    filters: list[dict[str, str]] = [
        {},
        *({"ownerId": u.id} for u in org.users.values()),
        *({"territoryId": t.id} for t in org.territories.values()),
    ]
    for root, (query, selected) in REPORTS.items():
        assert world.schema.query_type is not None
        type_name = get_named_type(world.schema.query_type.fields[root].type).name
        for period, chosen in itertools.product((CURRENT, PREVIOUS, MONTHS[0]), filters):
            if "ownerId" in chosen and "ownerId" not in query:
                continue
            variables = {
                "p": period.name,
                "o": chosen.get("ownerId"),
                "t": chosen.get("territoryId"),
            }
            if root == "territoryPerformance":
                variables.pop("o")
            named = {k: org.key_of(v) for k, v in chosen.items()}
            where = f"{root}({period.name}, {named})"
            body = (await world.gql(caller_name, query, variables)).json()
            if not caller.has(TYPE_SCOPE[type_name]):
                codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
                if codes != ["FORBIDDEN"]:
                    findings.append(f"{where}: {codes}, expected FORBIDDEN")
                continue
            if body.get("errors"):
                findings.append(f"{where}: {body['errors']}")
                continue
            got = body["data"][root]
            findings += [
                f"{where}: {finding}"
                for finding in judge_report_lines(
                    world.oracle, caller, type_name, got, selected, chosen, period
                )
            ]
            judged += len(got)
    assert not findings, report([f"[{caller_name}] {f}" for f in findings])
    assert judged > 0 or not caller.has("forecasts:read")
    print(f"{caller_name}: report lines judged {judged}")


async def test_the_seed_holds_the_finance_cases() -> None:
    """The walk judges what the seed holds: these cases must stay in it."""
    org = build_org()
    oracle = Oracle(org)
    current = [c for c in org.commissions.values() if c.month in MONTHS]
    assert {c.month for c in current} == set(MONTHS)
    assert any(c.superseded for c in current)
    assert any(not c.eligible for c in current)
    assert any(not org.users[c.owner].active for c in current)
    assert len({c.owner for c in current}) >= 6
    mc = Caller("mC", "user", "mC", None)
    # A line in a territory whose owner does not see it (commissions follow the owner).
    assert any(c.territory == "TC" and c.key not in oracle.commission_keys(mc) for c in current)
    # A line whose owner does not see its deal any more.
    assert any(
        org.opportunities[c.opportunity].owner != c.owner
        and org.opportunities[c.opportunity].key
        not in oracle.opportunities(Caller(c.owner, "user", c.owner, None))
        for c in current
    )
    assert any(c.month not in MONTHS for c in org.commissions.values())
    for kind, lines in (("pipeline_report", org.pipeline_lines), ("territory", org.performance)):
        report = next(r for r in org.reports.values() if r.period == CURRENT and kind in r.kind)
        assert report.versions >= 2
        assert {x.territory for x in lines.values() if x.report == report.key} >= {"TC", "TD"}
        old = [x for x in lines.values() if x.report == report.key and x.version < report.versions]
        assert old, f"{report.key}: no line of an older version"


async def test_walk_counts_are_above_their_floors() -> None:
    """Runs last in the module: the walk happened for every caller, at full size."""
    print(json.dumps(COUNTS, indent=1, sort_keys=True))
    walked = {name for name, c in COUNTS.items() if c.get("graphql_requests")}
    rest = {name for name, c in COUNTS.items() if c.get("rest_requests")}
    assert walked == set(CALLERS), set(CALLERS) - walked
    assert rest == set(REST_CALLERS), set(REST_CALLERS) - rest
    assert sum(c["rest_routes"] for c in COUNTS.values() if "rest_routes" in c) >= (
        MIN_REST_GET_ROUTES * len(REST_CALLERS)
    )
    # What Finance got was judged whole for every caller who may read it (report lines: with
    # the scopes of the fields naming them, users:read and territories:read), in GraphQL and
    # in REST.
    short: dict[str, list[str]] = {}
    for name, caller in CALLERS.items():
        for type_name in FINANCE_TYPES:
            keys = [TYPE_SCOPE[type_name]]
            if type_name in FINANCE_LINE_TYPES:
                keys += ["users:read", "territories:read"]
            if not all(caller.has(scope) for scope in keys):
                continue
            for api in ("graphql", "rest"):
                if not COUNTS[name].get(f"{api} {type_name} sets"):
                    short.setdefault(name, []).append(f"{api} {type_name}")
    assert not short, f"not judged whole: {short}"
    for type_name, floor in MIN_FINANCE_LINES.items():
        for api in ("graphql", "rest"):
            lines = sum(c.get(f"{api} {type_name} lines", 0) for c in COUNTS.values())
            assert lines >= floor, f"{api} {type_name}: {lines} lines judged, floor {floor}"
