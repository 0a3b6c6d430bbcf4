"""``make bench``: seed PostgreSQL, start the gateway as production runs it, drive it with wrk
from another process next to its references, and write ``bench/results/<date>.json`` and the
tables of ``docs/performance.md``. The method is in ``bench/README.md``.

    python -m bench.run [--duration 4] [--rounds 2] [--scales 10000,100000,1000000] [--quick]
    python -m bench.run --only realtime     # scenario 7 alone, a few minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import events, peer, realtime, report, scenarios
from bench.load import Wrk, ensure_wrk
from bench.org import ADMIN_EMAIL, REP_EMAIL, VP_EMAIL, Org
from bench.procs import Process, ServerConfig, free_port, spawn, uvicorn, wait_ready
from bench.profile import Profiler
from bench.seed import seed
from bench.stack import CLI, DSN, ROOT, Stack

MAIN_SCALE = 100_000
# Parts that run alone (--only): their results go to bench/results/<date>-<part>.json and only
# their section of the generated block of docs/performance.md is rewritten.
ONLY = ("realtime", "webhooks")
SIMULATOR_LATENCY_MS = 50
# Gateways started next to each other for the interleaved comparisons (bench.apps).
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "gateway": ("bench.apps:gateway", {}),
    "naive": ("bench.apps:gateway_naive", {}),
    "no_access_filter": ("bench.apps:gateway_no_access_filter", {}),
    "no_rate_limit": ("bench.apps:gateway", {"SALES_GRAPH_RATE_LIMIT__ENABLED": "false"}),
    "no_metrics": ("bench.apps:gateway", {"SALES_GRAPH_METRICS__ENABLED": "false"}),
    # Every Customer Experience read goes upstream (fresh for 0 s; the stale copy is kept).
    "cold_cache": (
        "bench.apps:gateway",
        {"SALES_GRAPH_CUSTOMER_EXPERIENCE__CACHE_TTLS": '{"health": 0, "nps": 0}'},
    ),
}


@dataclass
class Options:
    duration_s: float
    rounds: int
    connections: int
    scales: list[int]
    sweep: bool
    services: bool
    quick: bool = False
    only: str | None = None


@dataclass
class Run:
    """Everything a scenario needs: the stack, the load generator, tokens, running servers."""

    stack: Stack
    wrk: Wrk
    profiler: Profiler
    options: Options
    tokens: dict[str, str] = field(default_factory=dict)
    config: ServerConfig = field(default_factory=ServerConfig)
    servers: dict[str, Process] = field(default_factory=dict)
    simulators: Process | None = None
    otlp_sink: Process | None = None
    upstream_env: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.stack.work / "logs"

    def log(self, message: str) -> None:
        # The machine may be shared: the 1-minute load average goes with every step.
        load = os.getloadavg()[0]
        self.results.setdefault("load_average", {}).setdefault("steps", []).append(load)
        print(f"[bench {time.strftime('%H:%M:%S')} load {load:.1f}] {message}", flush=True)

    def start_gateway(self, name: str, factory: str, settings: dict[str, str]) -> Process:
        # As `sales-graph serve --workers N` runs them: the workers share their metric values
        # through a directory of their own (prometheus-client's multiprocess mode).
        shared = self.stack.work / "metrics" / name
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        env = self.stack.gateway_env(
            **self.upstream_env, PROMETHEUS_MULTIPROC_DIR=str(shared), **settings
        )
        server = uvicorn(name, factory, self.config, env, self.logs)
        self.servers[name] = server
        return server

    def start_floor(self) -> Process:
        server = uvicorn(
            "floor", "bench.floor:create_app", self.config, self.stack.floor_env(), self.logs
        )
        self.servers["floor"] = server
        return server

    def start_postgraphile(self) -> None:
        """PostGraphile 4 for scenario 2 (``bench/peer.py``), installed on first use. A run
        without node or npm, or whose PostGraphile does not start, goes on without it and says
        why in the results."""
        found = self.results.setdefault("scenarios", {}).setdefault("2", {})
        about = found.setdefault("postgraphile", {})
        try:
            server = peer.start(self.config, self.logs)
            self.servers["postgraphile"] = server
            wait_ready(server, "/graphql")
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            self.stop("postgraphile")
            about["error"] = str(error)
            self.log(f"  ! PostGraphile not running: {error}")
            return
        about.update(
            {
                "version": peer.installed_version(),
                "node": peer.node_version(),
                "options": " ".join(peer.options(self.config)),
            }
        )

    def stop(self, *names: str) -> None:
        for name in names or tuple(self.servers):
            server = self.servers.pop(name, None)
            if server is not None:
                server.stop()

    def start_tracing_gateway(self) -> None:
        """The gateway with OpenTelemetry on at full sampling, exporting over OTLP/HTTP to a
        receiver that keeps nothing (``bench/otlp_sink.py``)."""
        port = free_port()
        command = [sys.executable, "-m", "bench.otlp_sink", str(port)]
        self.otlp_sink = spawn("otlp_sink", command, self.stack.gateway_env(), self.logs)
        self.otlp_sink.port = port
        self.start_gateway(
            "tracing",
            "bench.apps:gateway",
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_sink.url,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_TRACES_SAMPLER": "always_on",
                "OTEL_SERVICE_NAME": "sales-graph-bench",
                # A queue that holds what a full-speed run makes, so no span is dropped (a
                # dropped span is one not paid for).
                "OTEL_BSP_MAX_QUEUE_SIZE": "200000",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
            },
        )

    def start_simulators(self) -> None:
        """``sales-graph simulate``, Customer Experience answering after 50 ms."""
        command = [CLI, "simulate", "--base-port", str(_free_ports(5))]
        self.simulators = spawn("simulators", command, self.stack.gateway_env(), self.logs)
        deadline = time.monotonic() + 60
        env: dict[str, str] = {}
        while time.monotonic() < deadline and len(env) < 10:
            env = {}
            for line in self.simulators.log.read_text().splitlines():
                if line.startswith("export SALES_GRAPH_"):
                    name, _, value = line.removeprefix("export ").partition("=")
                    env[name] = value
            time.sleep(0.2)
        if len(env) < 10:
            raise RuntimeError(f"the simulators did not start; see {self.simulators.log}")
        self.upstream_env = env
        cx = env["SALES_GRAPH_CUSTOMER_EXPERIENCE__BASE_URL"]
        httpx.post(f"{cx}/_sim/knobs", json={"latency_ms": SIMULATOR_LATENCY_MS}).raise_for_status()

    def shutdown(self) -> None:
        self.stop()
        for process in (self.simulators, self.otlp_sink):
            if process is not None:
                process.stop()


def _free_ports(count: int, first: int = 9310) -> int:
    """The first of ``count`` consecutive free ports (``sales-graph simulate`` takes a base)."""
    for base in range(first, first + 500, count):
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports for the simulators")


def _seed(run: Run, rows: int) -> None:
    began = time.perf_counter()
    timings = asyncio.run(seed(DSN, Org(rows)))
    recount = time.perf_counter()
    run.stack.recount_leads()
    timings["recount_leads"] = round(time.perf_counter() - recount, 2)
    run.stack.flush_redis()
    run.results.setdefault("seed", {})[str(rows)] = {
        "seconds": round(time.perf_counter() - began, 1),
        "steps": timings,
        "org": {
            "leads": rows,
            "opportunities": rows,
            "accounts": Org(rows).accounts,
            "reps": Org(rows).reps,
            "territories": Org(rows).territories,
        },
    }
    run.log(f"seeded {rows:,} leads and opportunities in {time.perf_counter() - began:.1f}s")


def scenario_5_events(run: Run) -> dict[str, Any]:
    """Relay against a raw producer, outbox lag at 500 events/s, ingestion against raw consume."""
    began = time.perf_counter()
    measured = asyncio.run(events.run())
    relay, lag, intake = measured["relay"], measured["lag"], measured["ingestion"]
    run.log(f"scenario 5: events in {time.perf_counter() - began:.1f}s")
    return {
        "goal": "relay >= 0.5 x raw producer; outbox lag p99 < 1000 ms at 500 events/s",
        "met": relay["ratio"] >= 0.5 and lag["lag_p99_ms"] < 1000,
        "relay events/s (outbox -> Kafka, idempotent producer, acks=all)": relay[
            "relay_events_per_s"
        ],
        "raw aiokafka producer events/s (same messages, same settings)": relay["raw_events_per_s"],
        "**relay / raw** (median round; min, max)": "{ratio} ({ratio_min}, {ratio_max})".format(
            **relay
        ),
        "events relayed per round, rounds, relay batch size": (
            "{events}, {rounds}, {relay_batch_size}".format(**relay)
        ),
        "outbox lag at target / achieved events/s": (
            f"{lag['target_rate']} / {lag['achieved_rate']}"
        ),
        "**outbox lag p50 / p99 / max ms**": (
            f"{lag['lag_p50_ms']} / {lag['lag_p99_ms']} / {lag['lag_max_ms']}"
        ),
        "lead.qualified ingested leads/s (validate, upsert, assign, inbox, commit)": intake[
            "ingested_leads_per_s"
        ],
        "raw aiokafka consume loop messages/s (decode only)": intake["raw_consume_per_s"],
        "ingestion / raw consume": intake["ratio"],
        "lead.qualified messages (dead-lettered)": (
            f"{intake['messages']} ({intake['dead_lettered']})"
        ),
    }


def _every_scenario(run: Run) -> None:
    """``make bench``: the sweep, the servers side by side, scenarios 1 to 7, the scale curves."""
    options = run.options
    if options.sweep:
        run.config = scenarios.sweep(run)
    run.results["server"] = {"config": run.config.label, **dataclasses.asdict(run.config)}
    run.results["json_encoding"] = scenarios.json_encoders()
    run.log(f"gateway variants, floor and PostGraphile ({run.config.label})")
    for name, (factory, settings) in VARIANTS.items():
        run.start_gateway(name, factory, settings)
    run.start_tracing_gateway()
    run.start_floor()
    run.start_postgraphile()
    for name, server in run.servers.items():
        if name != "postgraphile":
            wait_ready(server, "/healthz" if name != "floor" else "/floor/opportunities")
    scenarios.checks(run)
    scenarios.rest_floor_and_overheads(run)
    scenarios.nested_page(run)
    scenarios.federation(run)
    scenarios.scale_point(run, MAIN_SCALE)
    scenarios.profiles(run)
    run.stop(*(name for name in list(run.servers) if name != "gateway"))
    realtime.scenario_7(run, quick=options.quick)
    for rows in options.scales:
        if rows == MAIN_SCALE:
            continue
        _seed(run, rows)
        scenarios.scale_point(run, rows)
    run.results.setdefault("scenarios", {})["5"] = scenario_5_events(run)
    scenarios.scale_goals(run)
    scenarios.rss_summary(run)


def _seeded_scenarios(run: Run) -> None:
    """A fresh database at the main scale, then scenario 7 alone or every scenario."""
    stack, options = run.stack, run.options
    run.log("fresh database sales_graph_bench, migrated")
    stack.create_database()
    _seed(run, MAIN_SCALE)
    run.results["main_scale"] = MAIN_SCALE
    run.tokens = {
        "admin": stack.token(ADMIN_EMAIL),
        "vp": stack.token(VP_EMAIL),
        "rep": stack.token(REP_EMAIL),
    }
    run.start_simulators()
    if options.only == "realtime":
        run.results["server"] = {"config": run.config.label, **dataclasses.asdict(run.config)}
        realtime.scenario_7(run, quick=options.quick)
    else:
        _every_scenario(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats of ratios")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--no-sweep", action="store_true", help="keep 2 workers, uvloop, httptools")
    parser.add_argument("--no-services", action="store_true", help="do not run scripts/services up")
    parser.add_argument("--quick", action="store_true", help="1 s runs, 1 round: a smoke test")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--only",
        choices=ONLY,
        help="run one part alone: realtime = scenario 7 (subscriptions, webhooks) on a fresh"
        " seed; webhooks = scenario 7's webhooks only (no seed, ~1 min)",
    )
    args = parser.parse_args()
    options = Options(
        duration_s=1.0 if args.quick else args.duration,
        rounds=1 if args.quick else args.rounds,
        connections=args.connections,
        scales=sorted(int(s) for s in args.scales.split(",")),
        sweep=not args.no_sweep,
        services=not args.no_services,
        quick=args.quick,
        only=args.only,
    )
    began = time.monotonic()
    stack = Stack(ROOT / "bench" / ".work")
    run = Run(
        stack, Wrk(ensure_wrk(), stack.work / "bodies"), Profiler(stack.work / "profiles"), options
    )
    started_at = datetime.now(UTC)
    try:
        if options.services:
            run.log("services up (scripts/services up postgres redis kafka)")
            stack.services_up()
        if options.only == "webhooks":
            found = run.results.setdefault("scenarios", {}).setdefault("7", {})
            count = 1000 if options.quick else realtime.WEBHOOK_EVENTS
            run.log(f"scenario 7: webhooks only ({count} events per round)")
            found["webhooks"] = realtime.webhook_throughput(run, count)
        else:
            _seeded_scenarios(run)
    finally:
        run.shutdown()
    _finish(run, args.output, started_at, began)


def _finish(run: Run, output: Path, started_at: datetime, began: float) -> None:
    """The results JSON and the generated block of ``docs/performance.md`` (only scenario 7's
    part of it after ``--only realtime``)."""
    options = run.options
    run.results["started_at"] = started_at.isoformat(timespec="seconds")
    run.results["duration_s"] = round(time.monotonic() - began, 1)
    run.results["command"] = (
        f"python -m bench.run --only {options.only}" if options.only else "make bench"
    ) + (" --quick" if options.quick else "")
    run.results["connections"] = options.connections
    run.results["run_seconds"] = options.duration_s
    run.results["rounds"] = options.rounds
    run.results["machine"] = {
        "cpus": scenarios.cpu_count(),
        "cpu": platform.processor() or scenarios.cpu_model(),
        "python": platform.python_version(),
        "postgres": scenarios.postgres_version(),
    }
    path = report.write(run.results, output, started_at, only=options.only)
    run.log(f"wrote {path} and docs/performance.md in {run.results['duration_s']}s")


if __name__ == "__main__":
    main()
