"""The one HTTP client every connector is built on: timeouts and a deadline, retries inside the
deadline, a circuit breaker, a read cache with stale fallback, bounded and validated payloads,
and the translation of every failure into ``sales_graph.errors`` in one place.

A call's life: breaker check -> request (connect/read timeouts) -> status classified -> body read
up to ``max_response_bytes`` and validated -> on a retryable failure, wait (backoff or
``Retry-After``) and go again, as long as the wait fits in the deadline. The loop is ours, not
stamina's or tenacity's: ``connectors/retry.py`` says why.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import orjson
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from sales_graph.connectors.breaker import CircuitBreaker
from sales_graph.connectors.cache import Cache, CacheEntry
from sales_graph.connectors.errors import (
    CircuitOpen,
    InvalidPayload,
    UpstreamNotFound,
    UpstreamRejected,
)
from sales_graph.connectors.models import UpstreamModel
from sales_graph.connectors.retry import RetryPolicy, may_retry
from sales_graph.connectors.wire import (
    call_headers,
    jsonable,
    parse_payload,
    read_capped,
    status_error,
    too_large,
)
from sales_graph.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from sales_graph.logs import get_logger
from sales_graph.settings import UpstreamSettings
from sales_graph.telemetry import metrics

M = TypeVar("M", bound=UpstreamModel)
Params = Mapping[str, str]

MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TTL_S = 60.0
DEFAULT_STALE_TTL_S = 24 * 3600.0
_MAX_ERROR_BYTES = 64 * 1024


@contextmanager
def map_transport_errors(system: str, method: str, path: str) -> Iterator[None]:
    """Translate httpx's transport errors into ours, naming the system (cf. httpx's
    ``map_httpcore_exceptions``)."""
    details: dict[str, Any] = {"system": system, "method": method, "path": path}
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout(
            f"{system} did not answer in time ({type(exc).__name__})",
            details={**details, "error": type(exc).__name__},
        ) from exc
    except httpx.RequestError as exc:
        raise UpstreamUnavailable(
            f"{system} is unreachable ({type(exc).__name__})",
            details={**details, "error": type(exc).__name__},
        ) from exc


def _outcome(error: BaseException) -> str:
    """How a call failed, as the upstream metrics name it (docs/operations.md)."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, CircuitOpen):
        return "breaker_open"
    if isinstance(error, UpstreamNotFound):
        return "not_found"
    if isinstance(error, UpstreamRejected):
        return "rejected"
    if isinstance(error, InvalidPayload):
        return "invalid_payload"
    if isinstance(error, UpstreamUnavailable):
        if error.details.get("reason") in ("not_configured", "closed"):
            return "not_configured"
        return "unavailable"
    return "error"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs), built once per process: each client building
    its own costs ~1 MB of RSS, 25 MB for five systems of five pools."""
    return httpx.create_ssl_context()


class UpstreamClient:
    """One external system, as configured by its :class:`UpstreamSettings`.

    Without a ``base_url`` every call raises ``UpstreamUnavailable`` ("not configured"), so the
    embedded footprint runs with the upstream fields null.
    """

    def __init__(
        self,
        system: str,
        settings: UpstreamSettings,
        *,
        cache: Cache | None = None,
        ttls: Mapping[str, float] | None = None,
        stale_ttl_s: float = DEFAULT_STALE_TTL_S,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self.system = system
        self.deadline_s = settings.deadline_s
        self.cache = cache
        self.ttls = dict(ttls or {})
        self.stale_ttl_s = stale_ttl_s
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(name=system)
        if self.breaker.name is None:
            self.breaker.name = system
        metrics.breaker_state(system, self.breaker.state.value)
        self.max_response_bytes = max_response_bytes
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._log = get_logger(f"sales_graph.connectors.{system}")
        # Clients used in turn (see UpstreamSettings.connection_pools); empty when unconfigured.
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0
        if settings.base_url:
            headers = {"Accept": "application/json", "User-Agent": "sales-graph"}
            if settings.api_key is not None:
                headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
            pools = min(settings.connection_pools, settings.max_connections)
            verify = _ssl_context()  # one for all clients: ~1 MB each otherwise
            per_pool = settings.max_connections // pools
            self._clients = [
                httpx.AsyncClient(
                    base_url=settings.base_url,
                    headers=headers,
                    timeout=httpx.Timeout(
                        settings.read_timeout_s, connect=settings.connect_timeout_s
                    ),
                    limits=httpx.Limits(
                        max_connections=per_pool, max_keepalive_connections=per_pool
                    ),
                    follow_redirects=False,
                    verify=verify,
                )
                for _ in range(pools)
            ]

    def _next_client(self) -> httpx.AsyncClient:
        """The client for the next call, round robin (the caller checked ``_clients``)."""
        self._turn = (self._turn + 1) % len(self._clients)
        return self._clients[self._turn]

    @property
    def configured(self) -> bool:
        return bool(self._clients)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def read(
        self, resource: str, path: str, model: type[M], *, params: Params | None = None
    ) -> M:
        """A GET through the cache; while the system fails, a stale copy (``.stale``) if any."""
        key = self._cache_key(path, params)
        entry = await self.cache.get(key) if self.cache is not None else None
        if entry is not None and entry.fresh:
            cached = self._from_cache(model, entry)
            if cached is not None:
                metrics.upstream_cache(self.system, hit=True)
                return cached
        if self.cache is not None:
            metrics.upstream_cache(self.system, hit=False)
        try:
            value = await self.request("GET", path, model, params=params)
        except UpstreamError as exc:
            stale = None if isinstance(exc, UpstreamRejected) else self._from_cache(model, entry)
            if stale is None:
                raise
            self._note(
                logging.WARNING,
                "stale_served",
                path=path,
                resource=resource,
                error=exc.code,
                reason=exc.message,
            )
            metrics.upstream_stale_served(self.system)
            return stale.as_stale()
        await self.remember(resource, path, value, params=params)
        return value

    async def remember(
        self, resource: str, path: str, value: UpstreamModel, *, params: Params | None = None
    ) -> None:
        """Put a value in the cache as if read from ``path`` (write-through after a write)."""
        if self.cache is not None:
            await self.cache.set(
                self._cache_key(path, params),
                value.model_dump(mode="json"),
                ttl_s=self.ttls.get(resource, DEFAULT_TTL_S),
                stale_ttl_s=self.stale_ttl_s,
            )

    async def request(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        json: BaseModel | Mapping[str, Any] | None = None,
        params: Params | None = None,
        idempotency_key: str | None = None,
    ) -> M:
        """One call with retries inside the deadline; uncached."""
        began = time.perf_counter()
        try:
            result = await self._call(method, path, model, json, params, idempotency_key)
        except BaseException as exc:
            metrics.upstream_call(self.system, _outcome(exc), time.perf_counter() - began)
            raise
        metrics.upstream_call(self.system, "ok", time.perf_counter() - began)
        return result

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        json: BaseModel | Mapping[str, Any] | None,
        params: Params | None,
        idempotency_key: str | None,
    ) -> M:
        if not self._clients or self._clients[0].is_closed:
            reason = "closed" if self._clients else "not_configured"
            raise UpstreamUnavailable(
                f"{self.system} is not configured"
                if not self._clients
                else f"the {self.system} client is closed",
                details={"system": self.system, "reason": reason},
            )
        method = method.upper()
        content = None if json is None else orjson.dumps(jsonable(json))
        headers = call_headers(idempotency_key, has_body=content is not None)
        retryable = may_retry(method, idempotency_key)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        attempt, in_flight = 0, False
        last: UpstreamError | None = None
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    attempt += 1
                    if not self.breaker.allow():
                        raise last or self._circuit_open()
                    in_flight = True
                    try:
                        result = await self._attempt(method, path, model, params, content, headers)
                    except (UpstreamNotFound, UpstreamRejected):
                        in_flight = False
                        self.breaker.record_success()
                        raise
                    except UpstreamError as exc:
                        in_flight = False
                        self.breaker.record_failure()
                        delay = self._retry_delay(exc, attempt, retryable, deadline - loop.time())
                        self._log_failure(exc, method, path, attempt, delay)
                        if delay is None:
                            raise
                        last = exc
                        await asyncio.sleep(delay)
                        continue
                    in_flight = False
                    self.breaker.record_success()
                    return result
        except TimeoutError as exc:
            if in_flight:
                self.breaker.record_failure()
            error = UpstreamTimeout(
                f"{self.system} did not answer within {self.deadline_s}s",
                details={
                    "system": self.system,
                    "method": method,
                    "path": path,
                    "attempts": attempt,
                    "deadline_s": self.deadline_s,
                },
            )
            self._log_failure(error, method, path, attempt, None)
            raise error from exc
        except asyncio.CancelledError:
            if in_flight:
                self.breaker.release()
            raise

    async def _attempt(
        self,
        method: str,
        path: str,
        model: type[M],
        params: Params | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> M:
        client = self._next_client()
        began = time.perf_counter()
        with map_transport_errors(self.system, method, path):
            async with client.stream(
                method, path, params=params, content=content, headers=headers
            ) as response:
                ok = 200 <= response.status_code < 300
                limit = self.max_response_bytes if ok else _MAX_ERROR_BYTES
                body = await read_capped(response, limit)
        self._note(
            logging.INFO,
            "response",
            method=method,
            path=path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - began) * 1000, 2),
        )
        details = self._details(method, path, response.status_code)
        if not ok:
            # An error body only lends its error code, so an oversized one is as good as none.
            raise status_error(self.system, response, body or b"", details)
        if body is None:
            raise too_large(self.system, self.max_response_bytes, details)
        return parse_payload(self.system, model, body, details)

    def _retry_delay(
        self, error: UpstreamError, attempt: int, retryable: bool, remaining_s: float
    ) -> float | None:
        """How long to wait before the next attempt, or None to give up now."""
        status = error.details.get("status")
        if (
            not retryable
            or attempt >= self.retry.max_attempts
            or isinstance(error, InvalidPayload)
            or (status is not None and status not in self.retry.retry_statuses)
        ):
            return None
        retry_after = error.details.get("retry_after_s")
        delay = (
            float(retry_after)
            if retry_after is not None
            else self.retry.backoff_s(attempt, self._rng)
        )
        # A wait that outlasts the deadline would only turn this error into a timeout.
        return delay if delay < remaining_s else None

    def _circuit_open(self) -> CircuitOpen:
        retry_in = round(self.breaker.retry_in_s(), 3)
        self._note(logging.INFO, "circuit_rejected", retry_in_s=retry_in)
        return CircuitOpen(
            f"{self.system} is failing; calls are suspended",
            details={
                "system": self.system,
                "circuit": self.breaker.state.value,
                "retry_in_s": retry_in,
            },
        )

    def _log_failure(
        self, error: UpstreamError, method: str, path: str, attempt: int, retry_in: float | None
    ) -> None:
        self._note(
            logging.WARNING,
            "request_failed",
            method=method,
            path=path,
            attempt=attempt,
            status=error.details.get("status"),
            error=error.code,
            reason=error.message,
            retry_in_s=None if retry_in is None else round(retry_in, 3),
        )

    def _note(self, level: int, what: str, **fields: Any) -> None:
        """Logs ``connector.<system>.<what>`` with ``system`` (docs/upstreams.md)."""
        self._log.log(level, f"connector.{self.system}.{what}", system=self.system, **fields)

    def _details(self, method: str, path: str, status: int, **extra: Any) -> dict[str, Any]:
        return {"system": self.system, "method": method, "path": path, "status": status, **extra}

    async def forget(self, path: str, *, params: Params | None = None) -> None:
        """Drops a cached read, so the next one asks the system (its data changed)."""
        if self.cache is not None:
            await self.cache.delete(self._cache_key(path, params))

    def _cache_key(self, path: str, params: Params | None) -> str:
        query = f"?{urlencode(sorted(params.items()))}" if params else ""
        return f"{self.system}:{path}{query}"

    def _from_cache(self, model: type[M], entry: CacheEntry | None) -> M | None:
        if entry is None:
            return None
        try:
            return model.model_validate(entry.value)
        except PydanticValidationError:
            return None  # written by an older model: a miss
