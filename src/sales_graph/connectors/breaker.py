"""A circuit breaker per external system, so that a failing system is not hammered and callers
fail fast instead of waiting for a deadline.

closed --N consecutive failures--> open --cool-down--> half-open --trial succeeds--> closed
                                     ^                      |
                                     +---trial fails--------+
In half-open exactly one call (the trial) goes through; the others fail fast until it ends.
Ours rather than pybreaker: it guards coroutines only through Tornado, and a cancelled trial
must hand its turn on (:meth:`CircuitBreaker.release`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from sales_graph.logs import get_logger
from sales_graph.telemetry.metrics import breaker_state


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_EVENTS = {
    BreakerState.OPEN: "circuit_opened",
    BreakerState.HALF_OPEN: "circuit_half_opened",
    BreakerState.CLOSED: "circuit_closed",
}


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str | None = None,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self.name = name
        # Per instance: a module-level logger is bound once and then ignores test log capture.
        self._log = get_logger(__name__)
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.retry_in_s() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in_s(self) -> float:
        """Seconds until the breaker lets a trial call through (0 unless open)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout_s - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; a True in half-open makes that call the trial."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if self.retry_in_s() > 0:
                return False
            self._move(BreakerState.HALF_OPEN)
        if self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        self._trial_in_flight = False
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN)

    def release(self) -> None:
        """The call ended with no verdict (cancelled): let the next call be the trial."""
        self._trial_in_flight = False

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is new:
            return
        breaker_state(self.name or "upstream", new.value)
        event = f"connector.{self.name or 'upstream'}.{_EVENTS[new]}"
        log = self._log.error if new is BreakerState.OPEN else self._log.info
        log(
            event,
            system=self.name,
            previous=old.value,
            consecutive_failures=self._failures,
            reset_timeout_s=self.reset_timeout_s,
        )
