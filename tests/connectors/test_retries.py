"""Which calls are retried, how often, and for how long."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from sales_graph.connectors import CustomerExperienceClient, MarketingClient, RetryPolicy
from sales_graph.connectors.errors import UpstreamNotFound
from sales_graph.connectors.marketing import LeadSyncUpdate
from sales_graph.errors import UpstreamError, UpstreamUnavailable
from sales_graph.simulators import RunningSimulators
from tests.connectors.conftest import Connect, statuses

CX = "customer_experience"


async def test_a_get_is_retried_on_503_until_it_succeeds(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims[CX].set_knobs(fail_next=2)
    health = await connect(CustomerExperienceClient).health("acc-1")
    assert health.account_id == "acc-1"
    assert statuses(sims, CX) == [503, 503, 200]


@pytest.mark.parametrize("status", [429, 502, 504])
async def test_other_transient_statuses_are_retried(
    sims: RunningSimulators, connect: Connect, status: int
) -> None:
    sims[CX].set_knobs(fail_next=1, status_on_error=status)
    await connect(CustomerExperienceClient).nps("acc-1")
    assert statuses(sims, CX) == [status, 200]


async def test_retries_stop_at_the_deadline(sims: RunningSimulators, connect: Connect) -> None:
    sims[CX].set_knobs(error_rate=1.0)
    retry = RetryPolicy(max_attempts=1000, base_backoff_s=0.02, max_backoff_s=0.05)
    client = connect(CustomerExperienceClient, retry=retry, deadline_s=0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamError):
        await client.usage("acc-1")
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 0.15
    assert len(sims[CX].requests) >= 4
    assert sims[CX].requests[-1].monotonic - started < 0.5


async def test_attempts_are_capped_by_the_policy(sims: RunningSimulators, connect: Connect) -> None:
    sims[CX].set_knobs(error_rate=1.0)
    with pytest.raises(UpstreamUnavailable) as caught:
        await connect(CustomerExperienceClient).usage("acc-1")
    assert len(sims[CX].requests) == 4
    assert caught.value.details["status"] == 503
    assert caught.value.details["system"] == CX


async def test_a_post_without_idempotency_key_is_not_retried(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims["marketing"].set_knobs(fail_next=1)
    with pytest.raises(UpstreamUnavailable) as caught:
        await connect(MarketingClient).sync_lead("lead-1", LeadSyncUpdate(status="working"))
    assert caught.value.details["status"] == 503
    assert statuses(sims, "marketing") == [503]


async def test_a_post_with_idempotency_key_is_retried_with_the_same_key(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims["marketing"].set_knobs(fail_next=1)
    synced = await connect(MarketingClient).sync_lead(
        "lead-1", LeadSyncUpdate(status="working"), idempotency_key="sync-lead-1"
    )
    assert synced.sales_status == "working"
    requests = sims["marketing"].requests
    assert [r.status for r in requests] == [503, 200]
    assert {r.headers["idempotency-key"] for r in requests} == {"sync-lead-1"}
    assert requests[0].body == requests[1].body
    assert requests[0].body["status"] == "working"


async def test_retry_after_is_honoured(sims: RunningSimulators, connect: Connect) -> None:
    sims[CX].set_knobs(fail_next=1, retry_after_s=0.3)
    retry = RetryPolicy(max_attempts=3, base_backoff_s=0.001, max_backoff_s=0.001)
    await connect(CustomerExperienceClient, retry=retry).health("acc-1")
    first, second = sims[CX].requests
    assert (first.status, second.status) == (503, 200)
    assert second.monotonic - first.monotonic >= 0.3


async def test_a_retry_after_beyond_the_deadline_fails_at_once(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims[CX].set_knobs(fail_next=1, retry_after_s=5)
    client = connect(CustomerExperienceClient, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.health("acc-1")
    assert time.monotonic() - started < 0.5
    assert caught.value.details["retry_after_s"] == 5
    assert len(sims[CX].requests) == 1


async def test_a_500_is_not_retried(sims: RunningSimulators, connect: Connect) -> None:
    sims[CX].set_knobs(fail_next=1, status_on_error=500)
    with pytest.raises(UpstreamUnavailable) as caught:
        await connect(CustomerExperienceClient).health("acc-1")
    assert caught.value.details["status"] == 500
    assert caught.value.details["upstream_code"] == "INJECTED"
    assert len(sims[CX].requests) == 1


async def test_a_404_is_not_found_not_retried_and_not_a_failure(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(CustomerExperienceClient)
    with pytest.raises(UpstreamNotFound) as caught:
        await client.health("missing-acc")
    assert caught.value.code == "NOT_FOUND"
    assert caught.value.details["status"] == 404
    assert len(sims[CX].requests) == 1
    assert client.upstream.breaker.consecutive_failures == 0


async def test_each_failed_attempt_is_logged_with_its_context(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims[CX].set_knobs(fail_next=1)
    client = connect(CustomerExperienceClient)
    with capture_logs() as logs:
        await client.health("acc-1")
    failed = [e for e in logs if e["event"] == "connector.customer_experience.request_failed"]
    assert len(failed) == 1
    assert failed[0]["system"] == CX
    assert failed[0]["method"] == "GET"
    assert failed[0]["path"] == "/api/v1/accounts/acc-1/health"
    assert failed[0]["attempt"] == 1
    assert failed[0]["status"] == 503
    assert failed[0]["retry_in_s"] is not None
