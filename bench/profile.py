"""Where the gateway's time goes: ``py-spy record`` on its workers while wrk drives one request,
summarised from py-spy's collapsed stacks (``-f raw``) into shares of the busy samples.

* ``by_package``: the innermost frame's package (self time): who burns the CPU.
* ``by_stage``: the step of the innermost frame that names one (``_STAGES``): SQLAlchemy under
  a resolver is SQL time, a resolver's own code is execution time.
* ``hot_frames``: our functions present in the most samples (inclusive time).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")

# Steps of a request, matched on a frame's "file:function"; the innermost matching frame wins.
_STAGES: tuple[tuple[str, str], ...] = (
    ("auth: JWT verify (joserfc, cryptography)", r"joserfc/|cryptography/|sales_graph/auth/"),
    ("rate limit (Redis script)", r"sales_graph/web/(ratelimit|limiter)\.py"),
    ("upstream calls (httpx, cache, connectors)", r"sales_graph/connectors/|httpx/|httpcore/"),
    ("GraphQL parse + validate + limits", r"graphql/(language|validation|utilities)/|limits\.py"),
    ("SQL (SQLAlchemy, SQLModel, asyncpg)", r"sqlalchemy/|sqlmodel/|asyncpg/|sales_graph/db/"),
    (
        "GraphQL execution + resolvers",
        r"strawberry/|graphql/|aiodataloader|sales_graph/(schema|resolvers|services)/",
    ),
    ("REST shaping", r"sales_graph/rest/"),
    ("logging (structlog)", r"structlog/|/logging/|sales_graph/logs\.py"),
    ("middleware (starlette, ours)", r"starlette/|sales_graph/web/"),
    ("event loop, asyncio tasks", r"/asyncio/|uvloop"),
    ("HTTP server (uvicorn, httptools)", r"uvicorn/|httptools"),
)


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/sales_graph/" in path:
        return "sales_graph." + path.split("/sales_graph/", 1)[1].split("/", 1)[0].removesuffix(
            ".py"
        )
    if "/lib/python" in path:
        return "stdlib:" + path.rsplit("/", 1)[-1].removesuffix(".py")
    return path.rsplit("/", 1)[-1]


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        if match:
            frames.append((match["function"], match["file"]))
    return frames


def _stage(frames: list[tuple[str, str]]) -> str:
    """The step of the innermost frame that belongs to one (the middleware stack wraps all)."""
    for function, file in reversed(frames):
        key = f"{file}:{function}"
        for name, rx in _STAGES:
            if re.search(rx, key):
                return name
    return "other"


def _samples(raw: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """(frames outermost first, count) per stack, of the serving processes only: uvicorn's
    workers when it has some (its supervisor only waits), else the one process."""
    stacks: list[tuple[str, list[tuple[str, str]], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        # With --subprocesses a worker's stack starts "process <supervisor>;process <worker>".
        process = next((p for p in reversed(stack.split(";")) if p.startswith("process ")), "")
        frames = _frames(stack)
        # uvicorn's worker health thread blocks in recv(); py-spy samples it as busy under load.
        if frames and not any(function == "Process.always_pong" for function, _ in frames):
            stacks.append((process, frames, int(count_text)))
    workers = any("spawn_main" in process for process, _, _ in stacks)
    return [
        (frames, count)
        for process, frames, count in stacks
        if not workers or "spawn_main" in process
    ]


def summarise(raw: Path, top: int = 12) -> dict[str, Any]:
    packages: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for parsed, count in _samples(raw):
        total += count
        packages[_package(parsed[-1][1])] += count
        stages[_stage(parsed)] += count
        for function, file in {(f, _package(p)) for f, p in parsed}:
            if file.startswith("sales_graph"):
                frames[f"{file}.{function}"] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "by_stage": shares(stages),
        "by_package": shares(packages),
        "hot_frames": shares(frames),
    }


class Profiler:
    """``py-spy record`` on a process tree for a fixed time (``--subprocesses``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        binary = Path(sys.executable).parent / "py-spy"
        self.binary = str(binary) if binary.exists() else shutil.which("py-spy")

    @property
    def available(self) -> bool:
        return self.binary is not None

    def start(self, pid: int, name: str, duration_s: float) -> tuple[subprocess.Popen[bytes], Path]:
        assert self.binary is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out = self.out_dir / f"{name}.txt"
        command = [
            self.binary, "record", "--subprocesses", "--rate", "250", "--format", "raw",
            "--full-filenames", "--duration", str(int(duration_s)),
            "--pid", str(pid), "--output", str(out),
        ]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return process, out
