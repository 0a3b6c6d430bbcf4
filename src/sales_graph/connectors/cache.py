"""The read cache of the connectors: fresh for a per-resource TTL, then kept as a stale copy for
``stale_ttl_s`` more so that a value can still be served while its system is down.

Values are JSON-compatible (a model's ``model_dump(mode="json")``) and stored serialised, so a
caller can never mutate what another caller reads.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sales_graph.degradation import REDIS, Component, Dependency
from sales_graph.logs import get_logger

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    value: Any
    fresh: bool


class Cache(Protocol):
    async def get(self, key: str) -> CacheEntry | None: ...

    async def set(self, key: str, value: Any, *, ttl_s: float, stale_ttl_s: float) -> None:
        """Fresh for ``ttl_s``, then stale for ``stale_ttl_s``, then gone."""

    async def delete(self, key: str) -> None: ...


class InProcessCache:
    """A bounded LRU dict on the monotonic clock: the embedded footprint's cache."""

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CacheEntry | None:
        found = self._entries.get(key)
        if found is None:
            return None
        blob, fresh_until, expires_at = found
        now = self._clock()
        if now >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return CacheEntry(orjson.loads(blob), fresh=now < fresh_until)

    async def set(self, key: str, value: Any, *, ttl_s: float, stale_ttl_s: float) -> None:
        now = self._clock()
        self._entries[key] = (orjson.dumps(value), now + ttl_s, now + ttl_s + stale_ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)


class RedisCache:
    """The production cache, shared by all instances; Redis expires the stale copy.

    Freshness is judged on the wall clock because several processes share the entries. A Redis
    failure is treated as a miss (a write or delete is skipped) and reported to ``health``
    (``sales_graph.degradation``: logged once per outage): the cache must never make a call fail.

    Reads issued in the same turn of the event loop (a dataloader batch resolving its keys) go
    to Redis as one ``MGET``: a page of 50 accounts costs one round trip, not 50.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "sales-graph:upstream:",
        clock: Callable[[], float] = time.time,
        health: Dependency = REDIS,
    ) -> None:
        self._redis = redis
        self.prefix = prefix
        self._clock = clock
        self._health = health
        self._pending: dict[str, list[asyncio.Future[bytes | str | None]]] | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> CacheEntry | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes | str | None] = loop.create_future()
        if self._pending is None:
            self._pending = {}
            loop.call_soon(self._flush)  # after the reads already queued in this turn
        self._pending.setdefault(key, []).append(waiter)
        blob = await waiter
        if blob is None:
            return None
        try:
            stored = orjson.loads(blob)
            return CacheEntry(stored["v"], fresh=self._clock() < float(stored["fresh_until"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            _log.warning("connector.cache.get_failed", key=key, error=repr(exc))
            return None

    def _flush(self) -> None:
        pending, self._pending = self._pending or {}, None
        task = asyncio.ensure_future(self._read(pending))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _read(self, pending: dict[str, list[asyncio.Future[bytes | str | None]]]) -> None:
        keys = list(pending)
        blobs: list[bytes | str | None] = [None] * len(keys)  # a failed or cancelled read: misses
        try:
            blobs = await self._redis.mget([self.prefix + key for key in keys])
        except (RedisError, OSError) as exc:
            self._health.failed(Component.UPSTREAM_CACHE, exc)
        else:
            self._health.succeeded()
        finally:
            for key, blob in zip(keys, blobs, strict=True):
                for waiter in pending[key]:
                    if not waiter.done():
                        waiter.set_result(blob)

    async def set(self, key: str, value: Any, *, ttl_s: float, stale_ttl_s: float) -> None:
        blob = orjson.dumps({"v": value, "fresh_until": self._clock() + ttl_s})
        try:
            await self._redis.set(
                self.prefix + key, blob, px=max(1, int((ttl_s + stale_ttl_s) * 1000))
            )
        except (RedisError, OSError) as exc:
            self._health.failed(Component.UPSTREAM_CACHE, exc)
        else:
            self._health.succeeded()

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._health.failed(Component.UPSTREAM_CACHE, exc)
        else:
            self._health.succeeded()
