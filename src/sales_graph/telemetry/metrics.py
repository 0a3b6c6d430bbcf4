"""The Prometheus metrics of sales-graph (docs/operations.md, "Metrics", lists each one).

Every label has a bounded set of values: route templates, never paths; GraphQL operation names
capped in length and number; systems, topics and buckets from the configuration. The recording
functions keep the labelled children they made, so that a request costs dictionary look-ups and
increments, not label resolution.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``sales-graph serve --workers N``) the values live in that
directory and :func:`exposition` sums the processes; without it, they live in this process.
"""

from __future__ import annotations

import re
import time
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from sales_graph.telemetry.multiproc import directory

# Seconds. The gateway's own work is 1-3 ms a request: the low buckets tell those apart.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

UNMATCHED_ROUTE = "unmatched"

# Off (SALES_GRAPH_METRICS__ENABLED=false): every recording function returns at once.
_recording = True


def record(on: bool) -> None:
    """Whether this process records metrics at all (set once at startup)."""
    global _recording
    _recording = on


def recording() -> bool:
    return _recording


OTHER = "other"
ANONYMOUS = "anonymous"

HTTP_REQUESTS = Counter(
    "sales_graph_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "sales_graph_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "sales_graph_graphql_operations",
    "GraphQL operations run on /graphql, by operation name and type.",
    ["operation", "type"],
)
GRAPHQL_DURATION = Histogram(
    "sales_graph_graphql_operation_duration_seconds",
    "Time to run a GraphQL operation on /graphql (parse to result), by name and type.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "sales_graph_graphql_errors",
    "Errors in GraphQL results on /graphql, by operation name, type and extensions.code.",
    ["operation", "type", "code"],
)
DB_DURATION = Histogram(
    "sales_graph_db_statement_duration_seconds",
    "Database statements (their count is _count) and their time, by dialect and kind.",
    ["dialect", "kind"],
    buckets=DB_BUCKETS,
)
UPSTREAM_CALLS = Counter(
    "sales_graph_upstream_calls",
    "Calls to an upstream system (retries included in one call), by system and outcome.",
    ["system", "outcome"],
)
UPSTREAM_DURATION = Histogram(
    "sales_graph_upstream_call_duration_seconds",
    "Time of a call to an upstream system, retries and waits included, by system.",
    ["system"],
    buckets=UPSTREAM_BUCKETS,
)
UPSTREAM_CACHE = Counter(
    "sales_graph_upstream_cache_lookups",
    "Reads of an upstream system looked up in the cache, by system and result (hit, miss).",
    ["system", "result"],
)
UPSTREAM_STALE = Counter(
    "sales_graph_upstream_stale_served",
    "Reads answered from a stale cached copy because the system failed, by system.",
    ["system"],
)
BREAKER_STATE = Gauge(
    "sales_graph_upstream_breaker_state",
    "The circuit breaker of a system: 0 closed, 1 half-open, 2 open (highest of the processes).",
    ["system"],
    multiprocess_mode="livemax",
)
DEPENDENCY_UP = Gauge(
    "sales_graph_dependency_up",
    "Whether a dependency answered the last readiness check: 1 yes, 0 no (lowest of the "
    "processes); Redis or Kafka at 0 is a degraded gateway, the database at 0 an unready one.",
    ["dependency"],
    multiprocess_mode="livemin",
)
DEPENDENCY_DEGRADATIONS = Counter(
    "sales_graph_dependency_degradations",
    "Outages of an optional dependency (Redis) this process served through, degraded: one per "
    "outage, counted at its first failed call.",
    ["dependency"],
)
DEGRADED_OPERATIONS = Counter(
    "sales_graph_degraded_operations",
    "Operations served degraded because an optional dependency failed or was being left alone "
    "(a rate limit counted in process, a cache read as a miss ...), by dependency and component.",
    ["dependency", "component"],
)
RATE_LIMIT_REFUSALS = Counter(
    "sales_graph_rate_limit_refusals",
    "Requests refused with 429, by the bucket whose limit they went over.",
    ["bucket"],
)
OUTBOX_PENDING = Gauge(
    "sales_graph_outbox_pending_rows",
    "Outbox rows not yet published (and not parked), as last sampled.",
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST_AGE = Gauge(
    "sales_graph_outbox_oldest_pending_age_seconds",
    "Age of the oldest pending outbox row when last sampled (0 when none is pending).",
    multiprocess_mode="livemax",
)
OUTBOX_PARKED = Gauge(
    "sales_graph_outbox_parked_rows",
    "Outbox rows parked after too many failed attempts (they wait for sales-graph outbox).",
    multiprocess_mode="livemax",
)
EVENTS_PUBLISHED = Counter(
    "sales_graph_events_published",
    "Events the outbox relay published, by topic.",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "sales_graph_consumer_lag_messages",
    "Messages not yet consumed (high-water mark minus position), by consumer, topic, partition.",
    ["consumer", "topic", "partition"],
    multiprocess_mode="livemax",
)
DEAD_LETTERS = Counter(
    "sales_graph_dead_letters",
    "Messages a consumer sent to <topic>.dlq, by the topic they came from.",
    ["topic"],
)
WEBHOOK_ATTEMPTS = Counter(
    "sales_graph_webhook_attempts",
    "Attempts to deliver an event to a partner's webhook endpoint, by outcome.",
    ["outcome"],
)
JOB_LAST_SUCCESS = Gauge(
    "sales_graph_scheduled_job_last_success_timestamp_seconds",
    "Unix time at which the last successful run of a scheduled job finished, by task.",
    # Not "job": Prometheus owns that label (the scrape job) and would rename ours.
    ["task"],
    multiprocess_mode="livemax",
)

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_http: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    """One answered request; ``route`` is the template (or :data:`UNMATCHED_ROUTE`)."""
    if not _recording:
        return
    key = (route, method, status)
    children = _http.get(key)
    if children is None:
        label = method if method in _HTTP_METHODS else OTHER
        children = (
            HTTP_REQUESTS.labels(route, label, str(status)),
            HTTP_DURATION.labels(route, label),
        )
        if len(_http) < 10_000:  # route x method x status is bounded; this guards the cache
            _http[key] = children
    children[0].inc()
    children[1].observe(seconds)


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})


class OperationNames:
    """Which GraphQL operation names become label values: valid names of at most
    ``max_length`` characters, the first ``limit`` distinct ones of this process; the rest
    are ``other``, an operation without a name is ``anonymous``."""

    def __init__(self, limit: int = 100, max_length: int = 64) -> None:
        self.limit = limit
        self.max_length = max_length
        self._known: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._known:
            return name
        if len(name) > self.max_length or not _NAME.fullmatch(name):
            return OTHER
        if len(self._known) >= self.limit:
            return OTHER
        self._known.add(name)
        return name

    def forget(self) -> None:
        self._known.clear()


OPERATION_NAMES = OperationNames()


def configure_operation_names(limit: int, max_length: int = 64) -> None:
    """The cap of :data:`OPERATION_NAMES` (``SALES_GRAPH_METRICS__GRAPHQL_OPERATION_NAMES``),
    counted from now: the app sets it once when it is built."""
    OPERATION_NAMES.limit = limit
    OPERATION_NAMES.max_length = max_length
    OPERATION_NAMES.forget()


_graphql: dict[tuple[str, str], tuple[Any, Any]] = {}


def graphql_operation(
    name: str | None,
    operation_type: str,
    seconds: float,
    error_codes: Iterable[str | None] = (),
    *,
    ran: bool = True,
) -> None:
    """One operation run on /graphql, with the ``extensions.code`` of each error it returned.
    One refused before any field ran (no credentials, an invalid document, a limit) counts as
    ``other``: a name that ran nothing takes none of the label values a name may have."""
    if not _recording:
        return
    operation = OPERATION_NAMES.label(name) if ran else OTHER
    kind = operation_type if operation_type in _OPERATION_TYPES else "unknown"
    children = _graphql.get((operation, kind))
    if children is None:
        children = _graphql[(operation, kind)] = (
            GRAPHQL_OPERATIONS.labels(operation, kind),
            GRAPHQL_DURATION.labels(operation, kind),
        )
    children[0].inc()
    children[1].observe(seconds)
    for code in error_codes:
        label = code if code and _CODE.fullmatch(code) else OTHER
        GRAPHQL_ERRORS.labels(operation, kind, label).inc()


_STATEMENT_KINDS = ("select", "insert", "update", "delete")
_STARTED = "sales_graph.metrics.statement_started"


def statement_kind(statement: str) -> str:
    head = statement[:24].lstrip()[:6].lower()
    return head if head in _STATEMENT_KINDS else OTHER


def instrument_sqlalchemy(sync_engine: Any) -> None:
    """Times every statement of a SQLAlchemy engine (``AsyncEngine.sync_engine``)."""
    from sqlalchemy import event

    dialect = str(sync_engine.dialect.name)
    children = {kind: DB_DURATION.labels(dialect, kind) for kind in (*_STATEMENT_KINDS, OTHER)}
    clock = time.perf_counter

    def before(conn: Any, _cursor: Any, _statement: str, *_: Any) -> None:
        if not _recording:
            return
        # One statement at a time per connection: a start left by a failed one is overwritten.
        conn.info[_STARTED] = clock()

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is not None:
            children[statement_kind(statement)].observe(clock() - started)

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)


_upstream: dict[tuple[str, str], tuple[Any, Any]] = {}


def upstream_call(system: str, outcome: str, seconds: float) -> None:
    """One call to ``system``: ``ok`` or what it failed with (docs/operations.md)."""
    if not _recording:
        return
    children = _upstream.get((system, outcome))
    if children is None:
        children = _upstream[(system, outcome)] = (
            UPSTREAM_CALLS.labels(system, outcome),
            UPSTREAM_DURATION.labels(system),
        )
    children[0].inc()
    children[1].observe(seconds)


def upstream_cache(system: str, hit: bool) -> None:
    if not _recording:
        return
    UPSTREAM_CACHE.labels(system, "hit" if hit else "miss").inc()


def upstream_stale_served(system: str) -> None:
    if not _recording:
        return
    UPSTREAM_STALE.labels(system).inc()


_BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


def breaker_state(system: str, state: str) -> None:
    if not _recording:
        return
    BREAKER_STATE.labels(system).set(_BREAKER_VALUES.get(state, 2.0))


def dependency_up(dependency: str, up: bool) -> None:
    if not _recording:
        return
    DEPENDENCY_UP.labels(dependency).set(1.0 if up else 0.0)


def dependency_degraded(dependency: str) -> None:
    """An outage of ``dependency`` began (its first failed call)."""
    if not _recording:
        return
    DEPENDENCY_DEGRADATIONS.labels(dependency).inc()


_degraded: dict[tuple[str, str], Any] = {}


def degraded_operation(dependency: str, component: str) -> None:
    """One operation of ``component`` served without ``dependency``; both come from fixed sets
    (``sales_graph.degradation``)."""
    if not _recording:
        return
    child = _degraded.get((dependency, component))
    if child is None:
        child = _degraded[(dependency, component)] = DEGRADED_OPERATIONS.labels(
            dependency, component
        )
    child.inc()


def rate_limit_refused(bucket: str) -> None:
    if not _recording:
        return
    RATE_LIMIT_REFUSALS.labels(bucket).inc()


def outbox_backlog(pending: int, oldest_age_s: float, parked: int) -> None:
    if not _recording:
        return
    OUTBOX_PENDING.set(pending)
    OUTBOX_OLDEST_AGE.set(max(0.0, oldest_age_s))
    OUTBOX_PARKED.set(parked)


def events_published(topics: Iterable[str]) -> None:
    """The topic of each event published (several of one topic in a batch)."""
    if not _recording:
        return
    for topic, count in Tally(topics).items():
        EVENTS_PUBLISHED.labels(topic).inc(count)


_lag_partitions: dict[tuple[str, str], set[int]] = {}


def consumer_lag(consumer: str, topic: str, lags: Mapping[int, int]) -> None:
    """The lag of each partition assigned to ``consumer`` now; partitions it lost read 0 (the
    consumer that has them now reports theirs)."""
    if not _recording:
        return
    known = _lag_partitions.setdefault((consumer, topic), set())
    for partition in known - lags.keys():
        CONSUMER_LAG.labels(consumer, topic, str(partition)).set(0)
    for partition, lag in lags.items():
        CONSUMER_LAG.labels(consumer, topic, str(partition)).set(max(0, lag))
    known.clear()
    known.update(lags)


def dead_lettered(topic: str) -> None:
    if not _recording:
        return
    DEAD_LETTERS.labels(topic).inc()


def webhook_attempt(outcome: str) -> None:
    """``delivered``, ``failed`` (tried again later), ``exhausted`` (the last attempt failed:
    the endpoint is disabled) or ``refused`` (the target's address is not allowed)."""
    if not _recording:
        return
    WEBHOOK_ATTEMPTS.labels(outcome).inc()


def job_succeeded(task: str, finished_at: float) -> None:
    if not _recording:
        return
    JOB_LAST_SUCCESS.labels(task).set(finished_at)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the processes in multiprocess mode; and
    its content type."""
    if directory() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
