"""The circuit breaker, alone on a fake clock and in front of a failing simulator."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from sales_graph.connectors import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    CustomerExperienceClient,
    RetryPolicy,
)
from sales_graph.errors import UpstreamUnavailable
from sales_graph.simulators import RunningSimulators
from tests.connectors.conftest import Connect, FakeClock

CX = "customer_experience"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh (mypy would otherwise keep the state an earlier assert narrowed to)."""
    return breaker.state


def test_opens_after_n_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=10, clock=FakeClock())
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # resets the count
    for _ in range(2):
        breaker.record_failure()
    assert state_of(breaker) is BreakerState.CLOSED
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_half_opens_after_the_cool_down_for_one_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    breaker.record_failure()
    clock.advance(9.9)
    assert not breaker.allow()
    assert breaker.retry_in_s() == pytest.approx(0.1)
    clock.advance(0.1)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # the trial is in flight
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.allow()


def test_a_failed_trial_opens_again_for_a_full_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    clock.advance(9)
    assert not breaker.allow()


def test_a_cancelled_trial_lets_the_next_call_try() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=1, clock=clock)
    breaker.record_failure()
    clock.advance(1)
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


async def test_an_open_circuit_fails_fast_without_calling_the_system(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=5, clock=clock)
    client = connect(CustomerExperienceClient, breaker=breaker, retry=ONE_ATTEMPT)
    sims[CX].set_knobs(outage=True)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.health("acc-1")
        assert not isinstance(caught.value, CircuitOpen)
    for _ in range(5):
        with pytest.raises(CircuitOpen) as fast:
            await client.health("acc-1")
    assert fast.value.details == {"system": CX, "circuit": "open", "retry_in_s": 5.0}
    assert len(sims[CX].requests) == 3

    sims[CX].set_knobs(outage=False)
    clock.advance(5)
    assert (await client.health("acc-1")).account_id == "acc-1"
    assert state_of(breaker) is BreakerState.CLOSED
    assert len(sims[CX].requests) == 4


async def test_half_open_lets_exactly_one_call_through(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    client = connect(CustomerExperienceClient, breaker=breaker, retry=ONE_ATTEMPT)
    sims[CX].set_knobs(outage=True)
    with pytest.raises(UpstreamUnavailable):
        await client.usage("acc-1")
    sims[CX].set_knobs(outage=False, latency_ms=200)
    clock.advance(5)
    trial, other = await asyncio.gather(
        client.usage("acc-1"), client.usage("acc-2"), return_exceptions=True
    )
    assert not isinstance(trial, BaseException)
    assert trial.account_id == "acc-1"
    assert isinstance(other, CircuitOpen)
    assert other.details["circuit"] == "half_open"
    assert [r.path for r in sims[CX].requests] == ["/api/v1/accounts/acc-1/usage"] * 2


async def test_a_failing_trial_keeps_the_circuit_open(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    client = connect(CustomerExperienceClient, breaker=breaker)
    sims[CX].set_knobs(outage=True)
    with pytest.raises(UpstreamUnavailable):
        await client.nps("acc-1")
    clock.advance(5)
    with pytest.raises(UpstreamUnavailable):
        await client.nps("acc-1")  # the trial: one request, no retries once the circuit reopens
    with pytest.raises(CircuitOpen):
        await client.nps("acc-1")
    assert len(sims[CX].requests) == 2


async def test_failed_retries_count_and_opening_ends_the_retries(
    sims: RunningSimulators, connect: Connect
) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=60)
    retry = RetryPolicy(max_attempts=10, base_backoff_s=0.001, max_backoff_s=0.001)
    client = connect(CustomerExperienceClient, breaker=breaker, retry=retry)
    sims[CX].set_knobs(error_rate=1.0)
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.tickets("acc-1")
    assert caught.value.details["status"] == 503
    assert len(sims[CX].requests) == 3
    assert state_of(breaker) is BreakerState.OPEN


async def test_opening_and_closing_are_logged_under_the_systems_name(
    sims: RunningSimulators, connect: Connect
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=1, clock=clock)
    client = connect(CustomerExperienceClient, breaker=breaker, retry=ONE_ATTEMPT)
    sims[CX].set_knobs(fail_next=1)
    with capture_logs() as logs:
        with pytest.raises(UpstreamUnavailable):
            await client.health("acc-1")
        clock.advance(1)
        await client.health("acc-1")
    events = [e["event"] for e in logs if e["event"].startswith("connector.customer_experience.c")]
    assert events == [
        "connector.customer_experience.circuit_opened",
        "connector.customer_experience.circuit_half_opened",
        "connector.customer_experience.circuit_closed",
    ]


async def test_every_call_is_logged_with_system_endpoint_status_and_duration(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(CustomerExperienceClient, retry=ONE_ATTEMPT)
    with capture_logs() as logs:
        await client.health("acc-log")
    [line] = [e for e in logs if e["event"] == "connector.customer_experience.response"]
    assert line["path"].endswith("/acc-log/health")
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
