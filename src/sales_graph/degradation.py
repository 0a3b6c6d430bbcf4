"""An optional dependency (Redis) being away: counted and logged once per outage, not per call.

The components that serve without Redis (the rate limiter counts in process, the upstream and
forecast caches read as misses, the seen webhook ids are kept in process) report to the
process's :data:`REDIS`: :meth:`Dependency.failed` for a call that failed,
:meth:`Dependency.bypassed` for an operation served degraded without calling it (the rate limiter
leaves Redis alone for a while after a failure), :meth:`Dependency.succeeded` for a call that
worked. The first failure of an outage logs ``dependency.degraded`` (warning: dependency,
component, error) and counts ``sales_graph_dependency_degradations_total{dependency}`` once;
every degraded operation counts ``sales_graph_degraded_operations_total{dependency,component}``
and logs nothing; the first success after the outage logs ``dependency.recovered`` (info:
``outage_s``, ``degraded_operations``). While nothing is wrong a success costs one attribute
read: no lock, no log, no metric. A failure within ``settle_s`` (10 s) of a recovery belongs to
the outage that just ended (the pooled connections of before the restart fail once each): it is
counted as a degraded operation, and its own end is not logged again.

Per process, like the metrics: each process sees, counts and logs its own outages. The readiness
gauge ``sales_graph_dependency_up`` is ``/readyz``'s (web/health.py), not this module's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from sales_graph.logs import get_logger
from sales_graph.telemetry import metrics

_log = get_logger("sales_graph.degradation")


class Component(StrEnum):
    """What degrades: the ``component`` label's only values."""

    RATE_LIMITER = "rate_limiter"
    UPSTREAM_CACHE = "upstream_cache"
    FORECAST_CACHE = "forecast_cache"
    WEBHOOK_IDS = "webhook_ids"


class Dependency:
    """The outage state of one dependency in this process."""

    def __init__(
        self, name: str, *, clock: Callable[[], float] = time.monotonic, settle_s: float = 10.0
    ) -> None:
        self.name = name
        self.settle_s = settle_s
        # Read without the lock on every success: only a change of it takes the lock.
        self.degraded = False
        # Outages this process has seen (the log lines and the counter say the same).
        self.outages = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._since = 0.0
        self._operations = 0
        self._recovered_at: float | None = None
        self._quiet = False  # the outage in progress is the tail of the last one

    def failed(self, component: Component, error: BaseException) -> None:
        """A call of ``component`` to the dependency failed; its operation is served degraded
        (or, for a caller that must know, raises after this)."""
        with self._lock:
            beginning = not self.degraded
            if beginning:
                self.degraded = True
                now = self._clock()
                recovered_at = self._recovered_at
                self._quiet = recovered_at is not None and now - recovered_at < self.settle_s
                if self._quiet:
                    beginning = False
                else:
                    self.outages += 1
                    self._since = now
                    self._operations = 0
            self._operations += 1
        metrics.degraded_operation(self.name, component.value)
        if beginning:
            metrics.dependency_degraded(self.name)
            _log.warning(
                "dependency.degraded",
                dependency=self.name,
                component=component.value,
                # Not repr(): redis-py's says only "network:ConnectionError".
                error=f"{type(error).__name__}: {error}",
            )

    def bypassed(self, component: Component) -> None:
        """An operation of ``component`` served degraded without calling the dependency."""
        if self.degraded:
            with self._lock:
                self._operations += 1
        metrics.degraded_operation(self.name, component.value)

    def succeeded(self) -> None:
        """A call to the dependency worked: ends the outage, if there is one."""
        if self.degraded:
            self._recovered()

    def _recovered(self) -> None:
        with self._lock:
            if not self.degraded:
                return
            self.degraded = False
            now = self._clock()
            outage_s = now - self._since
            operations = self._operations
            quiet, self._quiet = self._quiet, False
            if not quiet:
                self._recovered_at = now
        if quiet:
            return
        _log.info(
            "dependency.recovered",
            dependency=self.name,
            outage_s=round(outage_s, 3),
            degraded_operations=operations,
        )

    def reset(self) -> None:
        """Forgets an outage in progress without logging its end (tests)."""
        with self._lock:
            self.degraded = False
            self._operations = 0
            self._recovered_at = None
            self._quiet = False


REDIS = Dependency("redis")
