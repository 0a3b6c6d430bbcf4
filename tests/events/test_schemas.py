"""The events' JSON Schemas: schema/events/*.schema.json are generated from the payload models
(``sales_graph.events.schemas``), cover the catalog, accept the spec's own examples and reject
what they should. No database, no Kafka."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from sales_graph.events import export, payloads, schemas
from sales_graph.events.catalog import EVENTS, SOURCE, VERSION
from sales_graph.events.envelope import envelope
from sales_graph.events.schemas import (
    InvalidEvent,
    validate_event,
    validate_inbound_lead_qualified,
)
from tests.events.samples import (
    SPEC_BILLING,
    SPEC_FINANCE,
    SPEC_MARKETING,
    SPEC_OPERATIONS,
    Rows,
    real_ids,
    set_path,
    spec_envelope,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schema"
EVENTS_DIR = SCHEMA / "events"


# --- the files ----------------------------------------------------------------------------------


def test_committed_files_are_the_generated_ones() -> None:
    """Stale? Run `sales-graph export-schema` (it calls export.write_event_contract)."""
    generated = export.contract_files()
    for relative, text in generated.items():
        path = SCHEMA / relative
        assert path.is_file(), f"{relative} is missing: run sales-graph export-schema"
        assert path.read_text(encoding="utf-8") == text, f"{relative} is stale"
    committed = {f"events/{p.name}" for p in EVENTS_DIR.glob("*.json")}
    assert committed == {r for r in generated if r.startswith("events/")}


def test_every_catalog_event_has_a_schema() -> None:
    for name, kind in EVENTS.items():
        schema = json.loads((EVENTS_DIR / f"{name}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == schemas.schema_id(name)
        assert schema["title"] == f"{name} payload"
        assert kind.summary in schema["description"]
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"])
    ids = [schema["$id"] for schema in schemas.schema_files().values()]
    assert len(ids) == len(set(ids))


def test_envelope_schema() -> None:
    schema = json.loads((EVENTS_DIR / "envelope.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    fields = [
        "event_id",
        "event_type",
        "timestamp",
        "source",
        "version",
        "correlation_id",
        "user_id",
        "payload",
    ]
    assert schema["required"] == fields
    assert list(schema["properties"]) == fields
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["event_id"] == {**props["event_id"], "type": "string", "format": "uuid"}
    assert props["timestamp"]["format"] == "date-time"
    assert props["source"]["const"] == SOURCE == "sales-system"
    assert props["version"]["const"] == VERSION == "1.0"
    assert props["correlation_id"]["type"] == "string"
    assert props["user_id"]["type"] == ["string", "null"]
    assert props["user_id"]["format"] == "uuid"
    assert props["payload"]["type"] == "object"
    assert set(props["event_type"]["enum"]) == set(EVENTS)


def test_inbound_schema_allows_unknown_fields_and_is_strict_where_the_spec_is_clear() -> None:
    schema = json.loads((EVENTS_DIR / "marketing.lead.qualified.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is True
    assert schema["required"] == ["event_type", "timestamp", "payload"]
    payload = schema["properties"]["payload"]
    assert payload["additionalProperties"] is True
    assert payload["required"] == ["lead_id", "profile"]
    assert payload["properties"]["lead_id"]["format"] == "uuid"
    assert payload["properties"]["score"] == {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 100,
    }
    profile = payload["properties"]["profile"]
    assert profile["required"] == ["email"]
    assert profile["properties"]["email"]["format"] == "email"


def test_write_event_contract_writes_and_prunes(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    stale = tmp_path / "events" / "lead.vanished.schema.json"
    stale.write_text("{}")
    keep = tmp_path / "events" / "README.md"
    keep.write_text("not ours")
    written = export.write_event_contract(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(export.contract_files())
    assert not stale.exists()
    assert keep.exists()
    assert (tmp_path / "asyncapi.yaml").read_text() == (SCHEMA / "asyncapi.yaml").read_text()


def test_a_models_schema_is_tidied() -> None:
    """schemas.json_schema: nested models inlined, optional values as type arrays, no
    generated titles or defaults, one-line descriptions, keywords in one order."""

    class Inner(BaseModel):
        """Nested."""

        code: Literal["a", "b"] | None

    class Sample(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        inner: Inner
        """A nested model,
        described on two lines."""
        count: Annotated[int, Field(ge=0)] | None = None

    schema = schemas.json_schema(Sample)
    assert schema == {
        "type": "object",
        "properties": {
            "inner": {
                "description": "A nested model, described on two lines.",
                "type": "object",
                "properties": {"code": {"type": ["string", "null"], "enum": ["a", "b", None]}},
                "required": ["code"],
            },
            "count": {"type": ["integer", "null"], "minimum": 0},
        },
        "required": ["inner"],
        "additionalProperties": False,
    }
    assert list(schema) == ["type", "properties", "required", "additionalProperties"]
    assert list(schema["properties"]["inner"]) == ["description", "type", "properties", "required"]


# --- the spec's own examples --------------------------------------------------------------------


@pytest.mark.parametrize(
    "example", [SPEC_BILLING, SPEC_FINANCE, SPEC_OPERATIONS], ids=lambda e: e["event_type"]
)
def test_spec_examples_validate(example: dict[str, Any]) -> None:
    validate_event(spec_envelope(example))


def test_spec_marketing_example_validates() -> None:
    message = real_ids(SPEC_MARKETING)
    validate_inbound_lead_qualified(message)
    validate_inbound_lead_qualified({**message, "event_id": "mkt-evt-000123"})


def test_inbound_tolerates_unknown_fields_and_missing_optional_ones() -> None:
    message = real_ids(copy.deepcopy(SPEC_MARKETING))
    message["trace"] = {"span": "x"}
    message["payload"]["lifecycle_stage"] = "mql"
    message["payload"]["profile"]["linkedin"] = "https://example.com/in/jd"
    message["payload"]["firmographic"]["country"] = "US"
    message["payload"]["attribution"]["channel_weights"] = {"webinar": 0.6}
    validate_inbound_lead_qualified(message)
    minimal: dict[str, Any] = {
        "event_type": "lead.qualified",
        "timestamp": "2026-02-11T08:00:00+01:00",
        "payload": {"lead_id": str(uuid.uuid4()), "profile": {"email": "a@acme.com"}},
    }
    validate_inbound_lead_qualified(minimal)
    minimal["payload"] |= {"score": None, "firmographic": None, "attribution": None}
    validate_inbound_lead_qualified(minimal)


# --- rejections ---------------------------------------------------------------------------------


def _valid_closed_won() -> dict[str, Any]:
    rows = Rows()
    return envelope(
        "opportunity.closed_won",
        payloads.closed_won(rows.won(), rows.products, rows.rep),
        correlation_id="c-1",
        user_id=rows.rep.id,
    )


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


ENVELOPE_BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("no event_id", lambda e: _without(e, "event_id"), "'event_id' is a required property"),
    ("event_id not uuid", lambda e: e | {"event_id": "evt-1"}, "$.event_id"),
    ("unknown type", lambda e: e | {"event_type": "lead.deleted"}, "$.event_type"),
    ("other source", lambda e: e | {"source": "billing"}, "$.source"),
    ("other version", lambda e: e | {"version": "2.0"}, "$.version"),
    ("number version", lambda e: e | {"version": 1.0}, "$.version"),
    ("not rfc 3339", lambda e: e | {"timestamp": "2026-02-11 08:00:00"}, "$.timestamp"),
    ("no zone", lambda e: e | {"timestamp": "2026-02-11T08:00:00"}, "$.timestamp"),
    ("no such day", lambda e: e | {"timestamp": "2026-02-30T08:00:00Z"}, "$.timestamp"),
    ("user not uuid", lambda e: e | {"user_id": "jane"}, "$.user_id"),
    ("no user_id", lambda e: _without(e, "user_id"), "'user_id' is a required property"),
    ("extra field", lambda e: e | {"tenant": "x"}, "'tenant' was unexpected"),
    ("payload list", lambda e: e | {"payload": []}, "$.payload"),
    ("correlation null", lambda e: e | {"correlation_id": None}, "$.correlation_id"),
]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [pytest.param(b, x, id=i) for i, b, x in ENVELOPE_BREAKAGES],
)
def test_invalid_envelopes_are_rejected(
    breakage: Callable[[dict[str, Any]], dict[str, Any]], expected: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        validate_event(breakage(_valid_closed_won()))
    assert expected in str(caught.value)
    assert caught.value.problems


PAYLOAD_BREAKAGES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("amount as string", "amount", set_path("amount", "120000.00"), "$.payload.amount"),
    ("negative amount", "amount", set_path("amount", -1), "$.payload.amount"),
    ("no amount", "amount", set_path("amount", None, delete=True), "'amount' is a required"),
    ("null term", "term", set_path("contract_term", None), "$.payload.contract_term"),
    ("bad date", "date", set_path("start_date", "03/01/2026"), "$.payload.start_date"),
    ("date-time as date", "date", set_path("start_date", "2026-03-01T00:00:00Z"), "start_date"),
    ("payment terms", "enum", set_path("payment_terms", "net_90"), "$.payload.payment_terms"),
    ("no products", "products", set_path("products", []), "$.payload.products"),
    (
        "quantity 0",
        "products",
        set_path("products.0.quantity", 0),
        "$.payload.products[0].quantity",
    ),
    ("discount 110%", "products", set_path("products.0.discount", 1.1), "products[0].discount"),
    ("owner email", "owner", set_path("owner.email", "jane"), "$.payload.owner.email"),
    ("owner id", "owner", set_path("owner.user_id", "u-1"), "$.payload.owner.user_id"),
    ("unknown field", "extra", set_path("currency", "USD"), "'currency' was unexpected"),
    ("bool as int", "types", set_path("contract_term", True), "$.payload.contract_term"),
]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [pytest.param(b, x, id=i) for i, _, b, x in PAYLOAD_BREAKAGES],
)
def test_invalid_billing_payloads_are_rejected(
    breakage: Callable[[dict[str, Any]], None], expected: str
) -> None:
    event = copy.deepcopy(_valid_closed_won())
    breakage(event["payload"])
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert expected in str(caught.value)
    assert caught.value.event_type == "opportunity.closed_won"


@pytest.mark.parametrize(
    ("example", "path", "value", "expected"),
    [
        (SPEC_FINANCE, "period", "2026-Q1", "$.payload.period"),
        (SPEC_FINANCE, "period", "Q5_2026", "$.payload.period"),
        (SPEC_FINANCE, "forecast_type", "omitted", "$.payload.forecast_type"),
        (SPEC_FINANCE, "breakdown.0.stage", "won", "$.payload.breakdown[0].stage"),
        (SPEC_FINANCE, "breakdown.0.count", 1.5, "$.payload.breakdown[0].count"),
        (SPEC_FINANCE, "territory_id", None, "$.payload.territory_id"),
        (SPEC_FINANCE, "ai_predicted_amount", 1.0, "'ai_predicted_amount' was unexpected"),
        (SPEC_OPERATIONS, "priority", "urgent", "$.payload.priority"),
        (SPEC_OPERATIONS, "contacts.0.email", "nobody", "$.payload.contacts[0].email"),
        (SPEC_OPERATIONS, "products.0.configuration", [], "products[0].configuration"),
        (SPEC_OPERATIONS, "contract_start_date", None, "$.payload.contract_start_date"),
    ],
)
def test_invalid_spec_examples_are_rejected(
    example: dict[str, Any], path: str, value: Any, expected: str
) -> None:
    event = spec_envelope(example)
    set_path(path, value)(event["payload"])
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("payload.lead_id", None, "$.payload.lead_id"),
        ("payload.lead_id", "uuid", "$.payload.lead_id"),
        ("payload.lead_id", "12345", "$.payload.lead_id"),
        ("payload.score", 101, "$.payload.score"),
        ("payload.score", -1, "$.payload.score"),
        ("payload.score", 85.5, "$.payload.score"),
        ("payload.score", "85", "$.payload.score"),
        ("payload.profile.email", "john.doe", "$.payload.profile.email"),
        ("payload.profile.email", None, "$.payload.profile.email"),
        ("payload.profile.email", "a" * 250 + "@x.io", "$.payload.profile.email"),
        ("payload.firmographic.employee_count", -5, "employee_count"),
        ("payload.firmographic.annual_revenue", 10**14, "annual_revenue"),
        ("payload.attribution.touches", "webinar", "$.payload.attribution.touches"),
        ("payload.profile", None, "$.payload.profile"),
        ("event_type", "lead.created", "$.event_type"),
        ("timestamp", "yesterday", "$.timestamp"),
        ("event_id", "", "$.event_id"),
    ],
)
def test_invalid_inbound_messages_are_rejected(path: str, value: Any, expected: str) -> None:
    message = real_ids(copy.deepcopy(SPEC_MARKETING))
    set_path(path, value)(message)
    with pytest.raises(InvalidEvent) as caught:
        validate_inbound_lead_qualified(message)
    assert expected in str(caught.value)


@pytest.mark.parametrize("missing", ["payload.lead_id", "payload.profile.email", "timestamp"])
def test_inbound_required_fields(missing: str) -> None:
    message = real_ids(copy.deepcopy(SPEC_MARKETING))
    set_path(missing, None, delete=True)(message)
    with pytest.raises(InvalidEvent, match="is a required property"):
        validate_inbound_lead_qualified(message)


def test_error_lists_every_problem_with_its_path() -> None:
    message = real_ids(copy.deepcopy(SPEC_MARKETING))
    message["payload"]["score"] = 500
    message["payload"]["profile"]["email"] = "nope"
    message["timestamp"] = "soon"
    with pytest.raises(InvalidEvent) as caught:
        validate_inbound_lead_qualified(message)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "$.payload.profile.email",
        "$.payload.score",
        "$.timestamp",
    ]
    assert str(caught.value).startswith("invalid marketing lead.qualified event: ")
    assert isinstance(caught.value, ValueError)
