"""The simulators in a background thread with their own event loop, for ``serve --demo``.

The gateway's uvicorn owns the main thread and its loop; the simulators must not depend on it,
and must be listening before the gateway's first request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

from sales_graph.simulators.runner import RunningSimulators, serve_simulators

_START_TIMEOUT_S = 10.0


@dataclass
class BackgroundSimulators:
    running: RunningSimulators
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def stop(self, timeout_s: float = 5.0) -> None:
        future = asyncio.run_coroutine_threadsafe(self.running.stop(), self.loop)
        future.result(timeout_s)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout_s)


def serve_in_thread(
    host: str = "127.0.0.1",
    base_port: int = 0,
    api_keys: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
) -> BackgroundSimulators:
    """Start all five simulators in a daemon thread; returns once they listen (or raises)."""
    loop = asyncio.new_event_loop()
    started: Future[RunningSimulators] = Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(serve_simulators(host, base_port, api_keys, seed=seed))

        def done(finished: asyncio.Task[RunningSimulators]) -> None:
            error = finished.exception()
            if error is not None:
                started.set_exception(error)
                loop.stop()
            else:
                started.set_result(finished.result())

        task.add_done_callback(done)
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="simulators", daemon=True)
    thread.start()
    running = started.result(_START_TIMEOUT_S)
    return BackgroundSimulators(running, loop, thread)
