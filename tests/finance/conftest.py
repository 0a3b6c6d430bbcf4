"""The Finance tests' gateway: PostgreSQL, the simulators over HTTP, a sync configured for
tests (batches of two deals, the simulator's flat "standard" plan, one-second deadlines)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sales_graph.app import create_app
from sales_graph.settings import FinanceSyncSettings
from sales_graph.simulators.runner import RunningSimulators
from tests.federation.conftest import sims, upstream_settings
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

__all__ = ["sims"]

SYNC = FinanceSyncSettings(
    enabled=False,  # the tests run the scheduled job's slots themselves
    commission_batch_size=2,
    commission_plan_id="standard",  # the simulator's flat 10 %
    deadline_s=1.0,
    retry_base_backoff_s=0.01,
    retry_max_backoff_s=0.05,
)


@pytest.fixture
async def gateway(
    fresh_postgres: str, tmp_path: Path, sims: RunningSimulators
) -> AsyncIterator[Gateway]:
    org = await seeded_org(fresh_postgres)
    settings = gateway_settings(
        tmp_path,
        fresh_postgres,
        finance_sync=SYNC,
        # Finance's breaker opens in the outage test; it lets a call through soon after.
        **upstream_settings(sims, {"finance": {"breaker_reset_timeout_s": 0.1}}),
    )
    app = create_app(settings)
    async with app_client(app) as client:
        yield Gateway(client, app, org, "postgresql")
