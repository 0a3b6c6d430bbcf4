"""Each client's typed methods against its simulator; Billing's idempotent contract creation."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import cast

import pytest

from sales_graph.connectors import (
    BillingClient,
    CustomerExperienceClient,
    FinanceClient,
    MarketingClient,
    SupportClient,
    UpstreamRejected,
)
from sales_graph.connectors.billing import ContractLine, ContractTerms, NewContract
from sales_graph.connectors.customer_experience import (
    AccountHealth,
    AccountNps,
    AccountTickets,
    AccountUsage,
)
from sales_graph.connectors.finance import CommissionDeal, Forecast, Revenue
from sales_graph.connectors.marketing import Campaign, LeadScore, LeadSyncUpdate
from sales_graph.connectors.support import CriticalTickets, Escalations, FeatureRequests
from sales_graph.errors import UpstreamTimeout
from sales_graph.simulators import RunningSimulators
from sales_graph.simulators.billing import BillingApi
from sales_graph.simulators.customer_experience import CustomerExperienceApi
from sales_graph.simulators.finance import FinanceApi
from sales_graph.simulators.marketing import MarketingApi
from sales_graph.simulators.support import SupportApi
from tests.connectors.conftest import Connect

NEW_CONTRACT = NewContract(
    opportunity_id="opp-42",
    account_id="acc-42",
    amount=Decimal("120000.00"),
    contract_term=12,
    start_date=date(2026, 3, 1),
    products=[ContractLine(product_id="prod_123", quantity=100, unit_price=Decimal("1200"))],
)


async def test_customer_experience_methods_return_the_systems_data(
    sims: RunningSimulators, connect: Connect
) -> None:
    api = cast(CustomerExperienceApi, sims["customer_experience"].api)
    client = connect(CustomerExperienceClient)
    assert await client.health("a-1") == AccountHealth.model_validate(api.health_payload("a-1"))
    assert await client.usage("a-1") == AccountUsage.model_validate(api.usage_payload("a-1"))
    assert await client.tickets("a-1") == AccountTickets.model_validate(api.tickets_payload("a-1"))
    assert await client.nps("a-1") == AccountNps.model_validate(api.nps_payload("a-1"))


async def test_support_methods_return_the_systems_data(
    sims: RunningSimulators, connect: Connect
) -> None:
    api = cast(SupportApi, sims["support"].api)
    client = connect(SupportClient)
    assert await client.critical_tickets("a-2") == CriticalTickets.model_validate(
        api.critical_tickets_payload("a-2")
    )
    assert await client.escalations("a-2") == Escalations.model_validate(
        api.escalations_payload("a-2")
    )
    assert await client.feature_requests("a-2") == FeatureRequests.model_validate(
        api.feature_requests_payload("a-2")
    )


async def test_marketing_methods_return_the_systems_data(
    sims: RunningSimulators, connect: Connect
) -> None:
    api = cast(MarketingApi, sims["marketing"].api)
    client = connect(MarketingClient)
    assert await client.campaign("c-1") == Campaign.model_validate(api.campaign_payload("c-1"))
    assert await client.lead_score("l-1") == LeadScore.model_validate(api.score_payload("l-1"))
    synced = await client.sync_lead("l-1", LeadSyncUpdate(status="qualified", owner_id="u-1"))
    assert (synced.lead_id, synced.sales_status) == ("l-1", "qualified")
    assert synced.profile.email == api.lead_payload("l-1")["profile"]["email"]
    assert api.synced["l-1"] == {"status": "qualified", "owner_id": "u-1"}


async def test_finance_methods_return_the_systems_data(
    sims: RunningSimulators, connect: Connect
) -> None:
    api = cast(FinanceApi, sims["finance"].api)
    client = connect(FinanceClient)
    forecast = await client.forecast("Q1_2026", territory_id="t-1")
    assert forecast == Forecast.model_validate(api.forecast_payload("Q1_2026", "t-1"))
    assert sims["finance"].requests[0].query == "territory_id=t-1"
    revenue = await client.revenue("M03_2026")  # Finance's 2026-03
    assert revenue == Revenue.model_validate(api.revenue_payload("2026-03", ["2026-03"]))
    deals = [
        CommissionDeal(opportunity_id="o-1", owner_id="rep-1", amount=Decimal("1000.00")),
        CommissionDeal(opportunity_id="o-2", owner_id="rep-2", amount=Decimal("2500.50")),
    ]
    calculation = await client.calculate_commissions("Q1_2026", deals)
    assert calculation.total_commission == sum(line.commission for line in calculation.lines)
    assert [line.opportunity_id for line in calculation.lines] == ["o-1", "o-2"]
    assert sims["finance"].requests[-1].body["deals"][1]["amount"] == 2500.5


async def test_create_contract_twice_with_one_key_makes_one_contract(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(BillingClient)
    first = await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    second = await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    assert first.contract_id == second.contract_id
    assert first.amount == Decimal("120000.00")
    posts = sims["billing"].requests_to("/api/v1/contracts", "POST")
    assert [(r.status, r.headers["idempotency-key"]) for r in posts] == [
        (201, "opp-42"),
        (200, "opp-42"),
    ]
    assert len(cast(BillingApi, sims["billing"].api).contracts) == 1


async def test_a_create_that_timed_out_is_found_again_by_its_key(
    sims: RunningSimulators, connect: Connect
) -> None:
    billing = sims["billing"]
    billing.set_knobs(latency_ms=400)
    client = connect(BillingClient, deadline_s=0.2)
    with pytest.raises(UpstreamTimeout):
        await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    async with asyncio.timeout(5):  # Billing finishes the request we gave up on
        while not billing.state()["contracts"]:  # noqa: ASYNC110 - polled with a deadline
            await asyncio.sleep(0.01)
    billing.set_knobs(latency_ms=0, fail_next=1)
    contract = await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    assert contract.contract_id == billing.state()["contracts"][0]["contract_id"]
    assert len(billing.state()["contracts"]) == 1
    assert [r.status for r in billing.requests] == [201, 503, 200]  # the 201 nobody read


async def test_reusing_a_key_for_another_contract_is_rejected(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(BillingClient)
    await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    other = NEW_CONTRACT.model_copy(update={"amount": Decimal(1)})
    with pytest.raises(UpstreamRejected) as caught:
        await client.create_contract(other, idempotency_key="opp-42")
    assert caught.value.details["status"] == 422
    assert caught.value.details["upstream_code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_get_and_update_contract(sims: RunningSimulators, connect: Connect) -> None:
    client = connect(BillingClient)
    created = await client.create_contract(NEW_CONTRACT, idempotency_key="opp-42")
    fetched = await client.get_contract(created.contract_id)
    assert fetched == created
    sims["billing"].set_knobs(fail_next=1)  # a PUT is idempotent: retried
    terms = ContractTerms(amount=Decimal("90000"), contract_term=24, start_date=date(2026, 4, 1))
    updated = await client.update_contract(created.contract_id, terms)
    assert (updated.version, updated.contract_term, updated.amount) == (2, 24, Decimal(90000))
    puts = sims["billing"].requests_to(f"/api/v1/contracts/{created.contract_id}", "PUT")
    assert [r.status for r in puts] == [503, 200]
    assert puts[0].body == puts[1].body == terms.model_dump(mode="json")
