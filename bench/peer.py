"""PostGraphile 4 (npm), the gateway's peer on the nested page of scenario 2.

The version is pinned in ``bench/postgraphile/package.json`` and ``package-lock.json``; ``npm ci``
installs it into ``bench/postgraphile/node_modules`` (git-ignored) on first use, like wrk. It runs
against the run's database as the same role, schema ``public``, read-only (no default
mutations), without GraphiQL or its query log, with as many cluster workers as uvicorn has.
PostGraphile verifies no token and applies no visibility: it answers what the role may read, the
head of sales' page of scenario 2 is every opportunity anyway.

Its answer cannot be the gateway's bytes: PostgreSQL's ``numeric`` amount is a string and the
stage is stored in lower case. ``difference`` compares the records instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

from bench.procs import Process, ServerConfig, free_port, spawn
from bench.stack import DSN, clean_environ

HOME = Path(__file__).parent / "postgraphile"
BINARY = HOME / "node_modules" / ".bin" / "postgraphile"


def _pinned() -> str:
    return str(json.loads((HOME / "package.json").read_text())["dependencies"]["postgraphile"])


def installed_version() -> str | None:
    manifest = HOME / "node_modules" / "postgraphile" / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


def ensure_postgraphile() -> Path:
    """The pinned PostGraphile, installed from package-lock.json with ``npm ci`` when missing or
    not the pinned version. Raises RuntimeError when node or npm is missing."""
    if BINARY.exists() and installed_version() == _pinned():
        return BINARY
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise RuntimeError("node and npm are needed for PostGraphile (apt-get install nodejs npm)")
    subprocess.run(  # noqa: S603
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HOME,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not BINARY.exists():
        raise RuntimeError(f"npm ci in {HOME} did not install postgraphile")
    return BINARY


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "none"
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    return out.stdout.strip()


def options(config: ServerConfig) -> list[str]:
    """The flags PostGraphile runs with (also written into the results)."""
    found = [
        "--schema", "public",
        "--disable-default-mutations", "--disable-graphiql", "--disable-query-log",
        "--no-setof-functions-contain-nulls",
    ]  # fmt: skip
    if config.workers > 1:
        found += ["--cluster-workers", str(config.workers)]
    return found


def start(config: ServerConfig, log_dir: Path) -> Process:
    """PostGraphile on a free port in its own process group (``NODE_ENV=production``)."""
    binary = ensure_postgraphile()
    port = free_port()
    command = [
        str(binary), "--connection", DSN, "--host", "127.0.0.1", "--port", str(port),
        *options(config),
    ]  # fmt: skip
    env = {**clean_environ(), "NODE_ENV": "production"}
    started = spawn("postgraphile", command, env, log_dir)
    started.port = port
    return started


def _records(body: bytes) -> list[tuple[Any, ...]]:
    items = orjson.loads(body)["data"]["opportunities"]["items"]
    return [
        (
            item["id"],
            item["name"],
            str(item["stage"]).upper(),
            None if item["amount"] is None else float(item["amount"]),
            item["account"]["name"],
            item["owner"]["name"],
            None if item["territory"] is None else item["territory"]["name"],
        )
        for item in items
    ]


def difference(expected: bytes, found: bytes) -> str | None:
    """None when ``found`` holds the same records as ``expected`` in the same order (ids, names,
    stage, amount as a number, the three relations' names), else the first difference."""
    try:
        want, got = _records(expected), _records(found)
    except (ValueError, KeyError, TypeError) as error:
        return f"unreadable answer ({type(error).__name__}: {error}): {found[:200]!r}"
    if len(want) != len(got):
        return f"{len(got)} records instead of {len(want)}"
    for position, (a, b) in enumerate(zip(want, got, strict=True)):
        if a != b:
            return f"record {position}: {b} instead of {a}"
    return None
