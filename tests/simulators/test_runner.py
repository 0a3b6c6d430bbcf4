from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from sales_graph.simulators import SYSTEMS, serve_simulators


def _consecutive_free_ports(count: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count >= 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    pytest.fail("no run of free ports found")


async def test_simulators_take_consecutive_ports_and_stop(http: httpx.AsyncClient) -> None:
    base = _consecutive_free_ports(len(SYSTEMS))
    running = await serve_simulators("127.0.0.1", base)
    try:
        assert running.urls == {
            system: f"http://127.0.0.1:{base + i}" for i, system in enumerate(SYSTEMS)
        }
        env = running.env()
        assert env["SALES_GRAPH_BILLING__BASE_URL"] == f"http://127.0.0.1:{base + 3}"
        assert env["SALES_GRAPH_BILLING__API_KEY"] == "sim-billing-key"
        response = await http.get(
            running.urls["finance"] + "/api/v1/revenue/2026-01",
            headers={"X-API-Key": env["SALES_GRAPH_FINANCE__API_KEY"]},
        )
        assert response.status_code == 200
    finally:
        await running.stop()
    with pytest.raises(httpx.ConnectError):
        await http.get(running.urls["finance"] + "/_sim/knobs")


async def test_run_forever_serves_until_sigterm(http: httpx.AsyncClient) -> None:
    base = _consecutive_free_ports(len(SYSTEMS))
    code = (
        "from sales_graph.simulators import run_forever;"
        f"run_forever('127.0.0.1', {base}, on_started=lambda r: print(r.urls['support'], flush=True))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=subprocess.PIPE, env={**os.environ}
    )
    try:
        assert process.stdout is not None
        url = ""
        async with asyncio.timeout(20):
            while not url.startswith("http://"):  # structlog may print its own lines first
                line = await process.stdout.readline()
                assert line, "the simulators exited before printing their URLs"
                url = line.decode().strip()
        assert url == f"http://127.0.0.1:{base + 2}"
        response = await http.get(
            url + "/api/v1/accounts/a/feature-requests", headers={"X-API-Key": "sim-support-key"}
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
