"""Knobs change behaviour at run time, over HTTP (``/_sim``) and through the Python handle."""

from __future__ import annotations

import time

import httpx
import orjson
import pydantic
import pytest

from sales_graph.simulators import RunningSimulators, serve_simulators
from tests.simulators.conftest import auth

HEALTH = "/api/v1/accounts/acc-1/health"


async def statuses(
    http: httpx.AsyncClient, sims: RunningSimulators, count: int, path: str = HEALTH
) -> list[int]:
    url = sims.urls["customer_experience"] + path
    headers = auth(sims, "customer_experience")
    return [(await http.get(url, headers=headers)).status_code for _ in range(count)]


async def test_outage_set_over_http_is_503_until_cleared(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    base = sims.urls["customer_experience"]
    knobs = await http.post(base + "/_sim/knobs", json={"outage": True, "retry_after_s": 2})
    assert knobs.json()["outage"] is True
    response = await http.get(base + HEALTH, headers=auth(sims, "customer_experience"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    await http.post(base + "/_sim/knobs", json={"outage": False})
    assert await statuses(http, sims, 1) == [200]
    assert (await http.get(base + "/_sim/knobs")).json()["outage"] is False


async def test_outage_answers_503_even_without_credentials(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    sims["support"].set_knobs(outage=True)
    url = sims.urls["support"] + "/api/v1/accounts/a/escalations"
    assert (await http.get(url)).status_code == 503


async def test_error_rate_decisions_repeat_for_the_same_seed(http: httpx.AsyncClient) -> None:
    runs = [
        await serve_simulators(seed=seed, systems=["customer_experience"]) for seed in (3, 3, 4)
    ]
    try:
        sequences = []
        for running in runs:
            running["customer_experience"].set_knobs(error_rate=0.5)
            sequences.append(await statuses(http, running, 24))
        assert sequences[0] == sequences[1]
        assert {200, 503} <= set(sequences[0])
        assert sequences[0] != sequences[2]
    finally:
        for running in runs:
            await running.stop()


async def test_reset_restarts_the_fault_sequence(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    sim = sims["customer_experience"]
    sim.set_knobs(error_rate=0.5)
    first = await statuses(http, sims, 12)
    sim.reset()
    assert sim.requests == []
    sim.set_knobs(error_rate=0.5)
    assert await statuses(http, sims, 12) == first


async def test_fail_next_fails_exactly_that_many_with_the_chosen_status(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    sims["customer_experience"].set_knobs(fail_next=2, status_on_error=429)
    assert await statuses(http, sims, 4) == [429, 429, 200, 200]
    assert sims["customer_experience"].knobs.fail_next == 0


async def test_latency_delays_the_answer(sims: RunningSimulators, http: httpx.AsyncClient) -> None:
    sims["customer_experience"].set_knobs(latency_ms=150)
    started = time.monotonic()
    assert await statuses(http, sims, 1) == [200]
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize("mode", ["invalid", "not_json", "oversized"])
async def test_payload_modes_spoil_successful_bodies(
    sims: RunningSimulators, http: httpx.AsyncClient, mode: str
) -> None:
    sims["customer_experience"].set_knobs(payload=mode)
    url = sims.urls["customer_experience"] + HEALTH
    response = await http.get(url, headers=auth(sims, "customer_experience"))
    assert response.status_code == 200
    if mode == "not_json":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(response.content)
    elif mode == "invalid":
        assert "account_id" not in response.json()
    else:
        assert "content-length" not in response.headers
        assert len(response.content) > 2 * 1024 * 1024
        assert response.json()["account_id"] == "acc-1"


async def test_requests_are_recorded_with_body_and_idempotency_key_and_cleared(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    base = sims.urls["marketing"]
    headers = {**auth(sims, "marketing"), "Idempotency-Key": "k-1", "X-Request-ID": "req-9"}
    await http.post(base + "/api/v1/leads/l-1/sync", json={"status": "working"}, headers=headers)
    recorded = (await http.get(base + "/_sim/requests")).json()
    assert len(recorded) == 1
    assert recorded[0]["method"] == "POST"
    assert recorded[0]["path"] == "/api/v1/leads/l-1/sync"
    assert recorded[0]["headers"]["idempotency-key"] == "k-1"
    assert recorded[0]["headers"]["x-request-id"] == "req-9"
    assert recorded[0]["body"] == {"status": "working"}
    assert recorded[0]["status"] == 200
    assert recorded[0]["received_at"].endswith("Z")
    assert (await http.delete(base + "/_sim/requests")).status_code == 204
    assert (await http.get(base + "/_sim/requests")).json() == []


async def test_control_calls_are_not_recorded_and_bad_knobs_are_refused(
    sims: RunningSimulators, http: httpx.AsyncClient
) -> None:
    base = sims.urls["finance"]
    assert (await http.post(base + "/_sim/knobs", json={"latency": 5})).status_code == 422
    assert (await http.post(base + "/_sim/knobs", json={"error_rate": 2})).status_code == 422
    assert sims["finance"].requests == []
    with pytest.raises(pydantic.ValidationError):
        sims["finance"].set_knobs(payload="garbage")
