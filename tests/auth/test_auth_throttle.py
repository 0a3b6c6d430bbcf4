"""Failed authentications have a bucket of their own (per address), token issuance (per address
and client) and the JWKS theirs: a flood of bad credentials gets 429s and locks nobody out —
valid credentials from the same address included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event

from sales_graph.auth import clients
from sales_graph.auth.admin import CreatedClient, create_api_key, create_client
from sales_graph.limiter import (
    Bucket,
    Decision,
    MemoryStore,
    Quota,
    RateLimiter,
    build_rate_limiter,
)
from sales_graph.settings import RateLimitSettings
from tests.graphql.conftest import Gateway

T0 = 1_800_000_000.0
HEALTH = {"query": "{ health { status } }"}
GRANT = {"grant_type": "client_credentials"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(gateway: Gateway, clock: Clock, **limits: Any) -> None:
    settings = RateLimitSettings(**{"auth_failure_limit": 3, **limits})
    gateway.runtime.rate_limiter = build_rate_limiter(settings, None, clock=clock)


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


@pytest.fixture
async def elsewhere(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client connecting from another address."""
    transport = httpx.ASGITransport(app=gateway.app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


@pytest.fixture
async def partner(gateway: Gateway) -> CreatedClient:
    return await create_client(
        gateway.runtime.settings, name="lead source", user_email=None, scopes="leads:read"
    )


@pytest.fixture
async def other_partner(gateway: Gateway) -> CreatedClient:
    return await create_client(
        gateway.runtime.settings, name="webinar tool", user_email=None, scopes="leads:read"
    )


def admin(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.token(gateway.org.admin)}"}


async def test_failures_have_their_own_bucket_and_lock_out_nothing_else(
    gateway: Gateway, clock: Clock, elsewhere: httpx.AsyncClient, partner: CreatedClient
) -> None:
    throttle(gateway, clock)
    for n in range(3):
        failed = await gateway.client.get(
            "/api/v1/leads", headers={"Authorization": f"Bearer x{n}"}
        )
        assert failed.status_code == 401
        assert failed.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert limits(failed) == (3, 2 - n, T0 + 60)
    assert_refused(await gateway.client.get("/api/v1/leads", headers={"X-API-Key": "guess"}), 60)

    # The anonymous quota of the address is untouched, and so are token issuance and the JWKS.
    health = await gateway.client.post("/graphql", json=HEALTH)
    assert (health.status_code, limits(health)[:2]) == (200, (1000, 999))
    jwks = await gateway.client.get("/.well-known/jwks.json")
    assert (jwks.status_code, limits(jwks)[:2]) == (200, (600, 599))
    issued = await gateway.client.post(
        "/oauth/token", data=GRANT, auth=(partner.client_id, partner.client_secret)
    )
    assert (issued.status_code, limits(issued)[:2]) == (200, (120, 119))

    # Valid credentials pass, from another address and from this one (a NAT, a proxy).
    ok = await elsewhere.get("/api/v1/leads", headers=admin(gateway))
    assert ok.status_code == 200, ok.text
    ok = await gateway.client.get("/api/v1/leads", headers=admin(gateway))
    assert ok.status_code == 200, ok.text
    # Failures from this address stay refused until the window ends.
    clock.now += 30
    assert_refused(await gateway.client.get("/api/v1/leads", headers={"X-API-Key": "x"}), 30)
    clock.now += 30
    again = await gateway.client.get("/api/v1/leads", headers={"Authorization": "Bearer x"})
    assert (again.status_code, limits(again)) == (401, (3, 2, T0 + 120))


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return function(*args, **kwargs)

        return counted


async def test_past_the_limit_a_failure_costs_one_check_and_a_valid_key_passes(
    gateway: Gateway, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit, an unknown key is still looked up once (one indexed read) and refused
    with 429; a valid key from the same address is served."""
    throttle(gateway, clock)
    created = await create_api_key(gateway.runtime.settings, name="tool", scopes="leads:read")
    statements = Counter()
    event.listen(
        gateway.runtime.db.engine.sync_engine,
        "before_cursor_execute",
        statements.wrap(lambda *a: None),
    )
    unknown = "sgk_0123456789ab_" + "A" * 43
    for _ in range(3):
        failed = await gateway.client.get("/healthz", headers={"X-API-Key": unknown})
        assert failed.status_code == 200  # the probes are not authenticated
        failed = await gateway.client.post("/graphql", json=HEALTH, headers={"X-API-Key": unknown})
        assert failed.status_code == 401
    statements.calls = 0
    assert_refused(
        await gateway.client.post("/graphql", json=HEALTH, headers={"X-API-Key": unknown}), 60
    )
    assert statements.calls <= 2  # the key's row (and, on SQLite, its BEGIN)
    served = await gateway.client.post(
        "/graphql", json=HEALTH, headers={"X-API-Key": created.api_key}
    )
    assert served.status_code == 200, served.text
    malformed = await gateway.client.post("/graphql", json=HEALTH, headers={"X-API-Key": "x"})
    assert_refused(malformed, 60)


async def test_token_endpoint_failures_count_per_client_before_scrypt(
    gateway: Gateway,
    clock: Clock,
    partner: CreatedClient,
    other_partner: CreatedClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    throttle(gateway, clock, token_burst_limit=100)
    scrypts = Counter()
    monkeypatch.setattr(clients, "verify_client_secret", scrypts.wrap(clients.verify_client_secret))

    async def token(client: CreatedClient, secret: str) -> httpx.Response:
        return await gateway.client.post(
            "/oauth/token", data=GRANT, auth=(client.client_id, secret)
        )

    for _ in range(3):
        wrong = await token(partner, "wrong")
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
    assert scrypts.calls == 3
    for secret in ("wrong", partner.client_secret, "wrong again"):
        assert_refused(await token(partner, secret), 60)
    assert scrypts.calls == 3  # refused before hashing
    # Another client behind the same address is not held up.
    other = await token(other_partner, other_partner.client_secret)
    assert other.status_code == 200, other.text
    # Guesses at ids that do not exist cost no hash at all.
    for n in range(5):
        ghost = await gateway.client.post("/oauth/token", data=GRANT, auth=(f"sgc_{n}", "x"))
        assert ghost.status_code == 401
    assert scrypts.calls == 4
    clock.now += 60
    assert (await token(partner, partner.client_secret)).status_code == 200


async def test_token_issuance_and_the_jwks_are_limited_on_their_own_terms(
    gateway: Gateway, clock: Clock, elsewhere: httpx.AsyncClient
) -> None:
    throttle(
        gateway,
        clock,
        principal_limit=5,
        token_limit=2,
        token_burst_limit=2,
        jwks_limit=3,
        jwks_burst_limit=3,
    )
    for n in range(2):
        answer = await gateway.client.post("/oauth/token", data=GRANT)
        assert (answer.status_code, limits(answer)) == (401, (2, 1 - n, T0 + 60))
    assert_refused(await gateway.client.post("/oauth/token", data=GRANT), 60)
    for n in range(3):
        keys = await gateway.client.get("/.well-known/jwks.json")
        assert (keys.status_code, limits(keys)) == (200, (3, 2 - n, T0 + 60))
    assert_refused(await gateway.client.get("/.well-known/jwks.json"), 60)
    health = await gateway.client.post("/graphql", json=HEALTH)
    assert (health.status_code, limits(health)) == (200, (5, 4, T0 + 60))
    elsewhere_token = await elsewhere.post("/oauth/token", data=GRANT)
    assert limits(elsewhere_token)[:2] == (2, 1)


async def test_one_clients_flood_leaves_the_others_their_tokens(
    gateway: Gateway, clock: Clock, partner: CreatedClient, other_partner: CreatedClient
) -> None:
    """Requests to the token endpoint count per address and client: a client that floods it
    (here with wrong secrets, below the failure limit) uses up its own quota only."""
    throttle(gateway, clock, token_limit=4, token_burst_limit=4, auth_failure_limit=100)
    for _ in range(4):
        wrong = await gateway.client.post("/oauth/token", data=GRANT, auth=(partner.client_id, "x"))
        assert wrong.status_code == 401
    right = await gateway.client.post(
        "/oauth/token", data=GRANT, auth=(partner.client_id, partner.client_secret)
    )
    assert_refused(right, 60)
    other = await gateway.client.post(
        "/oauth/token", data=GRANT, auth=(other_partner.client_id, other_partner.client_secret)
    )
    assert (other.status_code, limits(other)[:2]) == (200, (4, 3))


@pytest.mark.redis
async def test_in_redis_failures_stay_out_of_the_global_window(
    gateway: Gateway, clock: Clock, redis_url: str
) -> None:
    prefix = f"sales-graph-test:{uuid.uuid4().hex}"
    redis = Redis.from_url(redis_url)
    try:
        settings = RateLimitSettings(auth_failure_limit=2, key_prefix=prefix)
        gateway.runtime.rate_limiter = build_rate_limiter(settings, redis, clock=clock)
        for n in range(2):
            failed = await gateway.client.get(
                "/api/v1/leads", headers={"Authorization": "Bearer x"}
            )
            assert (failed.status_code, limits(failed)[:2]) == (401, (2, 1 - n))
        refused = await gateway.client.get("/api/v1/leads", headers={"Authorization": "Bearer x"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert await redis.get(f"{prefix}:{{auth_failure:127.0.0.1}}:window") == b"2"
        assert await redis.get(f"{prefix}:global") is None
        await gateway.client.post("/graphql", json=HEALTH)
        assert await redis.get(f"{prefix}:global") == b"1"
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_a_remembered_refusal_lasts_until_its_retry_after() -> None:
    clock = Clock()
    quota = Quota(limit=1, burst=1, global_limit=None, window_ms=10_000, burst_window_ms=1_000)
    store = MemoryStore(quota, clock)
    limiter = RateLimiter(store, quotas={Bucket.AUTH_FAILURE: quota}, clock=clock)
    assert (await limiter.hit("a", Bucket.AUTH_FAILURE)).allowed
    refused = await limiter.hit("a", Bucket.AUTH_FAILURE)
    assert (refused.allowed, refused.retry_after_s) == (False, 10)
    assert limiter.refusal("a") is None
    limiter.remember("a", refused)
    clock.now += 4.5
    assert limiter.refusal("a") == Decision(False, 1, 0, refused.reset_at, 6)
    assert limiter.refusal("b") is None
    clock.now += 5.5
    assert limiter.refusal("a") is None
    assert "global" not in store._windows
    # The request that fills the window: refused from then on until the window ends.
    filled = await limiter.hit("b", Bucket.AUTH_FAILURE)
    assert (filled.allowed, filled.remaining) == (True, 0)
    limiter.remember("b", filled)
    clock.now += 9.2
    assert limiter.refusal("b") == Decision(False, 1, 0, filled.reset_at, 1)
    clock.now += 0.8
    assert limiter.refusal("b") is None
