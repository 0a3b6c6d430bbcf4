"""The processes of a run: uvicorn servers (gateway variants, the floor) and the simulators.

Each is started in its own process group and stopped by that group's id, so a run ends exactly
what it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How uvicorn runs: chosen by measurement in the run's sweep (``bench.run``)."""

    workers: int = 2
    loop: str = "uvloop"
    http: str = "httptools"

    @property
    def label(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}, {self.loop}, {self.http}"


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def family(self) -> list[int]:
        """This process and its descendants."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def workers(self) -> list[int]:
        """The processes that serve requests: uvicorn's workers, or the process itself."""
        family = self.family()
        python = [p for p in family[1:] if _is_python(p)]
        # uvicorn's supervisor spawns workers (and a resource tracker that serves nothing).
        serving = [p for p in python if "resource_tracker" not in _cmdline(p)]
        return serving or [self.process.pid]

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_python(pid: int) -> bool:
    return "python" in _cmdline(pid)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU time of each of these processes so far (those still running)."""
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return found


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings of ``cpu_seconds``: a process that exited in between
    (an idle pooled connection closed) takes nothing away; one that started counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name, process, log)


def uvicorn(
    name: str,
    factory: str,
    config: ServerConfig,
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
) -> Process:
    """A server run the way ``sales-graph serve`` runs the gateway (no access log, no proxy
    headers, no Server header), with the sweep's workers, event loop and HTTP parser."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(config.workers), "--loop", config.loop, "--http", config.http,
        "--no-access-log", "--log-level", "warning", "--no-server-header", "--no-proxy-headers",
    ]  # fmt: skip
    started = spawn(name, command, env, log_dir)
    started.port = port
    return started


def wait_ready(process: Process, path: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited; see {process.log}")
        try:
            if httpx.get(process.url + path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready after {timeout_s}s; see {process.log}")
