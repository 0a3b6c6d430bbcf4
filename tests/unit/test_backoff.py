"""The waits between attempts to reach a service that is away (worker/backoff.py)."""

from __future__ import annotations

import random

from sales_graph.worker.backoff import Backoff


def test_waits_double_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(7))
    nominal = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    waits = [backoff.next() for _ in nominal]
    for wait, expected in zip(waits, nominal, strict=True):
        assert expected / 2 <= wait <= expected
    assert backoff.failures == len(nominal)
    # Jitter: not the nominal waits, and not the same draws for another process.
    assert waits != nominal
    other = Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(8))
    assert [other.next() for _ in nominal] != waits


def test_a_long_outage_stays_at_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0)
    waits = [backoff.next() for _ in range(2000)]
    assert max(waits) <= 30.0
    assert min(waits[5:]) >= 15.0


def test_reset_starts_again_from_the_first_wait() -> None:
    backoff = Backoff(base_s=0.5, cap_s=4.0)
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.failures == 0
    assert 0.25 <= backoff.next() <= 0.5
