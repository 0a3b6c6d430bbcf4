"""Billing's contracts and its Idempotency-Key semantics, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from sales_graph.simulators import RunningSimulators
from tests.simulators.test_endpoints import CONTRACT


async def create(
    http: httpx.AsyncClient, sims: RunningSimulators, body: Any, key: str | None
) -> httpx.Response:
    headers = {"X-API-Key": "billing-secret"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.post(sims.urls["billing"] + "/api/v1/contracts", json=body, headers=headers)


async def test_the_same_key_returns_the_same_contract_and_creates_nothing(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    first = await create(http, sims, CONTRACT, "opp-1")
    again = await create(http, sims, dict(reversed(CONTRACT.items())), "opp-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["contract_id"] == first.json()["contract_id"]
    assert len(sims["billing"].state()["contracts"]) == 1


async def test_the_same_key_with_another_body_is_422(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    await create(http, sims, CONTRACT, "opp-1")
    response = await create(http, sims, {**CONTRACT, "amount": 1.0}, "opp-1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(sims["billing"].state()["contracts"]) == 1


async def test_without_a_key_every_post_creates_a_contract(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    ids = {(await create(http, sims, CONTRACT, None)).json()["contract_id"] for _ in range(2)}
    assert len(ids) == 2
    assert len(sims["billing"].state()["contracts"]) == 2


async def test_the_payment_schedule_adds_up_to_the_amount(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    body = {**CONTRACT, "amount": 1000.0, "billing_frequency": "quarterly", "contract_term": 12}
    contract = (await create(http, sims, body, None)).json()
    schedule = contract["payment_schedule"]
    assert [i["due_date"] for i in schedule] == [
        "2026-03-01",
        "2026-06-01",
        "2026-09-01",
        "2026-12-01",
    ]
    assert round(sum(i["amount"] for i in schedule), 2) == 1000.0
    assert contract["end_date"] == "2027-02-28"


async def test_put_replaces_terms_and_bumps_the_version(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    created = (await create(http, sims, CONTRACT, None)).json()
    url = sims.urls["billing"] + f"/api/v1/contracts/{created['contract_id']}"
    terms = {"amount": 50000.0, "contract_term": 24, "start_date": "2026-04-01"}
    updated = await http.put(url, json=terms, headers={"X-API-Key": "billing-secret"})
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["amount"]) == (2, 50000.0)
    fetched = await http.get(url, headers={"X-API-Key": "billing-secret"})
    assert fetched.json() == updated.json()


async def test_invalid_bodies_and_unknown_contracts_are_refused(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    response = await create(http, sims, {**CONTRACT, "amount": -5}, None)
    assert response.status_code == 422
    url = sims.urls["billing"] + "/api/v1/contracts/ctr_nope"
    terms = {"amount": 1, "contract_term": 1, "start_date": "2026-04-01"}
    assert (
        await http.put(url, json=terms, headers={"X-API-Key": "billing-secret"})
    ).status_code == 404
    assert sims["billing"].state()["contracts"] == []
