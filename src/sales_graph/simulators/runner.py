"""Serving the simulators over real HTTP with uvicorn, in the current event loop.

Tests call :func:`serve_simulators` with ``base_port=0`` (free ports); the ``simulate`` CLI command
calls :func:`run_forever`, which uses consecutive ports from ``base_port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field

import uvicorn

from sales_graph.logs import get_logger
from sales_graph.simulators.core import Simulator
from sales_graph.simulators.systems import SYSTEMS, create_simulator

_log = get_logger(__name__)
DEFAULT_BASE_PORT = 9100
_GRACE_S = 0.5


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner and stops without polling.

    Several servers in one loop would each install and restore process-wide handlers in an
    interleaved order and leave a dead server's handler behind. uvicorn's main loop checks
    ``should_exit`` every 100 ms; waiting on an event instead makes tests' teardown quicker.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    def exit(self) -> None:
        self.should_exit = True
        self._exit.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once
        await self._exit.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown without its fixed pauses: stop listening, end idle connections,
        give requests in flight ``_GRACE_S`` to finish, then cancel them (a fake owes no one)."""
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        if self.server_state.tasks:
            await asyncio.wait(list(self.server_state.tasks), timeout=_GRACE_S)
        for task in list(self.server_state.tasks):
            task.cancel()


@dataclass
class RunningSimulators:
    """Simulators being served: their handles, base URLs and API keys, and how to stop them."""

    simulators: dict[str, Simulator]
    urls: dict[str, str]
    api_keys: dict[str, str]
    _servers: list[tuple[_Server, asyncio.Task[None]]] = field(default_factory=list, repr=False)

    def __getitem__(self, system: str) -> Simulator:
        return self.simulators[system]

    def env(self) -> dict[str, str]:
        """The ``SALES_GRAPH_*`` variables that point sales-graph at these simulators."""
        variables: dict[str, str] = {}
        for system, url in self.urls.items():
            prefix = f"SALES_GRAPH_{system.upper()}__"
            variables[prefix + "BASE_URL"] = url
            variables[prefix + "API_KEY"] = self.api_keys[system]
        return variables

    def reset(self) -> None:
        for simulator in self.simulators.values():
            simulator.reset()

    async def stop(self) -> None:
        for server, _ in self._servers:
            server.exit()
        await asyncio.gather(*(task for _, task in self._servers), return_exceptions=True)
        self._servers.clear()


async def serve_simulators(
    host: str = "127.0.0.1",
    base_port: int = 0,
    api_keys: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
    systems: Iterable[str] | None = None,
    access_log: bool = False,
) -> RunningSimulators:
    """Start the simulators (all five unless ``systems`` names some) and wait until they listen.

    With ``base_port`` 0 each gets a free port; otherwise they take ``base_port``,
    ``base_port + 1``, ... in the order of ``SYSTEMS``. Missing API keys default to
    ``sim-<system>-key``.
    """
    keys = dict(api_keys or {})
    running = RunningSimulators(simulators={}, urls={}, api_keys={})
    try:
        for index, system in enumerate(systems or SYSTEMS):
            simulator = create_simulator(system, api_key=keys.get(system), seed=seed)
            port = base_port + index if base_port else 0
            server, task = await _start(simulator, host, port, access_log=access_log)
            running._servers.append((server, task))
            bound = server.servers[0].sockets[0].getsockname()[1]
            running.simulators[system] = simulator
            running.urls[system] = f"http://{_url_host(host)}:{bound}"
            running.api_keys[system] = simulator.api_key
    except BaseException:
        await running.stop()
        raise
    return running


async def _start(
    simulator: Simulator, host: str, port: int, *, access_log: bool
) -> tuple[_Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        simulator.app,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=access_log,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(), name=f"simulator-{simulator.system}")
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"simulator {simulator.system} stopped before it started")
        await asyncio.sleep(0.005)
    return server, task


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - only to print a reachable URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def run_forever(
    host: str = "127.0.0.1",
    base_port: int = DEFAULT_BASE_PORT,
    api_keys: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
    on_started: Callable[[RunningSimulators], None] | None = None,
) -> None:
    """Serve all five simulators until SIGINT or SIGTERM (for ``sales-graph simulate``).

    ``on_started`` receives the running simulators, e.g. to print ``running.env()``.
    """
    asyncio.run(_run_until_signalled(host, base_port, api_keys, seed, on_started))


async def _run_until_signalled(
    host: str,
    base_port: int,
    api_keys: Mapping[str, str] | None,
    seed: int,
    on_started: Callable[[RunningSimulators], None] | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = await serve_simulators(host, base_port, api_keys, seed=seed, access_log=True)
    _log.info("simulators.started", urls=running.urls, seed=seed)
    if on_started is not None:
        on_started(running)
    try:
        await stop.wait()
    finally:
        await running.stop()
        _log.info("simulators.stopped")
