"""Marketing, Billing and Finance fields: Lead.campaign, Opportunity.contract,
Forecast.actualRevenue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sales_graph.connectors.billing.models import NewContract
from sales_graph.db.models import Account, Lead, Opportunity
from sales_graph.simulators import RunningSimulators
from tests.graphql.conftest import Gateway


async def test_a_leads_campaign_comes_from_marketing(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    org = gateway.org
    async with gateway.runtime.db.session() as session:
        for n, campaign in enumerate(("cmp-1", "cmp-1", None)):
            session.add(
                Lead(
                    email=f"c{n}@example.com",
                    email_normalized=f"c{n}@example.com",
                    status="new",
                    campaign_id=campaign,
                    assigned_to_id=org.r1.id,
                )
            )
    query = "{ leads(orderBy: CREATED_AT_ASC) { items { campaign { campaignId name stale } } } }"
    data = await gateway.data(org.r1, query)
    campaigns = [item["campaign"] for item in data["leads"]["items"]]
    assert campaigns[2] is None
    assert campaigns[0] == campaigns[1]
    assert campaigns[0]["campaignId"] == "cmp-1"
    assert [r.path for r in sims["marketing"].requests] == ["/api/v1/campaigns/cmp-1"]


async def test_an_opportunitys_contract_comes_from_billing(gateway: Gateway) -> None:
    org = gateway.org
    connectors = gateway.runtime.connectors
    assert connectors is not None
    async with gateway.runtime.db.session() as session:
        account = Account(name="Won Co", name_normalized="won co", owner_id=org.r1.id)
        session.add(account)
        await session.flush()
        won = Opportunity(
            name="Won",
            account_id=account.id,
            stage="closed_won",
            forecast_category="closed",
            owner_id=org.r1.id,
        )
        open_deal = Opportunity(
            name="Open",
            account_id=account.id,
            stage="discovery",
            forecast_category="pipeline",
            owner_id=org.r1.id,
        )
        session.add_all([won, open_deal])
    contract = await connectors.billing.create_contract(
        NewContract(
            opportunity_id=str(won.id),
            account_id=str(account.id),
            amount=Decimal("1200.00"),
            contract_term=12,
            start_date=date(2026, 3, 1),
        ),
        idempotency_key=str(won.id),
    )
    async with gateway.runtime.db.session() as session:
        row = await session.get(Opportunity, won.id)
        assert row is not None
        row.contract_id = contract.contract_id
        session.add(row)
    query = """{ opportunities { items { name
      contract { contractId amount paymentSchedule { amount } stale } } } }"""
    data = await gateway.data(org.r1, query)

    by_name = {item["name"]: item["contract"] for item in data["opportunities"]["items"]}
    assert by_name["Open"] is None
    assert by_name["Won"]["contractId"] == contract.contract_id
    assert by_name["Won"]["amount"] == 1200.0
    assert sum(i["amount"] for i in by_name["Won"]["paymentSchedule"]) == 1200.0


async def test_every_forecast_of_a_period_shares_one_revenue_read(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    org = gateway.org
    query = """query($t: ID!) { forecasts(period: "Q1_2026", territoryId: $t) {
      forecastType actualRevenue { period recognizedRevenue currency } } }"""
    data = await gateway.data(org.m1, query, t=str(org.t1.id))
    revenues = [f["actualRevenue"] for f in data["forecasts"]]
    assert len(revenues) > 1
    assert all(r == revenues[0] for r in revenues)
    assert revenues[0]["period"] == "Q1_2026"
    assert [r.path for r in sims["finance"].requests] == ["/api/v1/revenue/Q1_2026"]
