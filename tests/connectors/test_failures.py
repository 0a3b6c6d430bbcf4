"""Timeouts, outages, unreachable and unconfigured systems, and bad payloads become our errors."""

from __future__ import annotations

import socket
import time

import pytest

from sales_graph.connectors import (
    BillingClient,
    CustomerExperienceClient,
    InvalidPayload,
    RetryPolicy,
    SupportClient,
    UpstreamRejected,
)
from sales_graph.connectors.errors import UpstreamNotFound
from sales_graph.errors import UpstreamTimeout, UpstreamUnavailable
from sales_graph.settings import UpstreamSettings
from sales_graph.simulators import RunningSimulators
from tests.connectors.conftest import Connect

CX = "customer_experience"


async def test_latency_above_the_deadline_is_an_upstream_timeout(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims[CX].set_knobs(latency_ms=2000)
    client = connect(CustomerExperienceClient, deadline_s=0.3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        await client.health("acc-1")
    assert 0.3 <= time.monotonic() - started < 0.6
    assert caught.value.code == "UPSTREAM_TIMEOUT"
    assert caught.value.details["system"] == CX
    assert caught.value.details["deadline_s"] == 0.3
    assert CX in caught.value.message


async def test_a_read_timeout_is_retried_within_the_deadline(
    sims: RunningSimulators, connect: Connect
) -> None:
    sims[CX].set_knobs(latency_ms=2000)
    retry = RetryPolicy(max_attempts=10, base_backoff_s=0.001, max_backoff_s=0.001)
    client = connect(CustomerExperienceClient, retry=retry, read_timeout_s=0.1, deadline_s=1.0)
    with pytest.raises(UpstreamTimeout):
        await client.health("acc-1")
    assert len(sims[CX].requests) >= 2


async def test_an_outage_is_upstream_unavailable(sims: RunningSimulators, connect: Connect) -> None:
    sims["support"].set_knobs(outage=True)
    with pytest.raises(UpstreamUnavailable) as caught:
        await connect(SupportClient, retry=RetryPolicy(max_attempts=2)).escalations("acc-1")
    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert caught.value.details["status"] == 503
    assert caught.value.details["upstream_code"] == "UNAVAILABLE"
    assert len(sims["support"].requests) == 2


async def test_an_unreachable_system_is_upstream_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens
    settings = UpstreamSettings(base_url=f"http://127.0.0.1:{port}", deadline_s=1)
    client = SupportClient.from_settings(settings, retry=RetryPolicy(max_attempts=2))
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.critical_tickets("acc-1")
    finally:
        await client.aclose()
    assert caught.value.details["error"] == "ConnectError"
    assert caught.value.message.startswith("support is unreachable")
    assert client.upstream.breaker.consecutive_failures == 2


async def test_a_system_without_base_url_is_not_configured() -> None:
    client = BillingClient.from_settings(UpstreamSettings())
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.get_contract("ctr_1")
    assert caught.value.details == {"system": "billing", "reason": "not_configured"}
    assert not client.upstream.configured
    await client.aclose()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("invalid", "account_id"), ("not_json", "not JSON"), ("oversized", "too_large")],
)
async def test_a_bad_payload_is_invalid_payload_not_a_crash(
    sims: RunningSimulators, connect: Connect, mode: str, reason: str
) -> None:
    sims[CX].set_knobs(payload=mode)
    client = connect(CustomerExperienceClient)
    with pytest.raises(InvalidPayload) as caught:
        await client.health("acc-1")
    assert isinstance(caught.value, UpstreamUnavailable)
    assert reason in caught.value.details["reason"]
    assert len(sims[CX].requests) == 1  # the same body would come back: not retried
    assert client.upstream.breaker.consecutive_failures == 1


async def test_a_body_over_the_configured_limit_is_refused(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(CustomerExperienceClient, max_response_bytes=64)
    with pytest.raises(InvalidPayload) as caught:
        await client.usage("acc-1")
    assert caught.value.details["limit"] == 64


async def test_a_wrong_api_key_is_rejected_not_retried_and_not_a_failure(
    sims: RunningSimulators, connect: Connect
) -> None:
    client = connect(CustomerExperienceClient, api_key="not-the-key")
    with pytest.raises(UpstreamRejected) as caught:
        await client.health("acc-1")
    assert caught.value.details["status"] == 401
    assert caught.value.details["upstream_code"] == "UNAUTHORIZED"
    assert len(sims[CX].requests) == 1
    assert client.upstream.breaker.consecutive_failures == 0


async def test_an_id_with_slashes_stays_one_path_segment(
    sims: RunningSimulators, connect: Connect
) -> None:
    with pytest.raises(UpstreamNotFound):
        await connect(CustomerExperienceClient).health("a/../../contracts")
    assert sims[CX].requests[0].raw_path == "/api/v1/accounts/a%2F..%2F..%2Fcontracts/health"


async def test_a_dot_dot_id_is_sent_as_an_id_not_a_step_up(
    sims: RunningSimulators, connect: Connect
) -> None:
    health = await connect(CustomerExperienceClient).health("..")
    assert health.account_id == ".."
    assert sims[CX].requests[0].raw_path == "/api/v1/accounts/%2E%2E/health"
