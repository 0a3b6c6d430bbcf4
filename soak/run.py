"""``make soak`` / ``python -m soak.run --profile short|long``: the production footprint under a
mixed load, faults on a printed schedule, then the audit (docs/reliability.md).

Exit status 0 when every audit check holds, 1 otherwise; ``<work>/results.json`` has the record
(every request, write, message and delivery), the samples, the phases and the checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from soak.audit import Check, audit
from soak.stack import DSN, Stack, services
from soak.workload import Clock, Driver


@dataclass(frozen=True)
class Profile:
    name: str
    users: int  # virtual users, each pausing 0 to 2 x pause_s between steps
    pause_s: float
    steady_s: float  # load before the first fault
    recovery_s: float  # load after each fault before the next one
    kafka_s: float  # how long Kafka stays stopped
    redis_s: float
    upstream_s: float  # Customer Experience slow, then resetting, each this long
    burst_s: float
    burst_per_s: float
    marketing_per_s: float
    cycles: int  # times the whole fault schedule runs


PROFILES = {
    # In `make test` (tests/soak): every fault once, Kafka and Redis away for half as long.
    "short": Profile("short", 10, 0.3, 15, 15, 30, 15, 15, 8, 100, 3, 1),
    # Documented in docs/reliability.md: the durations, the schedule twice, ~30 minutes.
    "long": Profile("long", 12, 0.3, 120, 60, 60, 30, 60, 20, 100, 3, 2),
}


@dataclass
class Fault:
    name: str
    hold_s: float
    begin: Callable[[], Any]
    end: Callable[[], Any] | None = None
    began_at: float = 0.0
    began_unix: float = 0.0
    restored_at: float = 0.0
    note: str = ""


@dataclass
class Sample:
    at: float
    ready: str  # ok | degraded | unready | no answer
    workers: int
    pending: int | None  # outbox rows not yet published; None when the database is away
    oldest_pending_s: float | None


@dataclass
class Run:
    profile: Profile
    stack: Stack
    clock: Clock = field(default_factory=Clock)
    faults: list[Fault] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    burst: dict[str, int] = field(default_factory=dict)

    def log(self, text: str) -> None:
        print(f"[soak +{self.clock.now():6.1f}s] {text}", flush=True)


def schedule(run: Run, driver: Driver) -> list[Fault]:
    p, stack = run.profile, run.stack

    def burst() -> None:
        statuses = asyncio.run_coroutine_threadsafe(
            driver.burst(p.burst_s, p.burst_per_s), driver_loop
        ).result()
        for status, count in statuses.items():
            run.burst[str(status)] = run.burst.get(str(status), 0) + count

    faults = []
    for _ in range(p.cycles):
        faults += [
            Fault("kafka_down", p.kafka_s, lambda: services("down", "kafka"),
                  lambda: services("up", "kafka")),
            Fault("redis_down", p.redis_s, lambda: services("down", "redis"),
                  lambda: services("up", "redis")),
            Fault("postgres_restart", 0, lambda: services("down", "postgres"),
                  lambda: services("up", "postgres")),
            Fault("gateway_worker_killed", 0, stack.kill_gateway_worker),
            Fault("worker_killed", 0, stack.kill_worker),
            Fault("upstream_slow", p.upstream_s, lambda: stack.toxic("latency", latency=2000),
                  lambda: stack.clear_toxic("latency")),
            Fault("upstream_reset", p.upstream_s, lambda: stack.toxic("reset_peer", timeout=0),
                  lambda: stack.clear_toxic("reset_peer")),
            Fault("burst", 0, burst),
        ]  # fmt: skip
    return faults


driver_loop: asyncio.AbstractEventLoop


async def monitor(run: Run, stop: asyncio.Event) -> None:
    """Once a second: readiness, serving gateway workers, and the outbox's backlog."""
    async with httpx.AsyncClient(base_url=run.stack.url, timeout=5) as http:
        while not stop.is_set():
            at = run.clock.now()
            try:
                response = await http.get("/readyz")
                body = response.json()
                ready = "unready" if response.status_code != 200 else str(body.get("status"))
            except (httpx.HTTPError, ValueError):
                ready = "no answer"
            pending = oldest = None
            try:
                async with asyncio.timeout(3):
                    connection = await asyncpg.connect(DSN)
                    try:
                        row = await connection.fetchrow(
                            "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) "
                            "AS age FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
                        )
                        pending, oldest = row["n"], float(row["age"] or 0.0)
                    finally:
                        await connection.close()
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pass
            workers = await asyncio.to_thread(run.stack.serving_workers)
            run.samples.append(Sample(at, ready, workers, pending, oldest))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)


async def inject(run: Run, driver: Driver) -> None:
    p = run.profile
    await asyncio.sleep(p.steady_s)
    for fault in run.faults:
        run.clock.phase = fault.name
        fault.began_at, fault.began_unix = run.clock.now(), time.time()
        result = await asyncio.to_thread(fault.begin)
        run.log(f"{fault.name}: begun" + (f" ({result})" if isinstance(result, int) else ""))
        await asyncio.sleep(fault.hold_s)
        if fault.end is not None:
            await asyncio.to_thread(fault.end)
        fault.restored_at = run.clock.now()
        run.clock.phase = f"{fault.name}.recovery"
        run.log(f"{fault.name}: restored after {fault.restored_at - fault.began_at:.1f}s")
        await asyncio.sleep(p.recovery_s)
    run.clock.phase = "final"


async def drain(run: Run, driver: Driver) -> dict[str, float]:
    """After the load: until the outbox is empty, every acknowledged Marketing message is in the
    inbox or dead-lettered, and every won deal has its contract (each with a deadline)."""
    waited: dict[str, float] = {}
    connection = await asyncpg.connect(DSN)
    try:
        acked = [m.event_id for m in driver.record.messages if m.acked and m.valid]
        won = [w.target for w in driver.record.writes if w.ok and w.stage == "closed_won"]
        conditions: dict[str, tuple[str, list[Any]]] = {
            "outbox": (
                "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL AND parked_at IS NULL",
                [],
            ),
            "marketing": (
                "SELECT count(*) >= cardinality($1::text[]) FROM inbox "
                "WHERE event_id = ANY($1::text[])",
                [acked],
            ),
            "contracts": (
                "SELECT count(*) = 0 FROM opportunities WHERE id = ANY($1::uuid[]) "
                "AND contract_id IS NULL",
                [won],
            ),
        }
        # Until one pass finds every condition holding: applying a Marketing message or a
        # contract writes events after the outbox was seen empty.
        for _ in range(3):
            settled = True
            for name, (sql, args) in conditions.items():
                began = time.monotonic()
                deadline = began + 180
                done = bool(await connection.fetchval(sql, *args))
                settled = settled and done
                while not done and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                    done = bool(await connection.fetchval(sql, *args))
                if not done:
                    waited[name] = -1.0
                    return waited
                waited[name] = max(waited.get(name, 0.0), round(time.monotonic() - began, 1))
            if settled:
                break
    finally:
        await connection.close()
    return waited


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def phases(run: Run, driver: Driver) -> list[dict[str, Any]]:
    order: dict[str, list[Any]] = {}
    for call in driver.record.calls:
        order.setdefault(call.phase, []).append(call)
    table = []
    for phase, calls in order.items():
        ok = [c for c in calls if 0 < c.status < 400]
        errors = [c for c in calls if c.status == 0 or c.status >= 500]
        table.append({
            "phase": phase,
            "requests": len(calls),
            "ok": len(ok),
            "errors_5xx_or_none": len(errors),
            "error_rate": round(len(errors) / len(calls), 4),
            "rate_limited": sum(1 for c in calls if c.status == 429),
            "p50_ms": round(percentile([c.latency_s for c in calls], 50) * 1000, 1),
            "p99_ms": round(percentile([c.latency_s for c in calls], 99) * 1000, 1),
            "max_ms": round(max(c.latency_s for c in calls) * 1000, 1),
        })  # fmt: skip
    return table


# Each fault must be over by itself within these (seconds from its end): readiness ok with every
# gateway worker serving and a write acknowledged; the outbox caught up (the relay's backoff is
# at most 30 s, then the backlog).
READY_WITHIN_S = 30.0
OUTBOX_WITHIN_S = 90.0


def recovery_check(run: Run, driver: Driver) -> Check:
    """Each fault is over by itself in time; while Kafka or Redis is away readiness says
    degraded (200) and never unready."""
    check = Check("recovery: each fault over by itself; readiness degraded, not unready")
    found = recoveries(run, driver)
    for row in found:
        for name, bound in (
            ("ready_after_s", READY_WITHIN_S),
            ("first_write_after_s", READY_WITHIN_S),
            ("outbox_caught_up_after_s", OUTBOX_WITHIN_S),
        ):
            if row[name] is None or row[name] > bound:
                check.fail(f"{row['fault']}: {name} {row[name]} (bound {bound:.0f} s)")
    for fault in run.faults:
        if fault.name not in ("kafka_down", "redis_down"):
            continue
        # From 2 s after the stop (the first check to notice) to the restart.
        seen = [s.ready for s in run.samples if fault.began_at + 2 <= s.at < fault.restored_at - 1]
        if "degraded" not in seen or {"unready", "no answer"} & set(seen):
            check.fail(f"{fault.name}: readiness during the fault was {sorted(set(seen))}")
    check.figures = {"faults": len(found)}
    return check


def recoveries(run: Run, driver: Driver) -> list[dict[str, Any]]:
    """Per fault, from its end (the service back, the process killed): until readiness says
    ok with every gateway worker serving, until the first acknowledged write, and until the
    outbox's oldest pending row is younger than 5 s."""
    found = []
    writes_ok = sorted(
        c.at for c in driver.record.calls if c.kind.startswith("write.") and 200 <= c.status < 300
    )
    workers = run.stack.gateway_workers
    for fault in run.faults:
        start = fault.restored_at

        def first(test: Callable[[Sample], bool], start: float = start) -> float | None:
            for sample in run.samples:
                if sample.at >= start and test(sample):
                    return round(sample.at - start, 1)
            return None

        write = next((at for at in writes_ok if at >= start), None)
        found.append({
            "fault": fault.name,
            "held_s": round(fault.restored_at - fault.began_at, 1),
            "ready_after_s": first(lambda s: s.ready == "ok" and s.workers == workers),
            "first_write_after_s": None if write is None else round(write - start, 1),
            "outbox_caught_up_after_s": first(
                lambda s: s.oldest_pending_s is not None and s.oldest_pending_s < 5
            ),
        })  # fmt: skip
    return found


async def load(run: Run, driver: Driver) -> dict[str, Any]:
    global driver_loop
    driver_loop = asyncio.get_running_loop()
    p = run.profile
    stop_monitor = asyncio.Event()
    monitoring = asyncio.create_task(monitor(run, stop_monitor))
    marketing = asyncio.create_task(driver.marketing(p.marketing_per_s))
    users = [asyncio.create_task(driver.user(p.pause_s)) for _ in range(p.users)]
    await inject(run, driver)
    driver.stopping.set()
    await asyncio.gather(*users)
    try:
        async with asyncio.timeout(180):
            await marketing
    except TimeoutError:
        run.log("marketing: messages still unsent after 180 s")
    run.log(f"load stopped: {len(driver.record.calls)} requests")
    # The retries first: a write they apply commits events, which the drain then waits for.
    retried = await driver.retry_unknown()
    run.log(f"retried {retried} writes of unknown outcome with their idempotency keys")
    waited = await drain(run, driver)
    run.log(f"drained: {waited}")
    stop_monitor.set()
    await monitoring
    windows = [
        (f.began_unix, f.began_unix + f.restored_at - f.began_at)
        for f in run.faults
        if f.name in ("worker_killed", "kafka_down")
    ]
    kills = [f.began_at for f in run.faults if f.name == "gateway_worker_killed"]
    checks = await audit(
        driver.record, run.stack.sim_env["SALES_GRAPH_BILLING__BASE_URL"], windows, kills
    )
    drained = Check("drain: the backlog cleared after the load (180 s at most each)")
    for name, seconds in waited.items():
        if seconds < 0:
            drained.fail(f"{name}: not cleared within 180 s")
    drained.figures = waited
    checks += [drained, recovery_check(run, driver)]
    await driver.close()
    return {"drained_s": waited, "retried": retried, "checks": checks}


def accounts_of(stack: Stack) -> list[str]:
    async def fetch() -> list[str]:
        connection = await asyncpg.connect(DSN)
        try:
            rows = await connection.fetch("SELECT id::text AS id FROM accounts ORDER BY name")
        finally:
            await connection.close()
        return [row["id"] for row in rows]

    return asyncio.run(fetch())


def print_schedule(run: Run) -> None:
    p = run.profile
    at = p.steady_s
    print(f"soak: profile {p.name}: {p.users} users; the schedule (seconds after the load starts):")
    for fault in run.faults:
        held = f"for {fault.hold_s:.0f}s" if fault.hold_s else "at once"
        print(f"  +{at:5.0f}s  {fault.name} {held}, then {p.recovery_s:.0f}s of recovery")
        at += fault.hold_s + p.recovery_s
    print(f"  +{at:5.0f}s  load stops; retries, drain, audit", flush=True)


def report(result: dict[str, Any], table: list[dict[str, Any]], recovered: list[dict[str, Any]],
           run: Run) -> bool:  # fmt: skip
    print("\nphase                              requests  errors  rate     429   p50 ms   p99 ms")
    for row in table:
        print(
            f"{row['phase']:<34} {row['requests']:>8} {row['errors_5xx_or_none']:>7} "
            f"{row['error_rate']:>6.2%} {row['rate_limited']:>6} "
            f"{row['p50_ms']:>8} {row['p99_ms']:>8}"
        )
    print(
        "\nfault                    held s  ready after s  first write after s  outbox caught up s"
    )
    for row in recovered:
        print(
            f"{row['fault']:<24} {row['held_s']:>6}  {row['ready_after_s']!s:>13}  "
            f"{row['first_write_after_s']!s:>19}  {row['outbox_caught_up_after_s']!s:>18}"
        )
    print(f"\nburst client: {run.burst}")
    ok = True
    for check in result["checks"]:
        verdict = "ok" if check.failures == 0 else f"FAILED ({check.failures})"
        print(f"\n{verdict:<12} {check.name}\n             {json.dumps(check.figures)}")
        for example in check.examples:
            print(f"             - {example}")
        ok = ok and check.failures == 0
    return ok


def main(argv: list[str] | None = None) -> int:
    # aiokafka logs every failed reconnect while Kafka is away on purpose: the run says it once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--work", type=Path, default=None, help="logs and results (a temp dir)")
    args = parser.parse_args(argv)
    # A SIGTERM (a test runner's timeout, Ctrl-C's cousin) still stops what the run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = args.work or Path(tempfile.mkdtemp(prefix="sales-graph-soak-"))
    profile = PROFILES[args.profile]
    stack = Stack(work)
    print(f"soak: work directory {work}", flush=True)
    try:
        began = time.monotonic()
        stack.start()
        print(f"soak: footprint up in {time.monotonic() - began:.0f}s at {stack.url}", flush=True)
        run = Run(profile, stack)
        driver = Driver(
            stack.url, stack.tokens, stack.partner_keys, stack.burst_key, accounts_of(stack),
            run.clock,
        )  # fmt: skip
        run.faults = schedule(run, driver)
        print_schedule(run)
        run.clock.began = time.monotonic()
        result = asyncio.run(load(run, driver))
        table, recovered = phases(run, driver), recoveries(run, driver)
        ok = report(result, table, recovered, run)
        (work / "results.json").write_text(
            json.dumps(
                {
                    "profile": asdict(profile),
                    "ok": ok,
                    "phases": table,
                    "recoveries": recovered,
                    "burst": run.burst,
                    "drained_s": result["drained_s"],
                    "retried": result["retried"],
                    "checks": [asdict(c) for c in result["checks"]],
                    "samples": [asdict(s) for s in run.samples],
                    "record": driver.record.to_json(),
                },
                default=str,
            )
        )
        print(f"\nsoak: {'PASSED' if ok else 'FAILED'}; results in {work / 'results.json'}")
        return 0 if ok else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
