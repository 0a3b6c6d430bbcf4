"""Rate limit counters: fixed windows, counted atomically in Redis (shared) or in process.

Every request of a key touches three counters: the key's window (``principal_limit`` per
``window_s``), its burst window (``burst_limit`` per ``burst_window_s``) and the global window
(``global_limit`` per ``window_s``). They are checked and incremented together: a request is
counted only when all three have room, so a refused request does not use up the caller's
quota. A window opens with the first request that finds none and lasts its length; its expiry
is the ``X-RateLimit-Reset`` the caller sees. Windows opened per key (rather than aligned to
the clock) need no clock agreement between instances: Redis' own expiry ends them.

Each :class:`Bucket` has its own quota: the API (per principal), the token endpoint and the
JWKS (per address), and failed authentications (per address, outside the global window).

If Redis fails or is slow, :class:`RateLimiter` counts in process instead (the requests are
served), reports the failure to the process's Redis tracker (``sales_graph.degradation``: one
``dependency.degraded`` per outage, every request counted in process as a degraded operation),
counts it in ``store_failures`` and tries Redis again after ``store_retry_s``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sales_graph.degradation import REDIS, Component, Dependency
from sales_graph.settings import RateLimitSettings
from sales_graph.telemetry.metrics import rate_limit_refused

Clock = Callable[[], float]


class Bucket(StrEnum):
    API = "api"
    OAUTH = "oauth"
    JWKS = "jwks"
    AUTH_FAILURE = "auth_failure"


_BUCKET_NAMES = frozenset(bucket.value for bucket in Bucket)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    burst: int
    # None: not counted in the global window.
    global_limit: int | None
    window_ms: int
    burst_window_ms: int

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> Quota:
        return cls(
            limit=settings.principal_limit,
            burst=settings.burst_limit,
            global_limit=settings.global_limit,
            window_ms=_ms(settings.window_s),
            burst_window_ms=_ms(settings.burst_window_s),
        )


def quotas_from_settings(settings: RateLimitSettings) -> dict[Bucket, Quota]:
    api = Quota.from_settings(settings)
    # Failures are not served requests: they stay out of the global window, so that a flood
    # of them cannot use it up for everyone.
    failures = Quota(
        limit=settings.auth_failure_limit,
        burst=settings.auth_failure_limit,
        global_limit=None,
        window_ms=_ms(settings.auth_failure_window_s),
        burst_window_ms=api.burst_window_ms,
    )
    return {
        Bucket.API: api,
        Bucket.OAUTH: Quota(
            settings.token_limit,
            settings.token_burst_limit,
            settings.global_limit,
            api.window_ms,
            api.burst_window_ms,
        ),
        Bucket.JWKS: Quota(
            settings.jwks_limit,
            settings.jwks_burst_limit,
            settings.global_limit,
            api.window_ms,
            api.burst_window_ms,
        ),
        Bucket.AUTH_FAILURE: failures,
    }


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds at which the caller's window ends
    retry_after_s: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def _decision(
    quota: Quota, now_ms: float, *, refused: bool, retry_ms: int, count: int, ttl_ms: int
) -> Decision:
    return Decision(
        allowed=not refused,
        limit=quota.limit,
        remaining=max(0, quota.limit - count),
        reset_at=math.ceil((now_ms + ttl_ms) / 1000),
        retry_after_s=max(1, math.ceil(retry_ms / 1000)) if refused else 0,
    )


class RateLimitStore(Protocol):
    async def hit(self, key: str, quota: Quota | None = None) -> Decision:
        """Count one request of ``key`` if every window has room; say what the caller may do.
        ``quota``: another quota than the store's own."""
        ...


class MemoryStore:
    """In process, for the embedded mode. ``hit`` never awaits, so it is atomic on the loop."""

    def __init__(self, quota: Quota, clock: Clock = time.time) -> None:
        self._quota = quota
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # name -> (count, expires at, ms)
        self._next_sweep = 0.0

    def _open(self, name: str, window_ms: int, now_ms: float) -> tuple[int, float]:
        """The count of a window and the milliseconds it has left (a fresh one when expired)."""
        entry = self._windows.get(name)
        if entry is None or entry[1] <= now_ms:
            return 0, float(window_ms)
        return entry[0], entry[1] - now_ms

    def _sweep(self, now_ms: float) -> None:
        # Anonymous callers bring new keys; expired windows must not pile up.
        if now_ms < self._next_sweep:
            return
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now_ms}
        self._next_sweep = now_ms + self._quota.window_ms

    async def hit(self, key: str, quota: Quota | None = None) -> Decision:
        quota, now_ms = quota or self._quota, self._clock() * 1000
        self._sweep(now_ms)
        counters = [
            (f"{key}:window", quota.limit, quota.window_ms),
            (f"{key}:burst", quota.burst, quota.burst_window_ms),
        ]
        if quota.global_limit is not None:
            counters.append(("global", quota.global_limit, quota.window_ms))
        state = [self._open(name, window, now_ms) for name, _, window in counters]
        full = [
            left
            for (_, limit, _), (count, left) in zip(counters, state, strict=True)
            if count >= limit
        ]
        if not full:
            for (name, _, _), (count, left) in zip(counters, state, strict=True):
                self._windows[name] = (count + 1, now_ms + left)
        count, left = state[0]
        return _decision(
            quota,
            now_ms,
            refused=bool(full),
            retry_ms=math.ceil(max(full, default=0)),
            count=count if full else count + 1,
            ttl_ms=math.ceil(left),
        )


# KEYS: the key's window, its burst window, and the global window unless the quota has none.
# ARGV: their limits, then the window and burst window lengths in ms.
# Returns {refused (0/1), ms until the fullest refusing window ends, key's count, its ms left}.
_HIT = """
local limits = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])}
local windows = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[4])}
local counts, left = {}, {}
local refused, retry = 0, 0
for i = 1, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    counts[i], left[i] = 0, windows[i]
  else
    counts[i], left[i] = tonumber(redis.call('GET', KEYS[i])), ttl
  end
  if counts[i] >= limits[i] then
    refused = 1
    retry = math.max(retry, left[i])
  end
end
if refused == 0 then
  for i = 1, #KEYS do
    if counts[i] == 0 then
      redis.call('SET', KEYS[i], 1, 'PX', windows[i])
    else
      redis.call('INCR', KEYS[i])
    end
  end
  counts[1] = counts[1] + 1
end
return {refused, retry, counts[1], left[1]}
"""


class RedisStore:
    """Shared by every instance: one EVALSHA per request, atomic because Lua scripts are.

    The keys of one caller share a hash tag; the global key does not, so this needs a
    standalone Redis (or Sentinel), not Redis Cluster.
    """

    def __init__(self, redis: Redis, quota: Quota, prefix: str, clock: Clock = time.time) -> None:
        self._script = redis.register_script(_HIT)
        self._quota = quota
        self._prefix = prefix
        self._clock = clock

    async def hit(self, key: str, quota: Quota | None = None) -> Decision:
        quota, tag = quota or self._quota, f"{self._prefix}:{{{key}}}"
        keys = [f"{tag}:window", f"{tag}:burst"]
        if quota.global_limit is not None:
            keys.append(f"{self._prefix}:global")
        args = [
            quota.limit,
            quota.burst,
            quota.global_limit or 0,
            quota.window_ms,
            quota.burst_window_ms,
        ]
        refused, retry_ms, count, left_ms = (int(v) for v in await self._script(keys, args))
        return _decision(
            quota,
            self._clock() * 1000,
            refused=bool(refused),
            retry_ms=retry_ms,
            count=count,
            ttl_ms=left_ms,
        )


async def _store_hit(store: RateLimitStore, key: str, quota: Quota | None) -> Decision:
    return await (store.hit(key) if quota is None else store.hit(key, quota))


class RateLimiter:
    """The one interface the middleware uses; fails open to in-process counting."""

    def __init__(
        self,
        store: RateLimitStore,
        *,
        fallback: RateLimitStore | None = None,
        timeout_s: float = 0.25,
        retry_s: float = 5.0,
        monotonic: Clock = time.monotonic,
        quotas: Mapping[Bucket, Quota] | None = None,
        clock: Clock = time.time,
        health: Dependency = REDIS,
    ) -> None:
        self.store = store
        self.fallback = fallback
        self.store_failures = 0
        self.quotas = dict(quotas or {})
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._monotonic = monotonic
        self._skip_until = 0.0
        self._clock = clock
        self._health = health
        self._refusals: dict[str, tuple[float, Decision]] = {}
        self._next_sweep = 0.0

    def remember(self, key: str, decision: Decision) -> None:
        """Refuse ``key`` in process (:meth:`refusal`) until the refusal's ``Retry-After`` has
        passed, or, for the request that filled the window, until the window ends."""
        now = self._clock()
        if now >= self._next_sweep:
            # Refused keys come from callers; expired ones must not pile up.
            self._refusals = {k: v for k, v in self._refusals.items() if v[0] > now}
            self._next_sweep = now + 1
        until = now + decision.retry_after_s if not decision.allowed else float(decision.reset_at)
        self._refusals[key] = (until, replace(decision, allowed=False))

    def refusal(self, key: str) -> Decision | None:
        """The remembered refusal of ``key`` while it lasts, with the wait that is left."""
        until, decision = self._refusals.get(key, (0.0, None))
        now = self._clock()
        if decision is None or until <= now:
            return None
        # A remembered refusal: the key starts with its bucket's name (web/throttle.py).
        prefix = key.split(":", 1)[0]
        rate_limit_refused(prefix if prefix in _BUCKET_NAMES else "other")
        return replace(decision, retry_after_s=max(1, math.ceil(until - now)))

    async def hit(self, key: str, bucket: Bucket = Bucket.API) -> Decision:
        decision = await self._hit(key, bucket)
        if not decision.allowed:
            rate_limit_refused(bucket.value)
        return decision

    async def _hit(self, key: str, bucket: Bucket) -> Decision:
        quota = self.quotas.get(bucket)
        if self.fallback is None:
            return await _store_hit(self.store, key, quota)
        if self._monotonic() >= self._skip_until:
            try:
                async with asyncio.timeout(self._timeout_s):
                    decision = await _store_hit(self.store, key, quota)
            except (RedisError, OSError, TimeoutError) as exc:
                self.store_failures += 1
                self._skip_until = self._monotonic() + self._retry_s
                self._health.failed(Component.RATE_LIMITER, exc)
            else:
                self._health.succeeded()
                return decision
        else:
            self._health.bypassed(Component.RATE_LIMITER)
        return await _store_hit(self.fallback, key, quota)


def build_rate_limiter(
    settings: RateLimitSettings, redis: Redis | None, *, clock: Clock = time.time
) -> RateLimiter | None:
    """In Redis when the runtime has one, else in process; ``None`` when limits are off."""
    if not settings.enabled:
        return None
    quotas = quotas_from_settings(settings)
    quota = quotas[Bucket.API]
    memory = MemoryStore(quota, clock)
    if redis is None:
        return RateLimiter(memory, quotas=quotas, clock=clock)
    return RateLimiter(
        RedisStore(redis, quota, settings.key_prefix, clock),
        fallback=memory,
        timeout_s=settings.store_timeout_s,
        retry_s=settings.store_retry_s,
        quotas=quotas,
        clock=clock,
    )
