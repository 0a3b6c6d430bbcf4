"""The upstream systems are listed once (settings.UPSTREAM_SYSTEMS); everything else agrees."""

from __future__ import annotations

import pytest

from sales_graph.connectors import build_connectors
from sales_graph.settings import UPSTREAM_SYSTEMS, Settings, UpstreamSettings
from sales_graph.simulators import SYSTEMS


def test_the_settings_list_every_upstream_system_in_order() -> None:
    assert UPSTREAM_SYSTEMS == ("marketing", "customer_experience", "support", "billing", "finance")
    settings = Settings()
    assert all(isinstance(settings.upstream(s), UpstreamSettings) for s in UPSTREAM_SYSTEMS)


async def test_connectors_and_simulators_cover_exactly_the_listed_systems() -> None:
    connectors = build_connectors(Settings())
    try:
        assert tuple(c.SYSTEM for c in connectors.clients()) == UPSTREAM_SYSTEMS
        assert tuple(connectors.breaker_states()) == UPSTREAM_SYSTEMS
    finally:
        await connectors.aclose()
    assert tuple(SYSTEMS) == UPSTREAM_SYSTEMS


def test_an_unknown_system_has_no_settings() -> None:
    settings = Settings()
    for name in ("auth", "graphql", "nope", "upstream"):
        with pytest.raises(KeyError):
            settings.upstream(name)
