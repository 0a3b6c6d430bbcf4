"""The embedded footprint's in-process bus (worker/bus.py): handler retries and its dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from sales_graph.worker.bus import Bus


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    running = Bus(max_attempts=3, backoff_s=0.02)
    running.start()
    yield running
    await running.stop()


class Flaky:
    """Fails its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[float] = []

    async def __call__(self, envelope: dict[str, Any]) -> None:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"failure {len(self.calls)}")


async def test_a_failing_handler_is_retried_after_growing_waits(bus: Bus) -> None:
    handler = Flaky(failures=2)
    bus.subscribe("billing", handler)
    with capture_logs() as logs:
        bus.put("billing", "k", {"event_id": "e-1", "event_type": "opportunity.closed_won"})
        await bus.drain()
    assert len(handler.calls) == 3
    first, second, third = handler.calls
    assert second - first >= 0.02  # backoff_s after the first attempt
    assert third - second >= 0.04  # twice that after the second
    assert bus.dead_letters == []
    failed = [e for e in logs if e["event"] == "events.handler_failed"]
    assert [(e["attempt"], e["error"], e["event_id"]) for e in failed] == [
        (1, "RuntimeError: failure 1", "e-1"),
        (2, "RuntimeError: failure 2", "e-1"),
    ]


async def test_a_handler_that_keeps_failing_dead_letters_the_event(bus: Bus) -> None:
    handler = Flaky(failures=10)
    after = Flaky(failures=0)
    bus.subscribe("billing", handler)
    bus.subscribe("forecasts", after)
    bus.put("billing", "k", {"event_id": "e-2"})
    bus.put("forecasts", "k", {"event_id": "e-3"})
    await bus.drain()
    assert len(handler.calls) == 3
    assert bus.dead_letters == [({"event_id": "e-2"}, "RuntimeError: failure 3")]
    assert len(after.calls) == 1  # the next event is handled


async def test_stopping_cancels_a_handler_without_retrying_it() -> None:
    bus = Bus(max_attempts=5, backoff_s=0)
    started = asyncio.Event()
    calls = 0

    async def waits(envelope: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.Event().wait()

    bus.subscribe("billing", waits)
    bus.start()
    bus.put("billing", "k", {"event_id": "e-4"})
    await started.wait()
    await asyncio.wait_for(bus.stop(), 1)
    assert calls == 1
    assert bus.dead_letters == []
