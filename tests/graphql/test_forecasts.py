"""Pipeline, forecasts and quotas against numbers computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sales_graph.db.models import Account, Opportunity
from sales_graph.domain import OpportunityStage
from sales_graph.services.stages import STAGES
from tests.graphql.conftest import Gateway

# r1's deals in T1. Open ones closing in Q1_2026 add up to a pipeline of 8,500,000.
DEALS = [
    ("discovery", 1_000_000, date(2026, 1, 15)),  # weighted 200,000
    ("qualification", 2_000_000, date(2026, 2, 1)),  # 800,000
    ("proposal", 2_500_000, date(2026, 3, 1)),  # 1,500,000
    ("negotiation", 3_000_000, date(2026, 3, 31)),  # 2,700,000
    ("closed_won", 1_500_000, date(2026, 2, 20)),
    ("closed_lost", 700_000, date(2026, 2, 21)),
    ("discovery", 999_999, date(2026, 4, 1)),  # Q2: outside the period
]


@pytest.fixture
async def deals(gateway: Gateway) -> None:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        account = Account(
            name="Big Co", name_normalized="big co", owner_id=org.r1.id, territory_id=org.t1.id
        )
        session.add(account)
        await session.flush()
        for n, (stage, amount, close) in enumerate(DEALS):
            rule = STAGES[OpportunityStage(stage)]
            session.add(
                Opportunity(
                    name=f"Deal {n}",
                    account_id=account.id,
                    stage=stage,
                    amount=Decimal(amount),
                    probability=rule.default_probability,
                    forecast_category=rule.forecast_category.value,
                    expected_close_date=close,
                    owner_id=org.r1.id,
                    territory_id=org.t1.id,
                    deal_score=50,
                )
            )


PIPELINE = """query($owner: ID!, $period: String!) { pipeline(ownerId: $owner, period: $period) {
  period ownerId summary { totalCount totalAmount weightedAmount }
  byStage { stage count totalAmount probability weightedAmount } } }"""


@pytest.mark.usefixtures("deals")
async def test_pipeline_summary_and_stages(gateway: Gateway) -> None:
    org = gateway.org
    data = await gateway.data(org.r1, PIPELINE, owner=str(org.r1.id), period="Q1_2026")
    pipeline = data["pipeline"]
    assert pipeline["period"] == "Q1_2026"
    assert pipeline["ownerId"] == str(org.r1.id)
    assert pipeline["summary"] == {
        "totalCount": 4,
        "totalAmount": 8_500_000.0,
        "weightedAmount": 5_200_000.0,
    }
    assert pipeline["byStage"] == [
        {
            "stage": "DISCOVERY",
            "count": 1,
            "totalAmount": 1_000_000.0,
            "probability": 20,
            "weightedAmount": 200_000.0,
        },
        {
            "stage": "QUALIFICATION",
            "count": 1,
            "totalAmount": 2_000_000.0,
            "probability": 40,
            "weightedAmount": 800_000.0,
        },
        {
            "stage": "PROPOSAL",
            "count": 1,
            "totalAmount": 2_500_000.0,
            "probability": 60,
            "weightedAmount": 1_500_000.0,
        },
        {
            "stage": "NEGOTIATION",
            "count": 1,
            "totalAmount": 3_000_000.0,
            "probability": 90,
            "weightedAmount": 2_700_000.0,
        },
    ]
    month = await gateway.data(org.r1, PIPELINE, owner=str(org.r1.id), period="M03_2026")
    assert month["pipeline"]["summary"]["totalCount"] == 2
    year = await gateway.data(org.r1, PIPELINE, owner=str(org.r1.id), period="FY2026")
    assert year["pipeline"]["summary"]["totalCount"] == 5


@pytest.mark.usefixtures("deals")
async def test_pipeline_obeys_visibility(gateway: Gateway) -> None:
    org = gateway.org
    for viewer, expected in [(org.m1, 4), (org.admin, 4), (org.r2, 0), (org.m2, 0)]:
        data = await gateway.data(viewer, PIPELINE, owner=str(org.r1.id), period="Q1_2026")
        assert data["pipeline"]["summary"]["totalCount"] == expected, viewer.email


async def test_malformed_period_is_a_validation_error(gateway: Gateway) -> None:
    error = await gateway.error(
        gateway.org.r1, PIPELINE, owner=str(gateway.org.r1.id), period="2026-Q1"
    )
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert set(error["extensions"]["details"]["fields"]) == {"period"}


FORECASTS = """query($territory: ID!) { forecasts(period: "Q1_2026", territoryId: $territory) {
  kind forecastType amount probabilityWeightedAmount aiPredictedAmount
  breakdown { stage count totalAmount weightedAmount } } }"""


@pytest.mark.usefixtures("deals")
async def test_every_forecast_type_is_cumulative(gateway: Gateway) -> None:
    org = gateway.org
    data = await gateway.data(org.m1, FORECASTS, territory=str(org.t1.id))
    by_type = {f["forecastType"]: f for f in data["forecasts"] if f["kind"] == "GENERATED"}
    expected = {
        "CLOSED": (1_500_000, 1_500_000),
        "COMMIT": (4_500_000, 4_200_000),
        "BEST_CASE": (7_000_000, 5_700_000),
        "PIPELINE": (8_500_000, 5_200_000),
    }
    assert {
        k: (v["amount"], v["probabilityWeightedAmount"]) for k, v in by_type.items()
    } == expected
    # Every deal scores 50: the AI prediction is half of each amount.
    assert by_type["COMMIT"]["aiPredictedAmount"] == 2_250_000
    assert by_type["COMMIT"]["breakdown"] == [
        {
            "stage": "NEGOTIATION",
            "count": 1,
            "totalAmount": 3_000_000.0,
            "weightedAmount": 2_700_000.0,
        },
        {
            "stage": "CLOSED_WON",
            "count": 1,
            "totalAmount": 1_500_000.0,
            "weightedAmount": 1_500_000.0,
        },
    ]
    hidden = await gateway.error(org.m2, FORECASTS, territory=str(org.t1.id))
    assert hidden["extensions"]["code"] == "NOT_FOUND"


CREATE_FORECAST = """mutation($input: CreateForecastInput!) { createForecast(input: $input) {
  id kind period forecastType amount currentPipeline pipelineCoverage notes createdAt } }"""


@pytest.mark.usefixtures("deals")
async def test_submitted_forecast_reports_coverage(gateway: Gateway) -> None:
    org = gateway.org
    spec_body = {
        "period": "Q1_2026",
        "territoryId": str(org.t1.id),
        "forecastType": "COMMIT",
        "amount": 5_000_000.00,
        "notes": "Conservative estimate based on pipeline coverage",
    }
    data = await gateway.data(org.m1, CREATE_FORECAST, input=spec_body)
    forecast = data["createForecast"]
    assert forecast["kind"] == "SUBMITTED"
    assert forecast["amount"] == 5_000_000.0
    assert forecast["currentPipeline"] == 8_500_000.0
    assert forecast["pipelineCoverage"] == 1.7
    assert forecast["createdAt"].endswith("Z")
    for user, code in [(org.r1, "FORBIDDEN"), (org.m2, "FORBIDDEN")]:
        error = await gateway.error(user, CREATE_FORECAST, input=spec_body)
        assert error["extensions"]["code"] == code
    zero = await gateway.error(org.m1, CREATE_FORECAST, input={**spec_body, "amount": 0})
    assert set(zero["extensions"]["details"]["fields"]) == {"amount"}
    listed = await gateway.data(org.m1, FORECASTS, territory=str(org.t1.id))
    assert [f["kind"] for f in listed["forecasts"]].count("SUBMITTED") == 1


SET_QUOTA = """mutation($input: SetQuotaInput!) { setQuota(input: $input) {
  id amount wonAmount attainment version user { id } territory { id } } }"""


@pytest.mark.usefixtures("deals")
async def test_quota_attainment(gateway: Gateway) -> None:
    org = gateway.org
    rep = await gateway.data(
        org.m1,
        SET_QUOTA,
        input={"period": "Q1_2026", "userId": str(org.r1.id), "amount": 2_000_000},
    )
    assert rep["setQuota"]["wonAmount"] == 1_500_000.0
    assert rep["setQuota"]["attainment"] == 0.75
    territory = await gateway.data(
        org.admin,
        SET_QUOTA,
        input={"period": "Q1_2026", "territoryId": str(org.t1.id), "amount": 1_500_000},
    )
    assert territory["setQuota"]["attainment"] == 1.0
    twice = await gateway.error(
        org.m1, SET_QUOTA, input={"period": "Q1_2026", "userId": str(org.r1.id), "amount": 1}
    )
    assert twice["extensions"]["code"] == "CONFLICT"
    foreign = await gateway.error(
        org.m2, SET_QUOTA, input={"period": "Q1_2026", "userId": str(org.r1.id), "amount": 1}
    )
    assert foreign["extensions"]["code"] == "FORBIDDEN"
    both = await gateway.error(
        org.admin,
        SET_QUOTA,
        input={
            "period": "Q1_2026",
            "userId": str(org.r1.id),
            "territoryId": str(org.t1.id),
            "amount": 1,
        },
    )
    assert both["extensions"]["code"] == "VALIDATION_ERROR"
    update = """mutation($id: ID!) { updateQuota(id: $id, input: {amount: 3000000, expectedVersion: 1}) {
      amount attainment version } }"""
    changed = await gateway.data(org.m1, update, id=rep["setQuota"]["id"])
    assert changed["updateQuota"] == {"amount": 3_000_000.0, "attainment": 0.5, "version": 2}
    stale = await gateway.error(org.m1, update, id=rep["setQuota"]["id"])
    assert stale["extensions"]["code"] == "CONFLICT"
    own = await gateway.data(org.r1, '{ quotas(period: "Q1_2026") { user { id } attainment } }')
    assert own["quotas"] == [{"user": {"id": str(org.r1.id)}, "attainment": 0.5}]
    assert (await gateway.data(org.r4, "{ quotas { id } }"))["quotas"] == []
