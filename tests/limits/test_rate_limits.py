"""Rate limits over HTTP, in process with a clock the test moves (the spec's numbers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sales_graph.limiter import build_rate_limiter
from tests.limits.conftest import Api, make_settings, serve

HEALTH = {"query": "{ health { status } }"}
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def clocked(tmp_path: Path, clock: Clock, **rate_limit: object) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, rate_limit=rate_limit)
    async with serve(settings) as api:
        api.runtime.rate_limiter = build_rate_limiter(settings.rate_limit, None, clock=clock)
        yield api


@pytest.fixture
async def spec(tmp_path: Path, clock: Clock) -> AsyncIterator[Api]:
    """The spec's numbers (the defaults): 1000/min, 50/s, 100,000/min globally."""
    async for api in clocked(tmp_path, clock):
        yield api


@pytest.fixture
async def tiny(tmp_path: Path, clock: Clock) -> AsyncIterator[Api]:
    async for api in clocked(tmp_path, clock, principal_limit=3, burst_limit=3):
        yield api


def limits(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["x-ratelimit-limit"]),
        int(headers["x-ratelimit-remaining"]),
        int(headers["x-ratelimit-reset"]),
    )


def assert_refused(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["details"] == {"retry_after_s": retry_after}
    assert error["request_id"] == response.headers["x-request-id"]


async def test_the_51st_request_within_a_second_is_refused(spec: Api, clock: Clock) -> None:
    user = spec.bearer()
    for n in range(50):
        response = await spec.client.post("/graphql", json=HEALTH, headers=user)
        assert response.status_code == 200
        assert limits(response) == (1000, 999 - n, T0 + 60)
    refused = await spec.client.post("/graphql", json=HEALTH, headers=user)
    assert_refused(refused, retry_after=1)
    assert limits(refused) == (1000, 950, T0 + 60)
    clock.now += 1
    again = await spec.client.post("/graphql", json=HEALTH, headers=user)
    assert again.status_code == 200
    assert limits(again) == (1000, 949, T0 + 60)


async def test_the_1001st_request_within_a_minute_is_refused(spec: Api, clock: Clock) -> None:
    user = spec.bearer()
    for n in range(1000):
        clock.now = T0 + n * 0.05  # 20 a second: under the burst limit
        response = await spec.client.post("/graphql", json=HEALTH, headers=user)
        assert response.status_code == 200, (n, response.text)
    assert limits(response) == (1000, 0, T0 + 60)
    clock.now = T0 + 50.25
    refused = await spec.client.post("/graphql", json=HEALTH, headers=user)
    assert_refused(refused, retry_after=10)  # 9.75 s left, rounded up
    assert limits(refused) == (1000, 0, T0 + 60)
    # Another principal has its own window.
    other = await spec.client.post("/graphql", json=HEALTH, headers=spec.bearer())
    assert limits(other) == (1000, 999, T0 + 111)  # 50.25 + 60, rounded up
    # A new window opens when the old one ends.
    clock.now = T0 + 60
    response = await spec.client.post("/graphql", json=HEALTH, headers=user)
    assert response.status_code == 200
    assert limits(response) == (1000, 999, T0 + 120)


async def test_the_global_limit_spans_principals(tmp_path: Path, clock: Clock) -> None:
    async for api in clocked(tmp_path, clock, global_limit=5):
        for _ in range(5):
            ok = await api.client.post("/graphql", json=HEALTH, headers=api.bearer())
            assert ok.status_code == 200
        assert_refused(await api.client.post("/graphql", json=HEALTH), retry_after=60)


async def test_every_response_carries_the_headers(tiny: Api) -> None:
    user = tiny.bearer()
    responses = [
        await tiny.client.get("/nothing-here", headers=user),  # 404
        await tiny.client.post("/graphql", data={"query": "{ x }"}, headers=user),  # 415
        await tiny.client.post("/graphql", json={"query": "{ nope }"}, headers=user),  # GraphQL
    ]
    assert [r.status_code for r in responses] == [404, 415, 200]
    assert [limits(r)[1] for r in responses] == [2, 1, 0]
    refused = await tiny.client.post("/graphql", json=HEALTH, headers=user)
    assert_refused(refused, retry_after=60)
    assert limits(refused) == (3, 0, T0 + 60)


async def test_probes_are_neither_limited_nor_counted(tiny: Api) -> None:
    for _ in range(10):
        for probe in ("/healthz", "/readyz"):
            response = await tiny.client.get(probe)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers
    response = await tiny.client.post("/graphql", json=HEALTH)
    assert limits(response)[1] == 2


async def test_anonymous_callers_are_keyed_by_their_address_not_by_forwarded_for(
    tiny: Api,
) -> None:
    for n in range(3):
        spoofed = {"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}"}
        response = await tiny.client.post("/graphql", json=HEALTH, headers=spoofed)
        assert response.status_code == 200
        assert limits(response)[1] == 2 - n
    spoofed = {"X-Forwarded-For": "192.0.2.77", "Forwarded": "for=192.0.2.78"}
    assert_refused(await tiny.client.post("/graphql", json=HEALTH, headers=spoofed), retry_after=60)
    # The address is only for anonymous calls: a principal is counted by itself.
    response = await tiny.client.post("/graphql", json=HEALTH, headers=tiny.bearer())
    assert response.status_code == 200


async def test_the_defaults_are_the_specs_numbers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.rate_limit.principal_limit == 1000
    assert settings.rate_limit.burst_limit == 50
    assert settings.rate_limit.global_limit == 100_000
    async with serve(settings) as api:
        response = await api.client.post("/graphql", json=HEALTH, headers=api.bearer())
        assert limits(response)[:2] == (1000, 999)


async def test_failed_authentication_is_counted_and_carries_the_headers(
    tmp_path: Path, clock: Clock
) -> None:
    """Guessing credentials is rate limited by address, in a bucket of its own."""
    async for api in clocked(tmp_path, clock, principal_limit=3, auth_failure_limit=2):
        for n in range(2):
            bad = {"Authorization": f"Bearer not-a-token-{n}", "X-API-Key": f"sgk_guess{n}"}
            response = await api.client.post("/graphql", json=HEALTH, headers=bad)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "UNAUTHORIZED"
            assert limits(response) == (2, 1 - n, T0 + 60)
        bad = {"Authorization": "Bearer another-guess"}
        assert_refused(await api.client.post("/graphql", json=HEALTH, headers=bad), retry_after=60)
        # The failures used none of the address's anonymous quota.
        response = await api.client.post("/graphql", json=HEALTH)
        assert (response.status_code, limits(response)) == (200, (3, 2, T0 + 60))
