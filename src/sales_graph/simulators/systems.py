"""The five simulated systems by name, in the order the runner assigns them ports."""

from __future__ import annotations

from collections.abc import Callable

from sales_graph.simulators.billing import BillingApi
from sales_graph.simulators.core import Simulator, SystemApi
from sales_graph.simulators.customer_experience import CustomerExperienceApi
from sales_graph.simulators.finance import FinanceApi
from sales_graph.simulators.marketing import MarketingApi
from sales_graph.simulators.support import SupportApi

SYSTEMS: dict[str, Callable[[int], SystemApi]] = {
    "marketing": MarketingApi,
    "customer_experience": CustomerExperienceApi,
    "support": SupportApi,
    "billing": BillingApi,
    "finance": FinanceApi,
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
