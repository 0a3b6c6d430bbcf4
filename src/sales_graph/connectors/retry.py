"""When an upstream call is tried again and how long it waits, as tenacity strategies.

tenacity rather than stamina: stamina's jitter is added to the exponential delay, ours is "full
jitter" (tenacity's ``wait_random_exponential``), and stamina's deadline stops after the attempt
that outlasts it, ours never starts a wait that does not fit (tenacity's ``stop_before_delay``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from sales_graph.connectors.errors import CircuitOpen, InvalidPayload
from sales_graph.errors import UpstreamError

# Only these may be repeated without risk of doing the thing twice (RFC 9110 section 9.2.2);
# a POST is repeated only when it carries an Idempotency-Key.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts``; attempt n waits uniform(0, min(cap, base * 2**(n-1))) unless
    the system said how long (``Retry-After``); no wait that would end past the deadline."""

    max_attempts: int = 4
    base_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    retry_statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))

    def retries(self, error: BaseException) -> bool:
        """Whether the failure is worth another attempt: a transport error, a timeout, one of
        ``retry_statuses``; not a bad payload, a refusal or an open circuit."""
        if not isinstance(error, UpstreamError) or isinstance(error, InvalidPayload | CircuitOpen):
            return False
        status = error.details.get("status")
        return status is None or status in self.retry_statuses

    def retrying(
        self,
        *,
        deadline_s: float,
        retry: Callable[[BaseException], bool],
        before_sleep: Callable[[RetryCallState], None],
    ) -> AsyncRetrying:
        """One call's retries; ``retry`` decides on each failure (see :meth:`retries`)."""
        return AsyncRetrying(
            retry=retry_if_exception(retry),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(deadline_s),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = (
            error.details.get("retry_after_s") if isinstance(error, UpstreamError) else None
        )
        if retry_after is not None:
            return float(retry_after)
        backoff = wait_random_exponential(multiplier=self.base_backoff_s, max=self.max_backoff_s)
        return backoff(state)


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
