"""Every endpoint the spec lists answers, with deterministic, well-formed data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sales_graph.simulators import RunningSimulators, serve_simulators
from tests.simulators.conftest import auth

CONTRACT = {
    "opportunity_id": "opp-1",
    "account_id": "acc-1",
    "amount": 120000.0,
    "contract_term": 12,
    "start_date": "2026-03-01",
    "products": [{"product_id": "prod_123", "quantity": 100, "unit_price": 100.0}],
}
ENDPOINTS: list[tuple[str, str, str, Any, str]] = [
    ("marketing", "GET", "/api/v1/campaigns/cmp-1", None, "campaign_id"),
    ("marketing", "GET", "/api/v1/leads/lead-1/score", None, "score"),
    ("marketing", "POST", "/api/v1/leads/lead-1/sync", {"status": "working"}, "profile"),
    ("customer_experience", "GET", "/api/v1/accounts/acc-1/health", None, "score"),
    ("customer_experience", "GET", "/api/v1/accounts/acc-1/usage", None, "licensed_seats"),
    ("customer_experience", "GET", "/api/v1/accounts/acc-1/tickets", None, "items"),
    ("customer_experience", "GET", "/api/v1/accounts/acc-1/nps", None, "respondents"),
    ("support", "GET", "/api/v1/accounts/acc-1/tickets/critical", None, "items"),
    ("support", "GET", "/api/v1/accounts/acc-1/escalations", None, "items"),
    ("support", "GET", "/api/v1/accounts/acc-1/feature-requests", None, "items"),
    ("billing", "POST", "/api/v1/contracts", CONTRACT, "contract_id"),
    ("finance", "GET", "/api/v1/forecasts/Q1_2026", None, "breakdown"),
    ("finance", "GET", "/api/v1/revenue/Q1_2026", None, "recognized_revenue"),
    (
        "finance",
        "POST",
        "/api/v1/commissions/calculate",
        {"period": "Q1_2026", "deals": [{"opportunity_id": "o", "owner_id": "u", "amount": 50}]},
        "total_commission",
    ),
]


@pytest.mark.parametrize(("system", "method", "path", "body", "field"), ENDPOINTS)
async def test_every_spec_endpoint_answers_json(
    sims: RunningSimulators,
    http: httpx.AsyncClient,
    system: str,
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    response = await http.request(
        method, sims.urls[system] + path, json=body, headers=auth(sims, system)
    )
    assert response.status_code in (200, 201), response.text
    assert field in response.json()


async def test_the_same_id_gives_the_same_data_and_another_seed_other_data(
    http: httpx.AsyncClient,
) -> None:
    systems = ["customer_experience"]
    first, again, other = [await serve_simulators(seed=seed, systems=systems) for seed in (0, 0, 1)]
    try:

        async def fetch(running: RunningSimulators, resource: str) -> Any:
            url = running.urls["customer_experience"] + f"/api/v1/accounts/acc-7/{resource}"
            response = await http.get(url, headers=auth(running, "customer_experience"))
            return response.json()

        for resource in ("health", "usage", "tickets", "nps"):
            assert await fetch(first, resource) == await fetch(again, resource)
        assert [await fetch(first, r) for r in ("health", "usage", "nps")] != [
            await fetch(other, r) for r in ("health", "usage", "nps")
        ]
    finally:
        for running in (first, again, other):
            await running.stop()


async def test_health_scores_are_0_to_100_with_a_matching_status(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    scores = set()
    for n in range(40):
        url = sims.urls["customer_experience"] + f"/api/v1/accounts/acc-{n}/health"
        body = (await http.get(url, headers=auth(sims, "customer_experience"))).json()
        assert 0 <= body["score"] <= 100
        expected = (
            "healthy" if body["score"] >= 70 else "at_risk" if body["score"] >= 40 else "critical"
        )
        assert body["status"] == expected
        scores.add(body["score"])
    assert len(scores) > 5  # derived from the id, not a constant


async def test_ids_starting_with_missing_are_404(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    url = sims.urls["support"] + "/api/v1/accounts/missing-1/escalations"
    response = await http.get(url, headers=auth(sims, "support"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_revenue_of_a_quarter_has_its_three_months(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    url = sims.urls["finance"] + "/api/v1/revenue/Q2_2026"
    body = (await http.get(url, headers=auth(sims, "finance"))).json()
    assert [m["month"] for m in body["by_month"]] == ["2026-04", "2026-05", "2026-06"]
    total = sum(m["recognized_revenue"] for m in body["by_month"])
    assert body["recognized_revenue"] == pytest.approx(total, abs=0.01)


async def test_a_malformed_period_is_422(sims: RunningSimulators, http: httpx.AsyncClient) -> None:
    url = sims.urls["finance"] + "/api/v1/forecasts/2026"
    response = await http.get(url, headers=auth(sims, "finance"))
    assert response.status_code == 422


async def test_commissions_use_a_deterministic_rate_per_owner(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    url = sims.urls["finance"] + "/api/v1/commissions/calculate"
    deals = [
        {"opportunity_id": "o1", "owner_id": "rep-1", "amount": 1000},
        {"opportunity_id": "o2", "owner_id": "rep-1", "amount": 3000},
    ]
    body = (
        await http.post(
            url, json={"period": "2026-03", "deals": deals}, headers=auth(sims, "finance")
        )
    ).json()
    rates = {line["rate"] for line in body["lines"]}
    assert len(rates) == 1
    assert rates <= {0.08, 0.1, 0.12}
    assert body["total_commission"] == pytest.approx(4000 * rates.pop())
