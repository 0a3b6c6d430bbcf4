"""The forecast cache (docs/events.md, "Forecast generation"): generated forecasts by territory,
period and type, and the queue of (territory, period) pairs waiting for a refresh.

In Redis when there is one (every gateway and worker shares it), else in process. Values are
JSON-compatible and stored serialised, so no caller can mutate what another reads.

Invalidation is by version: each territory has a random version token and an entry is served
only while it carries its territory's current token. Writers read the token *before* computing,
so a value computed from data older than an invalidation is never served after it, even when it
is written after it.

Redis failing degrades the cache, it never fails a read: reads are misses, writes are skipped,
each failure reported to ``sales_graph.degradation`` (logged once per outage). An invalidation
that fails is remembered by the process (:class:`RedisForecastCache`) and applied before the
process uses the cache again; until then the process bypasses it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from sales_graph.degradation import REDIS, Component, Dependency
from sales_graph.logs import get_logger
from sales_graph.settings import Settings

_log = get_logger(__name__)

PREFIX = "sales-graph:forecast:"


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    """A territory and a period: what one refresh recomputes (every forecast type)."""

    territory_id: uuid.UUID
    period: str

    def __str__(self) -> str:
        return f"{self.territory_id}:{self.period}"

    @classmethod
    def parse(cls, text: str) -> Pair:
        territory, _, period = text.partition(":")
        return cls(uuid.UUID(territory), period)


class ForecastCache(Protocol):
    async def get(self, pair: Pair, forecast_type: str) -> Any | None:
        """The cached value, unless its territory was invalidated since it was computed."""

    async def get_many(self, wanted: Sequence[tuple[Pair, str]]) -> list[Any | None]:
        """``get`` for each (pair, type), in order, in one round trip where the store allows."""

    async def version(self, territory_id: uuid.UUID) -> str | None:
        """The territory's version, read before computing a value to ``put``; None: the cache
        is not usable now, do not put."""

    async def put(self, pair: Pair, forecast_type: str, value: Any, version: str) -> None: ...

    async def invalidate(self, territory_ids: Collection[uuid.UUID]) -> None:
        """Nothing cached so far for these territories (any period) is served any more.
        Raises when that could not be made sure of (the Redis cache then also keeps them, to
        apply before it is used again)."""

    async def schedule_refresh(self, pairs: Collection[Pair], at: float) -> None:
        """Queues the pairs for a refresh at ``at`` (epoch seconds); a pair already queued keeps
        its earlier time, so a burst of changes is refreshed once."""

    async def due_refreshes(self, now: float, limit: int) -> list[Pair]:
        """Takes the pairs due by ``now`` off the queue; each is handed to one caller only."""


def _token() -> str:
    return uuid.uuid4().hex


@dataclass(eq=False)
class InProcessForecastCache:
    """The embedded footprint's cache: dicts in this process.

    ``keep_values=False`` keeps only the refresh queue: a process whose cached values could be
    outdated by changes that another process handles must not serve any.
    """

    ttl_s: float
    _: KW_ONLY
    keep_values: bool = True
    max_entries: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[tuple[Pair, str], tuple[bytes, str, float]] = field(
        default_factory=OrderedDict, init=False
    )
    _versions: dict[uuid.UUID, str] = field(default_factory=dict, init=False)
    _queue: dict[Pair, float] = field(default_factory=dict, init=False)

    async def get(self, pair: Pair, forecast_type: str) -> Any | None:
        key = (pair, forecast_type)
        found = self._entries.get(key)
        if found is None:
            return None
        blob, version, expires_at = found
        if self.clock() >= expires_at or self._versions.get(pair.territory_id) != version:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return orjson.loads(blob)

    async def get_many(self, wanted: Sequence[tuple[Pair, str]]) -> list[Any | None]:
        return [await self.get(pair, forecast_type) for pair, forecast_type in wanted]

    async def version(self, territory_id: uuid.UUID) -> str | None:
        if not self.keep_values:
            return None
        return self._versions.setdefault(territory_id, _token())

    async def put(self, pair: Pair, forecast_type: str, value: Any, version: str) -> None:
        if not self.keep_values:
            return
        key = (pair, forecast_type)
        self._entries[key] = (orjson.dumps(value), version, self.clock() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def invalidate(self, territory_ids: Collection[uuid.UUID]) -> None:
        for territory_id in territory_ids:
            self._versions[territory_id] = _token()

    async def schedule_refresh(self, pairs: Collection[Pair], at: float) -> None:
        for pair in pairs:
            self._queue.setdefault(pair, at)

    async def due_refreshes(self, now: float, limit: int) -> list[Pair]:
        due = sorted((at, pair) for pair, at in self._queue.items() if at <= now)[:limit]
        for _, pair in due:
            del self._queue[pair]
        return [pair for _, pair in due]


# Takes the due members off the queue in one step, so two workers never take the same pair.
_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""

# unpack() of the script above takes a few thousand values at most.
MAX_TAKE = 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisForecastCache:
    """The production cache, shared by every gateway and worker.

    A failed read is a miss, a failed write is skipped (the caller computes instead) and a failed
    take of the due refreshes takes none (they stay queued); a failed invalidation or queueing
    raises, so that the consumer handling the change retries it (its message stays in Kafka).

    An invalidation that failed is also kept in :attr:`unapplied`, so that it is not lost when
    the consumer gives up on the message (after ``CONSUMER_UNAVAILABLE_DEADLINE_S``, or the
    embedded bus's attempts): every later call of this cache first applies those, and while
    they cannot be applied this process reads no entry, puts none and draws no version (it
    computes every forecast). The refresher's poll (every worker, at most every 0.5 s) applies
    them promptly once Redis answers again. Kept in this process only: other processes may
    read an entry they outdate in the moment between Redis coming back and the poll, as they
    may between a change and its event.
    """

    def __init__(
        self, redis: Redis, *, ttl_s: int, prefix: str = PREFIX, health: Dependency = REDIS
    ) -> None:
        self._redis = redis
        self.ttl_s = ttl_s
        # A territory's version outlives its entries; when it expires, a new token is drawn
        # and the old entries are simply misses.
        self.version_ttl_s = 2 * ttl_s
        self.prefix = prefix
        self.queue = f"{prefix}refresh"
        self._take_due = redis.register_script(_TAKE_DUE)
        self._health = health
        # Territories whose invalidation failed: applied before this cache is used again.
        self.unapplied: set[uuid.UUID] = set()

    def _entry_key(self, pair: Pair, forecast_type: str) -> str:
        return f"{self.prefix}{pair.territory_id}:{pair.period}:{forecast_type}"

    def _version_key(self, territory_id: uuid.UUID) -> str:
        return f"{self.prefix}version:{territory_id}"

    async def get(self, pair: Pair, forecast_type: str) -> Any | None:
        [found] = await self.get_many([(pair, forecast_type)])
        return found

    async def _caught_up(self) -> bool:
        """Applies the invalidations that failed before; whether the cache may be used now."""
        pending = set(self.unapplied)
        if not pending:  # another call applied them meanwhile
            return True
        try:
            await self._new_versions(pending)
        except (RedisError, OSError) as exc:
            self._health.failed(Component.FORECAST_CACHE, exc)
            return False
        self._health.succeeded()
        self.unapplied -= pending
        _log.info("forecast.cache.invalidations_applied", territories=len(pending))
        return not self.unapplied

    async def get_many(self, wanted: Sequence[tuple[Pair, str]]) -> list[Any | None]:
        if not wanted:
            return []
        if self.unapplied and not await self._caught_up():
            return [None] * len(wanted)
        territories = list(dict.fromkeys(pair.territory_id for pair, _ in wanted))
        keys = [self._entry_key(pair, kind) for pair, kind in wanted]
        try:
            values = await self._redis.mget(
                [*keys, *(self._version_key(tid) for tid in territories)]
            )
        except (RedisError, OSError) as exc:
            self._health.failed(Component.FORECAST_CACHE, exc)
            return [None] * len(wanted)
        self._health.succeeded()
        versions = dict(zip(territories, values[len(keys) :], strict=True))
        found: list[Any | None] = []
        for (pair, _), blob in zip(wanted, values[: len(keys)], strict=True):
            version = versions[pair.territory_id]
            found.append(None if blob is None or version is None else self._current(blob, version))
        return found

    def _current(self, blob: bytes | str, version: bytes | str) -> Any | None:
        try:
            stored = orjson.loads(blob)
            return stored["value"] if stored["version"] == _text(version) else None
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            _log.warning("forecast.cache.unreadable_entry", error=repr(exc))
            return None

    async def version(self, territory_id: uuid.UUID) -> str | None:
        if self.unapplied and not await self._caught_up():
            return None
        key = self._version_key(territory_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(key, _token(), nx=True, ex=self.version_ttl_s)
                pipe.get(key)
                _, current = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._health.failed(Component.FORECAST_CACHE, exc)
            return None
        self._health.succeeded()
        return None if current is None else _text(current)

    async def put(self, pair: Pair, forecast_type: str, value: Any, version: str) -> None:
        if self.unapplied and not await self._caught_up():
            return
        blob = orjson.dumps({"version": version, "value": value})
        try:
            await self._redis.set(self._entry_key(pair, forecast_type), blob, ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            self._health.failed(Component.FORECAST_CACHE, exc)
        else:
            self._health.succeeded()

    async def _new_versions(self, territory_ids: Collection[uuid.UUID]) -> None:
        if not territory_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for territory_id in territory_ids:
                pipe.set(self._version_key(territory_id), _token(), ex=self.version_ttl_s)
            await pipe.execute()

    async def invalidate(self, territory_ids: Collection[uuid.UUID]) -> None:
        territories = {*territory_ids, *self.unapplied}
        try:
            await self._new_versions(territories)
        except (RedisError, OSError) as exc:
            self.unapplied |= territories
            self._health.failed(Component.FORECAST_CACHE, exc)
            raise
        if territories:
            self._health.succeeded()
        self.unapplied -= territories

    async def schedule_refresh(self, pairs: Collection[Pair], at: float) -> None:
        if not pairs:
            return
        try:
            await self._redis.zadd(self.queue, {str(pair): at for pair in pairs}, nx=True)
        except (RedisError, OSError) as exc:
            self._health.failed(Component.FORECAST_CACHE, exc)
            raise
        self._health.succeeded()

    async def due_refreshes(self, now: float, limit: int) -> list[Pair]:
        if self.unapplied and not await self._caught_up():
            return []
        try:
            taken = await self._take_due(keys=[self.queue], args=[now, min(limit, MAX_TAKE)])
        except (RedisError, OSError) as exc:
            # The pairs stay queued in Redis; the next poll takes them.
            self._health.failed(Component.FORECAST_CACHE, exc)
            return []
        self._health.succeeded()
        return [Pair.parse(_text(member)) for member in taken]


def namespace(database_url: str) -> str:
    """Names the database the forecasts are computed from, so that deployments (or test runs)
    sharing a Redis never serve or take each other's entries."""
    plain = make_url(database_url).render_as_string(hide_password=True)
    return hashlib.sha256(plain.encode()).hexdigest()[:16]


def build_forecast_cache(settings: Settings, redis: Redis | None) -> ForecastCache:
    ttl_s = settings.events.forecast_cache_ttl_s
    if redis is not None:
        prefix = f"{PREFIX}{namespace(settings.effective_database_url)}:"
        return RedisForecastCache(redis, ttl_s=ttl_s, prefix=prefix)
    # Without Redis, cached values are served only when this very process handles every
    # opportunity event (the embedded footprint's bus), so that every change invalidates them.
    single_process = not settings.kafka_bootstrap_servers and settings.events.in_process
    return InProcessForecastCache(ttl_s, keep_values=single_process)
