"""The five simulated systems by name, in the order the runner assigns them ports."""

from __future__ import annotations

from collections.abc import Callable

from sales_graph.simulators import billing, customer_experience, finance, marketing, support
from sales_graph.simulators.core import Simulator, SystemApi

# Each simulator names its system (its module's SYSTEM); the gateway's list is
# settings.UPSTREAM_SYSTEMS, and tests/unit/test_systems.py checks that they agree.
SYSTEMS: dict[str, Callable[[int], SystemApi]] = {
    marketing.SYSTEM: marketing.MarketingApi,
    customer_experience.SYSTEM: customer_experience.CustomerExperienceApi,
    support.SYSTEM: support.SupportApi,
    billing.SYSTEM: billing.BillingApi,
    finance.SYSTEM: finance.FinanceApi,
}


def default_api_key(system: str) -> str:
    return f"sim-{system.replace('_', '-')}-key"


def create_simulator(system: str, *, api_key: str | None = None, seed: int = 0) -> Simulator:
    """One simulated system; ``api_key`` defaults to ``sim-<system>-key``."""
    try:
        api = SYSTEMS[system](seed)
    except KeyError:
        raise ValueError(f"unknown system {system!r}; expected one of {sorted(SYSTEMS)}") from None
    return Simulator(system, api, api_key=api_key or default_api_key(system), seed=seed)
