"""When and how long to wait before trying a call again; ``UpstreamClient.request`` runs the loop.

The loop is ours, not a library's. stamina cannot say it: its jitter is added to the
exponential delay where ours is full jitter, and its timeout stops after an attempt that
outlasts it where ours never starts a wait that does not fit in the deadline. tenacity can
(``wait_random_exponential``, ``stop_after_attempt | stop_before_delay``, ``retry_if_exception``,
``before_sleep``) and passed every connector test (git log: "retries run by tenacity"), but its
``AsyncRetrying`` inspects its callbacks on every call: 70-90 us of CPU per upstream call when the
first attempt succeeds, ~8 % of the ~1 ms a call costs, on the path docs/performance.md names as
what keeps federation above its goal.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

# Only these may be repeated without risk of doing the thing twice (RFC 9110 section 9.2.2);
# a POST is repeated only when it carries an Idempotency-Key.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: attempt n waits uniform(0, min(cap, base * 2**(n-1)))."""

    max_attempts: int = 4
    base_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    retry_statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)


def may_retry(method: str, idempotency_key: str | None) -> bool:
    return method.upper() in IDEMPOTENT_METHODS or idempotency_key is not None


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait per a ``Retry-After`` header: delay-seconds (fractions allowed) or a date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
