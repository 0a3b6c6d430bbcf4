"""``build_connectors``: what the composition root gets from the settings."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from sales_graph.connectors import (
    CustomerExperienceClient,
    InProcessCache,
    RedisCache,
    build_connectors,
)
from sales_graph.errors import UpstreamUnavailable
from sales_graph.settings import Settings
from sales_graph.simulators import RunningSimulators
from tests.connectors.conftest import settings_for


def _pointed_at(settings: Settings, sims: RunningSimulators) -> Settings:
    groups = {system: settings_for(sims, system) for system in sims.urls}
    return settings.model_copy(update=groups)


async def test_every_system_is_reachable_through_its_client(
    settings: Settings, sims: RunningSimulators
) -> None:
    connectors = build_connectors(_pointed_at(settings, sims))
    try:
        assert isinstance(connectors.cache, InProcessCache)
        assert isinstance(connectors.customer_experience, CustomerExperienceClient)
        await connectors.marketing.lead_score("l-1")
        await connectors.customer_experience.health("a-1")
        await connectors.support.escalations("a-1")
        await connectors.finance.revenue("Q1_2026")
        with pytest.raises(Exception, match="does not know"):
            await connectors.billing.get_contract("ctr_missing")
    finally:
        await connectors.aclose()
    assert all(len(sims[s].requests) == 1 for s in sims.urls)
    assert all(
        r.headers["authorization"] == "Bearer ***" for s in sims.urls for r in sims[s].requests
    )
    assert {c.upstream.breaker.name for c in connectors.clients()} == set(sims.urls)


async def test_the_clients_share_one_cache_with_per_resource_ttls(
    settings: Settings, sims: RunningSimulators
) -> None:
    connectors = build_connectors(
        _pointed_at(settings, sims), ttls={"customer_experience": {"health": 5}}
    )
    try:
        assert connectors.customer_experience.upstream.ttls["health"] == 5
        assert connectors.customer_experience.upstream.ttls["nps"] == 3600
        assert connectors.support.upstream.cache is connectors.billing.upstream.cache
        await connectors.customer_experience.health("a-1")
        await connectors.customer_experience.health("a-1")
    finally:
        await connectors.aclose()
    assert len(sims["customer_experience"].requests) == 1


async def test_redis_is_the_cache_when_given(settings: Settings, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    connectors = build_connectors(settings, redis)
    try:
        assert isinstance(connectors.cache, RedisCache)
        assert connectors.cache.prefix == "sales-graph:upstream:"
    finally:
        await connectors.aclose()
        await redis.aclose()


async def test_unconfigured_systems_fail_as_not_configured(settings: Settings) -> None:
    connectors = build_connectors(settings)
    try:
        calls = [
            connectors.marketing.campaign("c"),
            connectors.customer_experience.nps("a"),
            connectors.support.feature_requests("a"),
            connectors.billing.get_contract("c"),
            connectors.finance.forecast("Q1_2026"),
        ]
        for call in calls:
            with pytest.raises(UpstreamUnavailable, match="is not configured"):
                await call
    finally:
        await connectors.aclose()


async def test_aclose_closes_the_http_clients(settings: Settings, sims: RunningSimulators) -> None:
    connectors = build_connectors(_pointed_at(settings, sims))
    await connectors.aclose()
    with pytest.raises(UpstreamUnavailable) as caught:
        await connectors.support.escalations("a-1")
    assert caught.value.details["reason"] == "closed"
    assert sims["support"].requests == []
