from __future__ import annotations

import httpx
import pytest

from sales_graph.simulators import RunningSimulators

PATH = "/api/v1/contracts/ctr_unknown"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic billing-secret"},
        {"X-API-Key": "sim-finance-key"},
    ],
    ids=["none", "wrong-bearer", "wrong-scheme", "another-systems-key"],
)
async def test_requests_without_the_systems_key_are_401(
    sims: RunningSimulators, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get(sims.urls["billing"] + PATH, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert sims["billing"].requests[-1].status == 401


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer billing-secret"}, {"X-API-Key": "billing-secret"}],
    ids=["bearer", "x-api-key"],
)
async def test_the_configured_key_is_accepted_either_way(
    sims: RunningSimulators, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get(sims.urls["billing"] + PATH, headers=headers)
    assert response.status_code == 404  # authenticated; the contract does not exist


async def test_the_recorded_authorization_header_is_masked(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    await http.get(sims.urls["billing"] + PATH, headers={"Authorization": "Bearer billing-secret"})
    recorded = sims["billing"].requests[-1]
    assert recorded.headers["authorization"] == "Bearer ***"
    assert "billing-secret" not in str(recorded.to_dict())
