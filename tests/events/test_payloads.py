"""payloads.py on in-memory rows: each builder makes its event type's model, valid against the
event's schema, with the values on the wire as consumers read them. No database, no Kafka."""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from sales_graph.db.models import Quota, WebhookEndpoint
from sales_graph.domain import (
    AssignmentMethod,
    BillingFrequency,
    ForecastType,
    OnboardingPriority,
    OpportunityStage,
    PaymentTerms,
)
from sales_graph.domain.forecasts import ComputedForecast, StageLine
from sales_graph.domain.periods import PERIOD_PATTERN
from sales_graph.events import models as m
from sales_graph.events import payloads
from sales_graph.events.catalog import EVENTS
from sales_graph.events.envelope import envelope
from sales_graph.events.models import EventPayload
from sales_graph.events.schemas import (
    InvalidEvent,
    payload_schemas,
    validate_event,
    validate_payload,
)
from tests.events.samples import NOW, SPEC_FINANCE, Rows


def wire(payload: EventPayload) -> dict[str, Any]:
    """The payload as it goes on the wire (and into the outbox)."""
    return payload.model_dump(mode="json")


def _assigned(r: Rows) -> EventPayload:
    return payloads.lead_assigned(
        r.lead,
        previous_territory_id=None,
        previous_assigned_to=None,
        method="round_robin",
        reason="Matched the rules of territory T1",
    )


def _converted(r: Rows) -> EventPayload:
    r.lead.status, r.lead.converted_at = "converted", NOW
    return payloads.lead_converted(
        r.lead, account_id=r.account.id, contact_id=r.contacts[0].id, opportunity_id=None
    )


def _updated(r: Rows) -> EventPayload:
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


def _stage_changed(r: Rows) -> EventPayload:
    return payloads.stage_changed(
        r.opportunity, previous_stage="proposal", previous_probability=None, notes=None
    )


def _assignment_changed(r: Rows) -> EventPayload:
    return payloads.assignment_changed(
        r.lead,
        previous_territory_id=uuid.uuid4(),
        previous_assigned_to=r.manager.id,
        reason="Key account",
    )


def _onboarding_with_defaults(r: Rows) -> EventPayload:
    row = r.won(amount=None)  # no amount: priority by amount is low
    row.opportunity_metadata = {"special_requirements": "SSO on day one"}
    return payloads.onboarding(row, r.account, r.products[1:], [])


def _forecast(r: Rows, *, lines: bool = True) -> EventPayload:
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


def _report(r: Rows, event_type: str, *, lines: bool = True) -> EventPayload:
    """A report of the Finance sync, as services/finance_reports.py builds it."""
    tid, owner = r.territory.id, r.rep.id
    rows: dict[str, list[Any]] = {
        "report.revenue_forecast": [
            m.RevenueForecastLine(
                territory_id=tid,
                forecast_type=ForecastType.COMMIT,
                amount=350000.0,
                probability_weighted_amount=330000.0,
            )
        ],
        "report.pipeline": [
            m.PipelineReportEntry(
                territory_id=None,
                owner_id=owner,
                stage=OpportunityStage.NEGOTIATION,
                count=1,
                total_amount=200000.0,
                weighted_amount=180000.0,
            )
        ],
        "report.territory_performance": [
            m.TerritoryPerformance(
                territory_id=tid,
                quota=500000.0,
                closed_won=190000.0,
                forecast=390000.0,
                open_pipeline=200000.0,
                attainment=0.38,
                coverage=0.65,
            ),
            m.TerritoryPerformance(
                territory_id=tid,
                quota=None,
                closed_won=0.0,
                forecast=0.0,
                open_pipeline=0.0,
                attainment=None,
                coverage=None,
            ),
        ],
    }
    model = event_type_model(event_type)
    return model(
        report_id=uuid.uuid4(),
        version=2,
        period="Q3_2026" if event_type != "report.revenue_forecast" else "M09_2026",
        generated_at=NOW,
        lines=rows[event_type] if lines else [],
    )


def event_type_model(name: str) -> type[m.ReportPayload]:
    payload = EVENTS[name].payload
    assert issubclass(payload, m.ReportPayload)
    return payload


def _endpoint_disabled(r: Rows) -> EventPayload:
    endpoint = WebhookEndpoint(
        client_id=uuid.uuid4(),
        url="https://partner.example.com/hooks",
        event_types=["lead.created"],
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        enabled=False,
        disabled_at=NOW,
        disabled_reason="15 attempts failed; the last: HTTP 503",
    )
    return payloads.webhook_endpoint_disabled(
        endpoint,
        client_id="sgc_5d1e8a0b9c2f4e77",
        reason="15 attempts failed; the last: HTTP 503",
        delivery_id=42,
        event_id=uuid.uuid4(),
    )


def _attained(quota: Quota) -> Quota:
    quota.attained_at = NOW
    return quota


PAYLOADS: list[tuple[str, str, Callable[[Rows], EventPayload]]] = [
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
    ("report.revenue_forecast", "lines", lambda r: _report(r, "report.revenue_forecast")),
    ("report.pipeline", "lines", lambda r: _report(r, "report.pipeline")),
    ("report.territory_performance", "lines", lambda r: _report(r, "report.territory_performance")),
    (
        "report.territory_performance",
        "empty",
        lambda r: _report(r, "report.territory_performance", lines=False),
    ),
    ("webhook.endpoint_disabled", "after failures", _endpoint_disabled),
]


@pytest.mark.parametrize(
    ("event_type", "builder"),
    [pytest.param(name, build, id=f"{name}-{case}") for name, case, build in PAYLOADS],
)
def test_payloads_from_rows_are_valid(
    event_type: str, builder: Callable[[Rows], EventPayload]
) -> None:
    rows = Rows()
    payload = builder(rows)
    assert type(payload) is EVENTS[event_type].payload
    validate_payload(event_type, wire(payload))
    actor = rows.rep.id
    validate_event(envelope(event_type, payload, correlation_id="req-1", user_id=actor))
    validate_event(envelope(event_type, payload, correlation_id=str(uuid.uuid4()), user_id=None))


def test_payload_cases_cover_the_catalog() -> None:
    assert {name for name, _, _ in PAYLOADS} == set(EVENTS)


def test_forecast_payload_is_the_spec_schema_without_extras() -> None:
    payload = wire(_forecast(Rows()))
    assert list(payload) == list(SPEC_FINANCE["payload"])
    assert "ai_predicted_amount" not in payload


def test_payloads_that_break_their_own_shape_are_rejected() -> None:
    rows = Rows()
    lead = wire(payloads.lead(rows.lead))
    for broken in (lead | {"email": None}, lead | {"status": "hot"}, lead | {"score": 101}):
        with pytest.raises(InvalidEvent):
            validate_payload("lead.created", broken)
    won = wire(payloads.closed(rows.won()))
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.stage"):
        validate_payload("opportunity.lost", won)
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.loss_reason"):
        validate_payload("opportunity.lost", won | {"stage": "closed_lost"})
    changed = wire(_updated(rows))
    with pytest.raises(InvalidEvent, match="'stage' was unexpected"):
        validate_payload(
            "opportunity.updated", changed | {"changes": {"stage": {"from": "a", "to": "b"}}}
        )
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.changes"):
        validate_payload("opportunity.updated", changed | {"changes": {}})
    with pytest.raises(InvalidEvent, match=r"\$\.payload\.previous_amount"):
        validate_payload("quota.set", wire(payloads.quota(rows.quota, previous_amount=Decimal(1))))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        validate_payload("lead.deleted", lead)


# --- the values on the wire ---------------------------------------------------------------------


def test_the_billing_payload_on_the_wire() -> None:
    """Billing reads it field for field: amounts JSON numbers, dates YYYY-MM-DD, ids strings."""
    rows = Rows()
    payload = payloads.closed_won(rows.won(), rows.products, rows.rep)
    expected = {
        "opportunity_id": str(rows.opportunity.id),
        "account_id": str(rows.account.id),
        "amount": 120000.0,
        "contract_term": 12,
        "start_date": "2026-03-01",
        "payment_terms": "net_30",
        "billing_frequency": "monthly",
        "products": [
            {"product_id": "prod_123", "quantity": 100, "unit_price": 1000.0, "discount": 0.1},
            {"product_id": "prod_9", "quantity": 1, "unit_price": 50.0, "discount": 0.0},
        ],
        "owner": {
            "user_id": str(rows.rep.id),
            "name": "Jane Smith",
            "email": "jane.smith@ionoi-inc.com",
        },
    }
    # As text: key order, and 120000.0 rather than 120000.
    assert json.dumps(wire(payload)) == json.dumps(expected)
    products_total = payloads.closed_won(rows.won(amount=None), rows.products, rows.rep)
    assert wire(products_total)["amount"] == 90050.0  # 100 x 1000 x 0.9 + 50


def test_times_and_absent_values_on_the_wire() -> None:
    rows = Rows()
    lead = wire(payloads.lead(rows.lead))
    assert lead["created_at"] == lead["updated_at"] == "2026-02-11T08:00:00.123Z"
    assert lead["annual_revenue"] == 50000000.0
    assert lead["territory_id"] == str(rows.territory.id)
    bare = wire(payloads.lead(rows.bare_lead))
    assert list(bare) == list(lead)  # every field, absent ones null
    assert bare["territory_id"] is bare["annual_revenue"] is bare["score"] is None
    rows.bare_lead.created_at = NOW.replace(microsecond=0, tzinfo=None)  # naive: UTC
    assert wire(payloads.lead(rows.bare_lead))["created_at"] == "2026-02-11T08:00:00Z"


def test_an_update_carries_only_what_changed() -> None:
    rows = Rows()
    changes = wire(_updated(rows))["changes"]
    assert json.dumps(changes) == json.dumps(
        {
            "amount": {"from": 100000.0, "to": 120000.0},
            "expected_close_date": {"from": None, "to": "2026-03-15"},
            "owner_id": {"from": str(rows.manager.id), "to": str(rows.rep.id)},
            "deal_score": {"from": None, "to": 72},
            "products": {"from": None, "to": None},
        }
    )
    renamed = payloads.opportunity_changed(rows.opportunity, {"name": ("Old", "New")})
    assert wire(renamed)["changes"] == {"name": {"from": "Old", "to": "New"}}
    with pytest.raises(ValueError, match="at least one"):
        payloads.opportunity_changed(rows.opportunity, {})


def test_onboarding_takes_only_text_as_special_requirements_from_metadata() -> None:
    rows = Rows()
    row = rows.won()
    row.opportunity_metadata = {"special_requirements": {"sso": True}}
    trigger = wire(payloads.onboarding(row, rows.account, rows.products, rows.contacts))
    assert trigger["special_requirements"] is None
    assert trigger["products"][0]["configuration"] == {
        "data_center": "us-east-1",
        "features": ["sso"],
    }
    assert [c["type"] for c in trigger["contacts"]] == ["primary", "billing"]


# --- one definition of each fact ----------------------------------------------------------------


def test_published_enumerations_are_the_ones_the_services_take() -> None:
    from sales_graph.services import opportunities

    schemas = payload_schemas()
    billing = schemas["opportunity.closed_won"]["properties"]
    assert billing["payment_terms"]["enum"] == list(typing.get_args(PaymentTerms))
    assert billing["billing_frequency"]["enum"] == list(typing.get_args(BillingFrequency))
    priority = schemas["onboarding.trigger"]["properties"]["priority"]
    assert priority["enum"] == list(typing.get_args(OnboardingPriority))
    methods = schemas["lead.assigned"]["properties"]["method"]["enum"]
    assert methods == list(typing.get_args(AssignmentMethod))
    for terms, frequency in zip(
        billing["payment_terms"]["enum"], billing["billing_frequency"]["enum"], strict=False
    ):
        opportunities.StageChange(
            stage=OpportunityStage.CLOSED_WON, payment_terms=terms, billing_frequency=frequency
        )
    with pytest.raises(ValueError, match="payment_terms"):
        opportunities.StageChange.model_validate({"stage": "closed_won", "payment_terms": "net_90"})
    changes = schemas["opportunity.updated"]["properties"]["changes"]["properties"]
    assert list(changes) == [*opportunities._TRACKED, "products"]
    for name in ("quota.set", "quota.updated", "quota.attained", "forecast.updated"):
        assert schemas[name]["properties"]["period"]["pattern"] == PERIOD_PATTERN


async def test_record_takes_the_payload_model_of_its_event_type() -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from sales_graph.events.outbox import record

    lead = payloads.lead(Rows().lead)
    with pytest.raises(TypeError, match=r"lead\.assigned takes a LeadAssigned, not a LeadPayload"):
        await record(
            typing.cast(AsyncSession, None), "lead.assigned", uuid.uuid4(), lead, actor_id=None
        )
