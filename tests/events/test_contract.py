"""The event contract: schema/events/*.schema.json and schema/asyncapi.yaml are generated from
``sales_graph.events.contract``, cover the catalog, accept what payloads.py produces and the
spec's own examples, and reject what they should. No database, no Kafka."""

from __future__ import annotations

import copy
import json
import typing
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with schemathesis
from jsonschema import Draft202012Validator

from sales_graph.db.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
    OpportunityProduct,
    Quota,
    Territory,
    TerritoryRule,
    User,
)
from sales_graph.domain import ForecastType, OpportunityStage
from sales_graph.domain.forecasts import ComputedForecast, StageLine
from sales_graph.events import contract, payloads
from sales_graph.events.catalog import EVENTS, SOURCE, VERSION
from sales_graph.events.contract import (
    InvalidEvent,
    validate_event,
    validate_inbound_lead_qualified,
    validate_payload,
)
from sales_graph.events.envelope import envelope
from sales_graph.settings import TopicSettings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schema"
EVENTS_DIR = SCHEMA / "events"


def _committed_asyncapi() -> dict[str, Any]:
    document = yaml.safe_load((SCHEMA / "asyncapi.yaml").read_text())
    assert isinstance(document, dict)
    return document


# --- the files ----------------------------------------------------------------------------------


def test_committed_files_are_the_generated_ones() -> None:
    """Stale? Run `sales-graph export-schema` (it calls contract.write_event_contract)."""
    generated = contract.contract_files()
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
        assert schema["$id"] == contract.schema_id(name)
        assert schema["title"] == f"{name} payload"
        assert kind.summary in schema["description"]
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"])
    ids = [contract.schema_files()[f]["$id"] for f in contract.schema_files()]
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
    written = contract.write_event_contract(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(contract.contract_files())
    assert not stale.exists()
    assert keep.exists()
    assert (tmp_path / "asyncapi.yaml").read_text() == (SCHEMA / "asyncapi.yaml").read_text()


# --- AsyncAPI -----------------------------------------------------------------------------------


def test_asyncapi_lists_every_event_and_topic() -> None:
    document = _committed_asyncapi()
    assert document == contract.asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "sales-graph events"
    assert document["servers"]["kafka"]["protocol"] == "kafka"
    assert "SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS" in document["servers"]["kafka"]["description"]
    channels = document["channels"]
    topics = TopicSettings().model_dump()
    addresses = {c["address"] for c in channels.values()}
    assert addresses == set(topics.values()) | {f"{t}.dlq" for t in topics.values()}
    messages = document["components"]["messages"]
    for name, kind in EVENTS.items():
        channel = channels[kind.topic]
        assert channel["address"] == topics[kind.topic]
        assert channel["messages"][name] == {"$ref": f"#/components/messages/{name}"}
        message = messages[name]
        assert message["name"] == name
        assert message["headers"]["required"] == ["event_id", "event_type", "correlation_id"]
        assert message["headers"]["properties"]["event_type"]["const"] == name
        assert "key" in message["bindings"]["kafka"]
        envelope_ref, specific = message["payload"]["allOf"]
        assert envelope_ref == {"$ref": "#/components/schemas/envelope"}
        assert specific["properties"]["payload"] == {"$ref": f"#/components/schemas/{name}"}
        operation = document["operations"][f"publish_{kind.topic}"]
        assert operation["action"] == "send"
        assert {"$ref": f"#/channels/{kind.topic}/messages/{name}"} in operation["messages"]
    inbound = document["operations"]["receive_marketing_leads"]
    assert inbound["action"] == "receive"
    assert inbound["channel"] == {"$ref": "#/channels/marketing_leads"}
    assert channels["marketing_leads"]["address"] == "marketing.leads"
    assert "publish_marketing_leads" not in document["operations"]
    assert messages["dead_letter"]["headers"]["required"] == list(contract.DEAD_LETTER_HEADERS)


def test_asyncapi_references_resolve() -> None:
    document = _committed_asyncapi()

    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            refs = [node["$ref"]] if "$ref" in node else []
            return refs + [r for value in node.values() for r in walk(value)]
        if isinstance(node, list):
            return [r for item in node for r in walk(item)]
        return []

    refs = walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/")
        node: Any = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(node, dict), ref


def test_yaml_writer_round_trips_awkward_values() -> None:
    document = {
        "plain": "sales.leads",
        "words": ["yes", "No", "null", "~", "on", "", " padded ", "1.0", "3.0.0", "0x10"],
        "colon": "a: b",
        "hash": "x #y",
        "quote": 'it\'s "quoted"\nnewline\ttab',
        "unicode": "Zürich, 東京 — ok",
        "dollar": {"$ref": "#/components/schemas/x"},
        "numbers": [0, -1, 1.5, 120000.0, 1e20, True, False, None],
        "empty": {"list": [], "map": {}},
        "nested": [[1, [2]], {"a": [{"b": {}}]}],
        "*star": "&anchor",
        "-dash": "- item",
    }
    assert yaml.safe_load(contract.to_yaml(document)) == document


def test_consumed_topics_are_the_worker_subscriptions() -> None:
    from sales_graph.worker.launch import subscriptions

    assert {s.topic: s.name for s in subscriptions()} == contract.CONSUMED_TOPICS
    assert set(contract.CONSUMER_PURPOSES) == set(contract.CONSUMED_TOPICS.values())


def test_enumerations_agree_with_the_services() -> None:
    from sales_graph.domain import periods
    from sales_graph.services import opportunities

    fields = opportunities.StageChange.model_fields

    def literal(name: str) -> tuple[str, ...]:
        (values,) = (a for a in typing.get_args(fields[name].annotation) if a is not type(None))
        return typing.get_args(values)

    assert literal("payment_terms") == contract.PAYMENT_TERMS
    assert literal("billing_frequency") == contract.BILLING_FREQUENCIES
    assert literal("onboarding_priority") == contract.PRIORITIES
    assert periods._PATTERN.pattern == contract.PERIOD_PATTERN
    assert (*opportunities._TRACKED, "products") == contract.TRACKED_CHANGES


# --- the spec's own examples --------------------------------------------------------------------


def _real_ids(value: Any) -> Any:
    """The spec writes "uuid" where an id goes: a real one instead."""
    if value == "uuid":
        return str(uuid.uuid4())
    if isinstance(value, dict):
        return {k: _real_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_real_ids(v) for v in value]
    return value


def _spec_envelope(example: dict[str, Any]) -> dict[str, Any]:
    """A spec example (event_type, timestamp, payload) in the full envelope of the spec."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": example["event_type"],
        "timestamp": example["timestamp"],
        "source": "sales-system",
        "version": "1.0",
        "correlation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "payload": _real_ids(example["payload"]),
    }


# Copied from the spec (System Dependencies: Billing, Finance, Operations, Marketing).
SPEC_BILLING = {
    "event_type": "opportunity.closed_won",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "opportunity_id": "uuid",
        "account_id": "uuid",
        "amount": 120000.00,
        "contract_term": 12,
        "start_date": "2026-03-01",
        "payment_terms": "net_30",
        "billing_frequency": "monthly",
        "products": [
            {"product_id": "prod_123", "quantity": 100, "unit_price": 100.00, "discount": 0.10}
        ],
        "owner": {"user_id": "uuid", "name": "Jane Smith", "email": "jane.smith@ionoi-inc.com"},
    },
}
SPEC_FINANCE = {
    "event_type": "forecast.updated",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "period": "Q1_2026",
        "territory_id": "uuid",
        "forecast_type": "commit",
        "amount": 5000000.00,
        "probability_weighted_amount": 4250000.00,
        "breakdown": [
            {
                "stage": "negotiation",
                "count": 15,
                "total_amount": 2000000.00,
                "weighted_amount": 1800000.00,
            }
        ],
        "generated_at": "2026-02-11T08:00:00Z",
    },
}
SPEC_OPERATIONS = {
    "event_type": "onboarding.trigger",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "opportunity_id": "uuid",
        "account_id": "uuid",
        "account_name": "Acme Corp",
        "contract_start_date": "2026-03-01",
        "products": [
            {
                "product_id": "prod_123",
                "product_name": "Enterprise Plan",
                "quantity": 100,
                "configuration": {
                    "data_center": "us-east-1",
                    "features": ["sso", "advanced_analytics", "api_access"],
                },
            }
        ],
        "contacts": [
            {
                "type": "primary",
                "name": "John Doe",
                "email": "john.doe@acme.com",
                "phone": "+1-555-0100",
            }
        ],
        "special_requirements": "Requires custom integration with Salesforce",
        "priority": "high",
    },
}
SPEC_MARKETING = {
    "event_type": "lead.qualified",
    "timestamp": "2026-02-11T08:00:00Z",
    "payload": {
        "lead_id": "uuid",
        "source": "webinar",
        "score": 85,
        "campaign_id": "uuid",
        "attribution": {
            "first_touch": "paid_search",
            "last_touch": "webinar",
            "touches": ["paid_search", "email", "webinar"],
        },
        "profile": {
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "company": "Acme Corp",
            "title": "VP Engineering",
            "phone": "+1-555-0100",
        },
        "firmographic": {
            "industry": "Technology",
            "employee_count": 500,
            "annual_revenue": 50000000,
        },
    },
}


@pytest.mark.parametrize(
    "example", [SPEC_BILLING, SPEC_FINANCE, SPEC_OPERATIONS], ids=lambda e: e["event_type"]
)
def test_spec_examples_validate(example: dict[str, Any]) -> None:
    validate_event(_spec_envelope(example))


def test_spec_marketing_example_validates() -> None:
    message = _real_ids(SPEC_MARKETING)
    validate_inbound_lead_qualified(message)
    validate_inbound_lead_qualified({**message, "event_id": "mkt-evt-000123"})


def test_inbound_tolerates_unknown_fields_and_missing_optional_ones() -> None:
    message = _real_ids(copy.deepcopy(SPEC_MARKETING))
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


# --- payloads.py on in-memory rows --------------------------------------------------------------

NOW = datetime(2026, 2, 11, 8, 0, 0, 123000, tzinfo=UTC)


class Rows:
    def __init__(self) -> None:
        self.manager = User(email="m1@ionoi-inc.com", name="Mia Manager", role="sales_manager")
        self.rep = User(
            email="jane.smith@ionoi-inc.com",
            name="Jane Smith",
            role="sales_rep",
            manager_id=self.manager.id,
        )
        self.territory = Territory(
            name="T1 United States", description=None, owner_id=self.manager.id, version=3
        )
        self.rules = [
            TerritoryRule(
                territory_id=self.territory.id,
                position=1,
                industry="Technology",
                employee_count_min=100,
                annual_revenue_min=Decimal("1000000.00"),
            ),
            TerritoryRule(territory_id=self.territory.id, position=0, country="US"),
        ]
        self.account = Account(name="Acme Corp", name_normalized="acme corp")
        self.contacts = [
            Contact(
                account_id=self.account.id,
                first_name="John",
                last_name="Doe",
                email="john.doe@acme.com",
                phone="+1-555-0100",
                is_primary=True,
            ),
            Contact(account_id=self.account.id, contact_type="billing", email=None),
        ]
        self.lead = Lead(
            email="John.Doe@acme.com",
            email_normalized="john.doe@acme.com",
            first_name="John",
            last_name="Doe",
            company="Acme Corp",
            industry="Technology",
            employee_count=500,
            annual_revenue=Decimal("50000000.00"),
            source="webinar",
            score=85,
            campaign_id="cmp-42",
            status="qualified",
            territory_id=self.territory.id,
            assigned_to_id=self.rep.id,
            assigned_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        self.bare_lead = Lead(email="x@y.io", email_normalized="x@y.io")
        self.opportunity = Opportunity(
            name="Acme - Enterprise",
            account_id=self.account.id,
            lead_id=self.lead.id,
            stage="negotiation",
            probability=90,
            forecast_category="commit",
            amount=Decimal("120000.00"),
            expected_close_date=date(2026, 3, 15),
            owner_id=self.rep.id,
            territory_id=self.territory.id,
            deal_score=72,
            version=4,
            stage_changed_at=NOW,
        )
        self.bare_opportunity = Opportunity(
            name="Bare",
            account_id=self.account.id,
            stage="discovery",
            forecast_category="pipeline",
            owner_id=self.rep.id,
        )
        self.products = [
            OpportunityProduct(
                opportunity_id=self.opportunity.id,
                product_id="prod_123",
                product_name="Enterprise Plan",
                quantity=100,
                unit_price=Decimal("1000.00"),
                discount=Decimal("0.1000"),
                configuration={"data_center": "us-east-1", "features": ["sso"]},
            ),
            OpportunityProduct(
                opportunity_id=self.opportunity.id,
                product_id="prod_9",
                quantity=1,
                unit_price=Decimal("50.00"),
            ),
        ]
        self.quota = Quota(period="Q1_2026", user_id=self.rep.id, amount=Decimal("500000.00"))

    def won(self, *, amount: Decimal | None = Decimal("120000.00")) -> Opportunity:
        row = self.opportunity
        row.stage, row.probability, row.forecast_category = "closed_won", 100, "closed"
        row.amount = amount
        row.closed_at = NOW
        row.contract_term, row.start_date = 12, date(2026, 3, 1)
        row.payment_terms, row.billing_frequency = "net_30", "monthly"
        return row

    def lost(self) -> Opportunity:
        row = self.opportunity
        row.stage, row.probability, row.forecast_category = "closed_lost", 0, "omitted"
        row.closed_at, row.loss_reason = NOW, "Went with a competitor"
        return row


def _assigned(r: Rows) -> dict[str, Any]:
    return payloads.lead_assigned(
        r.lead,
        previous_territory_id=None,
        previous_assigned_to=None,
        method="round_robin",
        reason="Matched the rules of territory T1",
    )


def _converted(r: Rows) -> dict[str, Any]:
    r.lead.status, r.lead.converted_at = "converted", NOW
    return payloads.lead_converted(
        r.lead, account_id=r.account.id, contact_id=r.contacts[0].id, opportunity_id=None
    )


def _updated(r: Rows) -> dict[str, Any]:
    return payloads.opportunity_changed(
        r.opportunity,
        {
            "amount": (100000.0, 120000.0),
            "expected_close_date": (None, "2026-03-15"),
            "owner_id": (str(r.manager.id), str(r.rep.id)),
            "deal_score": (None, 72),
            "products": (None, None),
        },
    )


def _stage_changed(r: Rows) -> dict[str, Any]:
    return payloads.stage_changed(
        r.opportunity, previous_stage="proposal", previous_probability=None, notes=None
    )


def _assignment_changed(r: Rows) -> dict[str, Any]:
    return payloads.assignment_changed(
        r.lead,
        previous_territory_id=uuid.uuid4(),
        previous_assigned_to=r.manager.id,
        reason="Key account",
    )


def _onboarding_with_defaults(r: Rows) -> dict[str, Any]:
    row = r.won(amount=None)  # no amount: priority by amount is low
    row.opportunity_metadata = {"special_requirements": "SSO on day one"}
    return payloads.onboarding(row, r.account, r.products[1:], [])


def _forecast(r: Rows, *, lines: bool = True) -> dict[str, Any]:
    breakdown = [
        StageLine(OpportunityStage.PROPOSAL, 3, Decimal("300000.00"), 60, Decimal("180000.00")),
        StageLine(OpportunityStage.NEGOTIATION, 2, Decimal("250000.00"), 90, Decimal("225000.00")),
        StageLine(OpportunityStage.CLOSED_WON, 1, Decimal("120000.00"), 100, Decimal("120000.00")),
    ]
    return payloads.forecast_updated(
        ComputedForecast(
            period="Q1_2026",
            territory_id=r.territory.id,
            forecast_type=ForecastType.BEST_CASE,
            amount=Decimal("670000.00") if lines else Decimal(0),
            probability_weighted_amount=Decimal("525000.00") if lines else Decimal(0),
            ai_predicted_amount=Decimal("498765.43"),
            breakdown=breakdown if lines else [],
            generated_at=NOW,
        )
    )


def _attained(quota: Quota) -> Quota:
    quota.attained_at = NOW
    return quota


PAYLOADS: list[tuple[str, str, Callable[[Rows], dict[str, Any]]]] = [
    ("lead.created", "full", lambda r: payloads.lead(r.lead)),
    ("lead.created", "bare", lambda r: payloads.lead(r.bare_lead)),
    ("lead.qualified", "full", lambda r: payloads.lead(r.lead)),
    ("lead.assigned", "round_robin", _assigned),
    ("lead.converted", "no opportunity", _converted),
    ("opportunity.created", "full", lambda r: payloads.opportunity(r.opportunity)),
    ("opportunity.created", "bare", lambda r: payloads.opportunity(r.bare_opportunity)),
    ("opportunity.updated", "changes", _updated),
    ("opportunity.stage_changed", "to negotiation", _stage_changed),
    ("opportunity.won", "won", lambda r: payloads.closed(r.won())),
    ("opportunity.lost", "lost", lambda r: payloads.closed(r.lost())),
    (
        "territory.created",
        "no members",
        lambda r: payloads.territory(r.territory, [], []),
    ),
    (
        "territory.updated",
        "members and rules",
        lambda r: payloads.territory(r.territory, [r.rep.id, r.manager.id], r.rules),
    ),
    ("territory.assignment_changed", "manual", _assignment_changed),
    ("quota.set", "new", lambda r: payloads.quota(r.quota)),
    (
        "quota.updated",
        "raised",
        lambda r: payloads.quota(r.quota, previous_amount=Decimal("400000.00")),
    ),
    (
        "quota.attained",
        "reached",
        lambda r: payloads.quota_attained(_attained(r.quota), attained_amount=Decimal("512345.67")),
    ),
    (
        "opportunity.closed_won",
        "amount",
        lambda r: payloads.closed_won(r.won(), r.products, r.rep),
    ),
    (
        "opportunity.closed_won",
        "amount from products",
        lambda r: payloads.closed_won(r.won(amount=None), r.products, r.rep),
    ),
    (
        "onboarding.trigger",
        "contacts",
        lambda r: payloads.onboarding(r.won(), r.account, r.products, r.contacts),
    ),
    ("onboarding.trigger", "defaults", _onboarding_with_defaults),
    ("forecast.updated", "best case", _forecast),
    ("forecast.updated", "empty", lambda r: _forecast(r, lines=False)),
]


@pytest.mark.parametrize(
    ("event_type", "builder"),
    [pytest.param(name, build, id=f"{name}-{case}") for name, case, build in PAYLOADS],
)
def test_payloads_from_rows_are_valid(
    event_type: str, builder: Callable[[Rows], dict[str, Any]]
) -> None:
    rows = Rows()
    payload = builder(rows)
    validate_payload(event_type, payload)
    actor = str(rows.rep.id)
    validate_event(envelope(event_type, payload, correlation_id="req-1", user_id=actor))
    validate_event(envelope(event_type, payload, correlation_id=str(uuid.uuid4()), user_id=None))


def test_payload_cases_cover_the_catalog() -> None:
    assert {name for name, _, _ in PAYLOADS} == set(EVENTS)


def test_forecast_payload_is_the_spec_schema_without_extras() -> None:
    payload = _forecast(Rows())
    assert list(payload) == list(SPEC_FINANCE["payload"])
    assert "ai_predicted_amount" not in payload


# --- rejections ---------------------------------------------------------------------------------


def _valid_closed_won() -> dict[str, Any]:
    rows = Rows()
    return envelope(
        "opportunity.closed_won",
        payloads.closed_won(rows.won(), rows.products, rows.rep),
        correlation_id="c-1",
        user_id=str(rows.rep.id),
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


def _set(path: str, value: Any, *, delete: bool = False) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if delete:
            del node[last]
        else:
            node[last] = value

    return apply


PAYLOAD_BREAKAGES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("amount as string", "amount", _set("amount", "120000.00"), "$.payload.amount"),
    ("negative amount", "amount", _set("amount", -1), "$.payload.amount"),
    ("no amount", "amount", _set("amount", None, delete=True), "'amount' is a required"),
    ("null term", "term", _set("contract_term", None), "$.payload.contract_term"),
    ("bad date", "date", _set("start_date", "03/01/2026"), "$.payload.start_date"),
    ("date-time as date", "date", _set("start_date", "2026-03-01T00:00:00Z"), "start_date"),
    ("payment terms", "enum", _set("payment_terms", "net_90"), "$.payload.payment_terms"),
    ("no products", "products", _set("products", []), "$.payload.products"),
    ("quantity 0", "products", _set("products.0.quantity", 0), "$.payload.products[0].quantity"),
    ("discount 110%", "products", _set("products.0.discount", 1.1), "products[0].discount"),
    ("owner email", "owner", _set("owner.email", "jane"), "$.payload.owner.email"),
    ("owner id", "owner", _set("owner.user_id", "u-1"), "$.payload.owner.user_id"),
    ("unknown field", "extra", _set("currency", "USD"), "'currency' was unexpected"),
    ("bool as int", "types", _set("contract_term", True), "$.payload.contract_term"),
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
    event = _spec_envelope(example)
    _set(path, value)(event["payload"])
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert expected in str(caught.value)


def test_payloads_that_break_their_own_shape_are_rejected() -> None:
    rows = Rows()
    lead = payloads.lead(rows.lead)
    for broken in (lead | {"email": None}, lead | {"status": "hot"}, lead | {"score": 101}):
        with pytest.raises(InvalidEvent):
            validate_payload("lead.created", broken)
    won = payloads.closed(rows.won())
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.stage"):
        validate_payload("opportunity.lost", won)
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.loss_reason"):
        validate_payload("opportunity.lost", won | {"stage": "closed_lost"})
    changed = _updated(rows)
    with pytest.raises(InvalidEvent, match="'stage' was unexpected"):
        validate_payload(
            "opportunity.updated", changed | {"changes": {"stage": {"from": "a", "to": "b"}}}
        )
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.changes"):
        validate_payload("opportunity.updated", changed | {"changes": {}})
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.previous_amount"):
        validate_payload("quota.set", payloads.quota(rows.quota, previous_amount=Decimal(1)))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        validate_payload("lead.deleted", lead)


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
    message = _real_ids(copy.deepcopy(SPEC_MARKETING))
    _set(path, value)(message)
    with pytest.raises(InvalidEvent) as caught:
        validate_inbound_lead_qualified(message)
    assert expected in str(caught.value)


@pytest.mark.parametrize("missing", ["payload.lead_id", "payload.profile.email", "timestamp"])
def test_inbound_required_fields(missing: str) -> None:
    message = _real_ids(copy.deepcopy(SPEC_MARKETING))
    _set(missing, None, delete=True)(message)
    with pytest.raises(InvalidEvent, match="is a required property"):
        validate_inbound_lead_qualified(message)


def test_error_lists_every_problem_with_its_path() -> None:
    message = _real_ids(copy.deepcopy(SPEC_MARKETING))
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
