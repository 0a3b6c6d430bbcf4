"""The run's own database, settings and tokens: separate from the test database and Redis db."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PG = "sales_graph:sales_graph@127.0.0.1:5432"
DATABASE = "sales_graph_bench"
DSN = f"postgresql://{PG}/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/3"  # not the tests' db 0
KAFKA = "127.0.0.1:9092"
CLI = str(Path(sys.executable).parent / "sales-graph")

# Limits far above what a run sends: the limiter still does its full work per request (one
# Lua script in Redis), it just never refuses. Logs as in production (INFO, JSON, stderr).
_GATEWAY_SETTINGS = {
    "SALES_GRAPH_ENV": "production",
    "SALES_GRAPH_DATABASE_URL": f"postgresql+asyncpg://{PG}/{DATABASE}",
    "SALES_GRAPH_REDIS_URL": REDIS_URL,
    "SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
    "SALES_GRAPH_LOG_LEVEL": "INFO",
    "SALES_GRAPH_RATE_LIMIT__PRINCIPAL_LIMIT": "1000000000",
    "SALES_GRAPH_RATE_LIMIT__BURST_LIMIT": "1000000000",
    "SALES_GRAPH_RATE_LIMIT__GLOBAL_LIMIT": "1000000000",
    "SALES_GRAPH_AUTH__ACCESS_TOKEN_TTL_S": "14400",
}


def clean_environ() -> dict[str, str]:
    """The caller's environment without any SALES_GRAPH_* (the Makefile exports a data dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALES_GRAPH_")}
    env["PYTHONUNBUFFERED"] = "1"
    # This checkout's code, also when it is a worktree: the virtualenv's editable install points
    # at the repository it was made in.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return env


async def recreate_database(name: str, server: str = PG) -> None:
    """Drops (closing its connections) and creates the PostgreSQL database ``name`` on
    ``server`` (``user:password@host:port``)."""
    connection = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@dataclass(frozen=True)
class Stack:
    work: Path

    def gateway_env(self, **settings: str) -> dict[str, str]:
        return {
            **clean_environ(),
            **_GATEWAY_SETTINGS,
            "SALES_GRAPH_DATA_DIR": str(self.work / "data"),
            **settings,
        }

    def floor_env(self) -> dict[str, str]:
        return {**clean_environ(), "BENCH_FLOOR_DSN": DSN}

    def services_up(self) -> None:
        subprocess.run(  # noqa: S603
            [str(ROOT / "scripts" / "services"), "up", "postgres", "redis", "kafka"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def create_database(self) -> None:
        asyncio.run(recreate_database(DATABASE))
        (self.work / "data").mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [CLI, "migrate"],
            check=True,
            env=self.gateway_env(),
            stdout=subprocess.DEVNULL,
        )

    def recount_leads(self) -> None:
        """The seed loads with triggers off: the lead counts PostgreSQL keeps are rebuilt."""
        subprocess.run(  # noqa: S603
            [CLI, "migrate", "--recount-leads"],
            check=True,
            env=self.gateway_env(),
            stdout=subprocess.DEVNULL,
        )

    def flush_redis(self) -> None:
        """Empties the run's Redis db: rate-limit windows, upstream and forecast caches would
        otherwise outlive a reseed (the ids are the same at every scale)."""
        from redis import Redis

        client = Redis.from_url(REDIS_URL)
        try:
            client.flushdb()
        finally:
            client.close()

    def token(self, email: str) -> str:
        """A signed JWT for the user, with the gateway's signing keys (``sales-graph token``)."""
        out = subprocess.run(  # noqa: S603
            [CLI, "token", "--email", email],
            check=True,
            env=self.gateway_env(),
            capture_output=True,
            text=True,
        ).stdout
        return out.strip().splitlines()[-1]
