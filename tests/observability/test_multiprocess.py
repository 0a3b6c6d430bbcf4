"""``sales-graph serve --workers 2``: both workers count into one multiprocess directory and a
scrape of the metrics port sums them."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.events.conftest import until
from tests.gateways import seeded_org
from tests.observability.test_metrics import parse, total

REQUESTS = "sales_graph_http_requests_total"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz_per_process(directory: Path) -> dict[str, float]:
    """Each process's own count of /healthz requests, read from its file alone."""
    counts: dict[str, float] = {}
    for file in directory.glob("counter_*.db"):
        alone = directory.parent / f"alone-{file.stem}"
        alone.mkdir(exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[file.stem] = sum(
            s.value
            for metric in registry.collect()
            for s in metric.samples
            if s.name == REQUESTS and s.labels.get("route") == "/healthz"
        )
        shutil.rmtree(alone)
    return counts


@pytest.fixture
def served(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """The gateway under ``sales-graph serve --workers 2``: its URL, its metrics port's URL,
    the multiprocess directory."""
    asyncio.run(seeded_org(fresh_postgres))
    port, metrics_port = _free_port(), _free_port()
    directory = tmp_path / "prometheus"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SALES_GRAPH_", "PROMETHEUS_"))
    }
    env |= {
        "SALES_GRAPH_DATABASE_URL": fresh_postgres,
        "SALES_GRAPH_DATA_DIR": str(tmp_path),
        "SALES_GRAPH_EVENTS__IN_PROCESS": "false",
        "SALES_GRAPH_RATE_LIMIT__ENABLED": "false",
        "SALES_GRAPH_METRICS__PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    cli = "from sales_graph.cli import main; main()"
    command = [sys.executable, "-c", cli, "serve", "--workers", "2"]
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*command, "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", directory
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _until_up(client: httpx.AsyncClient, url: str, deadline_s: float = 150) -> int:
    """Asks ``url`` until it answers 200; returns how many of the requests were answered."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    answered = 0
    while True:
        try:
            response = await client.get(url)
            answered += 1
            if response.status_code == 200:
                return answered
        except httpx.TransportError:
            pass
        assert loop.time() < end, f"{url} did not answer in {deadline_s} s"
        await asyncio.sleep(0.1)


async def test_two_workers_are_summed(served: tuple[str, str, Path]) -> None:
    gateway, metrics_url, directory = served
    sent = 0
    async with httpx.AsyncClient(timeout=10) as client:
        await _until_up(client, f"{metrics_url}/metrics")
        sent = await _until_up(client, f"{gateway}/healthz")
        scrape = f"{metrics_url}/metrics"
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        # New connections, many at once, until both workers have answered some.
        while True:
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(timeout=10, limits=limits) as fresh:
                answers = await asyncio.gather(
                    *(fresh.get(f"{gateway}/healthz") for _ in range(20))
                )
            assert all(a.status_code == 200 for a in answers)
            sent += len(answers)
            per_process = _healthz_per_process(directory)
            if len([n for n in per_process.values() if n > 0]) >= 2:
                break
            assert loop.time() < end, f"one worker answered all: {per_process}"
        main = await client.get(f"{gateway}/metrics")

        # A request is counted once its answer is sent (web/middleware.py), so the last ones
        # may reach the files a moment after their answers reached us.
        async def all_counted() -> float | None:
            counted = total(parse((await client.get(scrape)).text), REQUESTS, route="/healthz")
            return counted if counted >= sent else None

        counted = await until(all_counted, deadline_s=30, every_s=0.05)
    assert main.status_code == 404  # the metrics port is set: not on the main listener
    # Every request counted once, whichever worker answered it; the scrape sums the files.
    assert counted == sent
    assert counted == sum(_healthz_per_process(directory).values())
    assert len([n for n in _healthz_per_process(directory).values() if n > 0]) == 2
