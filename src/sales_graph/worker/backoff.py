"""Waits between attempts to reach a service that is away: exponential, with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """The n-th wait of a run of failures is drawn between half of and all of
    ``min(cap_s, base_s * 2 ** (n - 1))``: 1, 2, 4 ... 30 s by default, never two processes in
    step (a broker that comes back is not met by all of them in the same second), never less
    than half the nominal wait (an outage is not hammered). :meth:`reset` after a success."""

    base_s: float = 1.0
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next(self) -> float:
        """Counts a failure; the wait before the next attempt."""
        self.failures += 1
        nominal = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 64))
        return self.rng.uniform(nominal / 2, nominal)

    def reset(self) -> None:
        self.failures = 0
