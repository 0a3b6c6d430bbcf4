"""The soak's own production footprint: PostgreSQL, Redis and Kafka of its own (started by
``scripts/services`` in ``<services>/soak`` on ports of their own, so that stopping them never
touches what the tests use), the simulated systems, two gateway workers behind one port, and the
worker process. Only toxiproxy is shared: the soak adds a proxy of its own in front of Customer
Experience and removes it at the end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
from bench.procs import Process, free_port, spawn
from bench.stack import recreate_database

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "sales-graph")
SERVICES = str(ROOT / "scripts" / "services")
HOST = "127.0.0.1"
# Ports of the soak's services: none of them is a default of scripts/services. Two soaks at
# once (a long run beside the test suite's short one) set SALES_GRAPH_SOAK_PORT_OFFSET in one.
OFFSET = int(os.environ.get("SALES_GRAPH_SOAK_PORT_OFFSET") or 0)
PORTS = {
    "SALES_GRAPH_PG_PORT": 25432 + OFFSET,
    "SALES_GRAPH_REDIS_PORT": 26379 + OFFSET,
    "SALES_GRAPH_KAFKA_PORT": 29092 + OFFSET,
    "SALES_GRAPH_KAFKA_CONTROLLER_PORT": 29093 + OFFSET,
    "SALES_GRAPH_KAFKA_FAULTS_PORT": 29094 + OFFSET,
    "SALES_GRAPH_KAFKA_PROXIED_PORT": 29095 + OFFSET,
}
DATABASE = "sales_graph_soak"
PG = f"sales_graph:sales_graph@{HOST}:{PORTS['SALES_GRAPH_PG_PORT']}"
DSN = f"postgresql://{PG}/{DATABASE}"
REDIS_URL = f"redis://{HOST}:{PORTS['SALES_GRAPH_REDIS_PORT']}/0"
KAFKA = f"{HOST}:{PORTS['SALES_GRAPH_KAFKA_PORT']}"
# The secret Customer Experience signs its webhooks with (the driver plays Customer Experience).
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"soak-customer-experience-secret!").decode()
BURST_LIMIT_PER_S = 40
# The demo organisation's people the driver acts as (src/sales_graph/seed.py).
ADMIN = "admin@ionoi-inc.com"
MANAGERS = ("jane.smith@ionoi-inc.com", "lars.berg@ionoi-inc.com")


def services_dir() -> Path:
    base = os.environ.get("SALES_GRAPH_SERVICES_DIR") or str(ROOT / ".services")
    return Path(base) / ("soak" if not OFFSET else f"soak-{OFFSET}")


def _clean_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALES_GRAPH_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def services_env() -> dict[str, str]:
    """The environment of ``scripts/services`` for the soak's own PostgreSQL, Redis and Kafka."""
    env = _clean_environ()
    env["SALES_GRAPH_SERVICES_DIR"] = str(services_dir())
    env.update({name: str(port) for name, port in PORTS.items()})
    return env


def services(command: str, *names: str) -> float:
    """``scripts/services <command> <names>`` on the soak's services; the seconds it took."""
    began = time.monotonic()
    subprocess.run(  # noqa: S603 - our own script
        [SERVICES, command, *names],
        env=services_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.monotonic() - began


def toxiproxy_url() -> str:
    return os.environ.get("SALES_GRAPH_TOXIPROXY_URL", f"http://{HOST}:8474")


def shared_toxiproxy_up() -> None:
    """The shared toxiproxy (the tests' one), started by the caller's scripts/services setup."""
    env = {k: v for k, v in os.environ.items() if k != "SALES_GRAPH_SERVICES_DIR"}
    if "SALES_GRAPH_SERVICES_DIR" in os.environ:
        env["SALES_GRAPH_SERVICES_DIR"] = os.environ["SALES_GRAPH_SERVICES_DIR"]
    subprocess.run(  # noqa: S603
        [SERVICES, "up", "toxiproxy"], env=env, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


async def _delete_topics() -> None:
    """Every topic of an earlier run, so that the audit reads this run's messages only."""
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
        if topics:
            await admin.delete_topics(topics)
        deadline = time.monotonic() + 60
        while set(topics) & set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError("Kafka did not delete the topics of an earlier run in 60 s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


@dataclass
class Stack:
    """Everything the run started, and how to reach it."""

    work: Path
    gateway_workers: int = 2
    sims: Process | None = None
    gateway: Process | None = None
    worker: Process | None = None
    sim_env: dict[str, str] = field(default_factory=dict)
    cx_proxy: str = ""  # the toxiproxy proxy's name
    tokens: dict[str, str] = field(default_factory=dict)
    partner_keys: list[str] = field(default_factory=list)
    burst_key: str = ""
    worker_restarts: int = 0

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def app_env(self) -> dict[str, str]:
        """The gateway's and the worker's settings: production, every system configured."""
        return {
            **_clean_environ(),
            **self.sim_env,
            "SALES_GRAPH_ENV": "production",
            "SALES_GRAPH_DATA_DIR": str(self.work / "data"),
            "SALES_GRAPH_DATABASE_URL": f"postgresql+asyncpg://{PG}/{DATABASE}",
            "SALES_GRAPH_REDIS_URL": REDIS_URL,
            "SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "SALES_GRAPH_LOG_LEVEL": "INFO",
            "SALES_GRAPH_CUSTOMER_EXPERIENCE__WEBHOOK_SECRET": WEBHOOK_SECRET,
            # Far above what one of the driver's callers sends in a minute; the burst client
            # goes over the per-second burst limit.
            "SALES_GRAPH_RATE_LIMIT__PRINCIPAL_LIMIT": "100000",
            "SALES_GRAPH_RATE_LIMIT__BURST_LIMIT": str(BURST_LIMIT_PER_S),
            "SALES_GRAPH_RATE_LIMIT__GLOBAL_LIMIT": "1000000",
            "SALES_GRAPH_AUTH__ACCESS_TOKEN_TTL_S": "14400",
            "SALES_GRAPH_METRICS__WORKER_PORT": "",
            "SALES_GRAPH_FINANCE_SYNC__ENABLED": "false",
        }

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "data").mkdir(exist_ok=True)
        services("up", "postgres", "redis", "kafka")
        shared_toxiproxy_up()
        asyncio.run(recreate_database(DATABASE, PG))
        asyncio.run(_delete_topics())
        self._flush_redis()
        self._start_simulators()
        self._proxy_customer_experience()
        env = self.app_env()
        self._cli("migrate", env=env)
        self._cli("seed", "--demo", env=env)
        for email in (ADMIN, *MANAGERS):
            self.tokens[email] = self._cli("token", "--email", email, env=env).splitlines()[-1]
        for email in self.rep_emails():
            self.tokens[email] = self._cli("token", "--email", email, env=env).splitlines()[-1]
        scopes = "leads:read leads:write opportunities:read opportunities:write accounts:read"
        for name in ("partner-a", "partner-b", "burst"):
            created = self._cli("apikey", "create", "--name", f"soak {name}", "--scopes", scopes)
            key = re.search(r"^api_key:\s+(\S+)", created, re.M).group(1)  # type: ignore[union-attr]
            if name == "burst":
                self.burst_key = key
            else:
                self.partner_keys.append(key)
        self.start_gateway()
        self.start_worker()

    def rep_emails(self) -> list[str]:
        out = asyncio.run(
            self._query("SELECT email FROM users WHERE role = 'sales_rep' ORDER BY email")
        )
        return [row["email"] for row in out]

    async def _query(self, sql: str) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(DSN)
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    def _cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(  # noqa: S603 - our own command
            [CLI, *args], env=env or self.app_env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"sales-graph {' '.join(args[:2])}: {done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def _flush_redis(self) -> None:
        from redis import Redis

        client = Redis.from_url(REDIS_URL)
        try:
            client.flushall()
        finally:
            client.close()

    def _start_simulators(self) -> None:
        base = free_port()
        while any(_busy(base + i) for i in range(5)):
            base = free_port()
        self.sims = spawn(
            "simulators", [CLI, "simulate", "--base-port", str(base)], _clean_environ(), self.logs
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.sims.log.read_text()
            found = dict(re.findall(r"^export (SALES_GRAPH_\w+)=(\S+)$", text, re.M))
            if len(found) >= 10:
                self.sim_env = found
                return
            if self.sims.process.poll() is not None:
                raise RuntimeError(f"the simulators exited; see {self.sims.log}")
            time.sleep(0.2)
        raise RuntimeError("the simulators did not print their settings within 60 s")

    def _proxy_customer_experience(self) -> None:
        """Customer Experience behind a toxiproxy proxy: the slow and resetting upstream."""
        upstream = self.sim_env["SALES_GRAPH_CUSTOMER_EXPERIENCE__BASE_URL"]
        upstream = upstream.removeprefix("http://").rstrip("/")
        self.cx_proxy = f"soak-cx-{os.getpid()}"
        with httpx.Client(base_url=toxiproxy_url(), timeout=5) as api:
            api.delete(f"/proxies/{self.cx_proxy}")
            created = api.post(
                "/proxies",
                json={"name": self.cx_proxy, "listen": f"{HOST}:0", "upstream": upstream},
            )
            created.raise_for_status()
            listen = created.json()["listen"]
        self.sim_env["SALES_GRAPH_CUSTOMER_EXPERIENCE__BASE_URL"] = f"http://{listen}"

    def start_gateway(self) -> None:
        port = free_port()
        self.gateway = spawn(
            "gateway",
            [CLI, "serve", "--host", HOST, "--port", str(port),
             "--workers", str(self.gateway_workers)],
            self.app_env(),
            self.logs,
        )  # fmt: skip
        self.gateway.port = port
        wait_until_ready(self.gateway.url, self.gateway)

    def start_worker(self) -> None:
        self.worker = spawn(
            f"worker-{self.worker_restarts}", [CLI, "worker"], self.app_env(), self.logs
        )

    def kill_worker(self) -> None:
        """SIGKILL the worker process (no shutdown at all), then start a new one."""
        assert self.worker is not None
        os.killpg(self.worker.process.pid, signal.SIGKILL)
        self.worker.process.wait(timeout=10)
        self.worker_restarts += 1
        self.start_worker()

    def kill_gateway_worker(self) -> int:
        """SIGKILL one of the gateway's uvicorn workers; uvicorn starts another. Its pid."""
        assert self.gateway is not None
        victim = self.gateway.workers()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def serving_workers(self) -> int:
        assert self.gateway is not None
        return len(self.gateway.workers())

    def toxic(self, kind: str, **attributes: int | float) -> None:
        with httpx.Client(base_url=toxiproxy_url(), timeout=5) as api:
            api.post(
                f"/proxies/{self.cx_proxy}/toxics",
                json={"name": kind, "type": kind, "stream": "downstream", "attributes": attributes},
            ).raise_for_status()

    def clear_toxic(self, kind: str) -> None:
        with httpx.Client(base_url=toxiproxy_url(), timeout=5) as api:
            api.delete(f"/proxies/{self.cx_proxy}/toxics/{kind}")

    def stop(self) -> None:
        for process in (self.worker, self.gateway, self.sims):
            if process is not None:
                process.stop()
        if self.cx_proxy:
            try:
                with httpx.Client(base_url=toxiproxy_url(), timeout=5) as api:
                    api.delete(f"/proxies/{self.cx_proxy}")
            except httpx.HTTPError:
                pass


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


def wait_until_ready(url: str, process: Process, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited; see {process.log}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready after {timeout_s}s; see {process.log}")
