"""One outage, one degraded line and one recovered line: the failures of connections that were
pooled before the restart, just after the recovery, belong to the outage that ended."""

from __future__ import annotations

from structlog.testing import capture_logs

from sales_graph.degradation import Component, Dependency


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _lines(logs: list[dict[str, object]], event: str) -> int:
    return sum(1 for line in logs if line["event"] == event)


def test_stale_connections_failing_after_a_recovery_do_not_make_a_second_outage() -> None:
    clock = Clock()
    redis = Dependency("redis", clock=clock, settle_s=10)
    error = ConnectionError("Connection closed by server.")
    with capture_logs() as logs:
        redis.failed(Component.RATE_LIMITER, error)
        redis.failed(Component.UPSTREAM_CACHE, error)
        clock.now += 30
        redis.succeeded()
        clock.now += 4  # an old pooled connection fails once, then a new one works
        redis.failed(Component.UPSTREAM_CACHE, error)
        redis.succeeded()
    assert redis.outages == 1
    assert _lines(logs, "dependency.degraded") == 1
    assert _lines(logs, "dependency.recovered") == 1
    recovered = next(line for line in logs if line["event"] == "dependency.recovered")
    assert recovered["outage_s"] == 30
    assert recovered["degraded_operations"] == 2


def test_a_failure_after_the_settling_time_is_a_new_outage() -> None:
    clock = Clock()
    redis = Dependency("redis", clock=clock, settle_s=10)
    with capture_logs() as logs:
        redis.failed(Component.WEBHOOK_IDS, ConnectionError("refused"))
        redis.succeeded()
        clock.now += 11
        redis.failed(Component.WEBHOOK_IDS, ConnectionError("refused"))
        redis.succeeded()
    assert redis.outages == 2
    assert _lines(logs, "dependency.degraded") == 2
    assert _lines(logs, "dependency.recovered") == 2
