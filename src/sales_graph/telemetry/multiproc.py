"""prometheus-client's multiprocess mode: one directory of value files shared by the processes
of one host (``sales-graph serve --workers N``), summed at scrape time.

prometheus-client decides when it is first imported whether values live in that directory, so
:func:`prepare` must run before anything imports ``prometheus_client``; this module imports it
only inside the functions that run in a process that already decided.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory() -> Path | None:
    """The multiprocess directory of this process, if any."""
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


def settle(serving: bool) -> None:
    """What a command does with the directory, before prometheus_client loads: one that serves
    nothing (``token``, ``migrate`` ...) counts in process and leaves no files behind; one that
    serves (``serve``, ``worker``) gets the directory made. ValueError when the path is a file."""
    path = directory()
    if path is None:
        return
    if not serving:
        os.environ.pop(ENV, None)
        os.environ.pop(ENV.lower(), None)
        return
    if path.exists() and not path.is_dir():
        raise ValueError(f"{ENV}={path} is not a directory")
    path.mkdir(parents=True, exist_ok=True)


def prepare() -> tuple[Path, bool]:
    """The directory the workers about to be started share, emptied of an earlier run's files
    (counts would carry over otherwise), and set in the environment they inherit. A fresh
    temporary directory when none is set; True when it was made here (the caller removes it)."""
    existing = directory()
    if existing is None:
        made = Path(tempfile.mkdtemp(prefix="sales-graph-metrics-"))
        os.environ[ENV] = str(made)
        return made, True
    existing.mkdir(parents=True, exist_ok=True)
    for stale in existing.glob("*.db"):
        stale.unlink(missing_ok=True)
    return existing, False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_processes() -> list[int]:
    """Drops the live gauges of processes that are gone (a worker that crashed and was started
    again by uvicorn): called when a process starts. The pids forgotten."""
    path = directory()
    if path is None:
        return []
    from prometheus_client import multiprocess

    dead: set[int] = set()
    for file in path.glob("gauge_live*_*.db"):
        pid_text = file.stem.rsplit("_", 1)[-1]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            dead.add(int(pid_text))
    for pid in sorted(dead):
        multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return sorted(dead)


def process_exiting() -> None:
    """This process stops: its live gauges leave the sums (its counters stay: counts only grow)."""
    path = directory()
    if path is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid(), str(path))  # type: ignore[no-untyped-call]
