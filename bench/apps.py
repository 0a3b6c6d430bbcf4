"""The gateway as the benchmark runs it: ``sales_graph.app.create_app()`` behind a shim that, only
when a request carries ``x-bench-count``, answers with ``x-bench-sql``: what that request sent to
PostgreSQL (statements, BEGIN/COMMIT, pool checkouts), the Redis commands and pipelines it sent,
and the time the garbage collector ran during it. Without the header the shim costs one scan of
the request headers.

Variants, each a uvicorn factory (``uvicorn bench.apps:<name> --factory``):

* ``gateway``: the production gateway.
* ``gateway_naive``: the same schema with naive resolvers: every dataloader loads one key per
  call without batching or caching (each nested field is its own SELECT).
* ``gateway_no_access_filter``: the access scope is "everything" without looking the caller up
  (no scope queries, no visibility WHERE clause). Only meaningful for requests whose caller sees
  everything they ask for, where the answer is the same bytes.

The rate limiter off is a setting (``SALES_GRAPH_RATE_LIMIT__ENABLED=false``), not a variant.
"""

from __future__ import annotations

import contextvars
import gc
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COUNTS: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "bench_sql_counts", default=None
)


def _count(kind: str) -> None:
    counts = _COUNTS.get()
    if counts is not None:
        counts[kind] += 1


def _on_statement(*_args: Any) -> None:
    _count("statements")


def _on_checkout(*_args: Any) -> None:
    _count("checkouts")  # with pool_pre_ping, each checkout is also a ping round trip


def _on_begin(*_args: Any) -> None:
    _count("begins")


def _on_commit(*_args: Any) -> None:
    _count("commits")


def _on_rollback(*_args: Any) -> None:
    _count("rollbacks")


_gc_started = 0.0


def _on_gc(phase: str, _info: dict[str, Any]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    counts = _COUNTS.get()
    if counts is not None:
        counts["gc_runs"] += 1
        counts["gc_us"] += round((time.perf_counter() - _gc_started) * 1e6)


def _counting(kind: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        _count(kind)
        return await call(*args, **kwargs)

    return counted


def _listen(app: Starlette) -> None:
    runtime = app.state.runtime
    engine: Engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", _on_statement)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine.pool, "checkout", _on_checkout)
    gc.callbacks.append(_on_gc)
    if runtime.redis is not None:
        from redis.asyncio.client import Pipeline

        # Scripts (the rate limiter's) and single commands go through execute_command;
        # a pipeline is one round trip whatever it holds.
        runtime.redis.execute_command = _counting("redis_commands", runtime.redis.execute_command)
        setattr(Pipeline, "execute", _counting("redis_pipelines", Pipeline.execute))  # noqa: B010


class CountingShim:
    """Per-request SQL accounting. The counter lives in a context variable: SQLAlchemy runs its
    events in a greenlet that shares the request task's context, and the resolver tasks that
    Strawberry starts copy the context, so they all add to the same counter."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._listening = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(k == b"x-bench-count" for k, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        if not self._listening:
            _listen(self.app)
            self._listening = True
        counts: Counter[str] = Counter()
        token = _COUNTS.set(counts)

        async def send_with_counts(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Everything the request sent has been sent: the response is rendered.
                value = ";".join(f"{k}={v}" for k, v in sorted(counts.items()))
                MutableHeaders(scope=message)["x-bench-sql"] = value or "statements=0"
            await send(message)

        try:
            await self.app(scope, receive, send_with_counts)
        finally:
            _COUNTS.reset(token)


def _create() -> Starlette:
    from sales_graph.app import create_app

    return create_app()


def gateway() -> ASGIApp:
    return CountingShim(_create())


def gateway_naive() -> ASGIApp:
    from aiodataloader import DataLoader

    import sales_graph.schema.loaders as loaders
    from sales_graph.schema.dataloader import Loader

    class NaiveLoader(Loader[Any, Any]):
        def __init__(self, batch: Any, **_: Any) -> None:
            super().__init__(batch)
            self._loader = DataLoader(batch_load_fn=self._dispatch, batch=False, cache=False)

    # The relation loaders of schema/loaders.py, one key at a time; on purpose.
    setattr(loaders, "Loader", NaiveLoader)  # noqa: B010
    return CountingShim(_create())


def gateway_no_access_filter() -> ASGIApp:
    import sales_graph.schema.context as context
    from sales_graph.domain.principal import Principal
    from sales_graph.domain.scope import AccessScope
    from sales_graph.errors import Unauthorized

    async def everything(_session: Any, principal: Principal | None) -> AccessScope:
        if principal is None:
            raise Unauthorized()
        return AccessScope(principal, unrestricted=True)

    setattr(context, "scope_for", everything)  # noqa: B010
    return CountingShim(_create())
