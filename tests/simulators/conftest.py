from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sales_graph.simulators import RunningSimulators, serve_simulators


@pytest.fixture
async def sims() -> AsyncIterator[RunningSimulators]:
    running = await serve_simulators(api_keys={"billing": "billing-secret"})
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def auth(sims: RunningSimulators, system: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sims.api_keys[system]}"}
