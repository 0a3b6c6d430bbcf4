"""Load from another process: ``wrk`` with ``bench/wrk/request.lua``, and the answers it gives."""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.procs import Process, cpu_seconds, cpu_spent, rss_mb

LUA = Path(__file__).parent / "wrk" / "request.lua"


@dataclass(frozen=True, slots=True)
class Call:
    """One request of a scenario: what wrk repeats and what the checks send."""

    method: str
    path: str
    token: str | None = None
    body: bytes | None = None

    def headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if self.body is not None:
            headers["content-type"] = "application/json"
        return headers

    def send(self, base_url: str, **headers: str) -> httpx.Response:
        return httpx.request(
            self.method,
            base_url + self.path,
            content=self.body,
            headers=self.headers(**headers),
            timeout=60,
        )


def graphql(query: str, token: str | None, variables: dict[str, Any] | None = None) -> Call:
    return Call("POST", "/graphql", token, orjson.dumps({"query": query, "variables": variables}))


@dataclass
class Load:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    requests: int
    errors: dict[str, int]
    connections: int
    duration_s: float
    # CPU time per request of the server's processes and of the run database's PostgreSQL
    # backends: unlike req/s and latency, hardly moved by neighbours taking the CPU.
    cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.requests > 0 and not any(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk() -> str:
    """wrk's path; installed from Debian when missing (as scripts/services installs things)."""
    found = shutil.which("wrk")
    if found:
        return found
    root = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*root, "apt-get", "update", "-qq"], check=True, env=env)  # noqa: S603
    subprocess.run([*root, "apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)  # noqa: S603
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


class _RssSampler(threading.Thread):
    """The largest resident set of each serving process while the load runs."""

    def __init__(self, process: Process) -> None:
        super().__init__(daemon=True)
        self._pids = process.workers()
        self._finished = threading.Event()
        self.peak: dict[str, float] = {}

    def run(self) -> None:
        while not self._finished.wait(0.25):
            for pid in self._pids:
                self.peak[str(pid)] = max(self.peak.get(str(pid), 0.0), rss_mb(pid))

    def stop(self) -> dict[str, float]:
        self._finished.set()
        self.join()
        return {pid: round(mb, 1) for pid, mb in self.peak.items()}


class Wrk:
    def __init__(self, binary: str, bodies: Path) -> None:
        self.binary = binary
        self.bodies = bodies
        bodies.mkdir(parents=True, exist_ok=True)

    def run(
        self,
        target: Process,
        call: Call,
        *,
        duration_s: float,
        connections: int,
        threads: int = 2,
        rss: bool = False,
        database_pids: Callable[[], list[int]] | None = None,
    ) -> Load:
        env = {**os.environ, "BENCH_METHOD": call.method, "BENCH_TOKEN": call.token or ""}
        if call.body is not None:
            body = self.bodies / f"{hashlib.sha256(call.body).hexdigest()[:16]}.json"
            body.write_bytes(call.body)
            env["BENCH_BODY_FILE"] = str(body)
        threads = max(1, min(threads, connections))
        seconds = max(1, round(duration_s))  # wrk takes whole seconds
        command = [
            self.binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", "30s", "-s", str(LUA), target.url + call.path,
        ]  # fmt: skip
        sampler = _RssSampler(target) if rss else None
        if sampler:
            sampler.start()
        # The database's backends are listed before and after the run: a pool may open
        # connections during it (node-postgres closes idle ones after 10 s).
        pids, backends = target.family(), database_pids() if database_pids else []
        cpu_before, db_before = cpu_seconds(pids), cpu_seconds(backends)
        try:
            out = subprocess.run(  # noqa: S603
                command, env=env, capture_output=True, check=True, text=True
            ).stdout
        finally:
            peaks = sampler.stop() if sampler else {}
        cpu = cpu_spent(cpu_before, cpu_seconds(pids))
        after = sorted({*backends, *(database_pids() if database_pids else [])})
        db_cpu = cpu_spent(db_before, cpu_seconds(after))
        line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
        raw = orjson.loads(line.removeprefix("BENCH_JSON "))
        per_request = 1000 / raw["requests"] if raw["requests"] else 0.0
        latency = raw["latency_us"]
        seconds = raw["duration_us"] / 1e6
        return Load(
            rps=round(raw["requests"] / seconds, 1),
            p50_ms=latency["p50"] / 1000,
            p90_ms=latency["p90"] / 1000,
            p99_ms=latency["p99"] / 1000,
            mean_ms=round(latency["mean"] / 1000, 3),
            requests=raw["requests"],
            errors={k: v for k, v in raw["errors"].items() if v},
            connections=connections,
            duration_s=round(seconds, 2),
            cpu_ms=round(cpu * per_request, 2),
            db_cpu_ms=round(db_cpu * per_request, 2),
            rss_mb=peaks,
        )


def median_load(loads: Sequence[Load]) -> Load:
    """The run with the median throughput of repeated runs (its latencies come with it)."""
    ordered = sorted(loads, key=lambda load: load.rps)
    chosen = ordered[len(ordered) // 2]
    merged = Load(**{**chosen.to_dict(), "rss_mb": {}})
    for load in loads:
        for pid, mb in load.rss_mb.items():
            merged.rss_mb[pid] = max(merged.rss_mb.get(pid, 0.0), mb)
    merged.rps = round(statistics.median(load.rps for load in loads), 1)
    merged.cpu_ms = round(statistics.median(load.cpu_ms for load in loads), 2)
    merged.db_cpu_ms = round(statistics.median(load.db_cpu_ms for load in loads), 2)
    return merged
