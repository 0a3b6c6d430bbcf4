"""The measurements of issue 9, each writing into ``run.results["scenarios"]``.

Ratios compare runs taken side by side in this run: the systems of a comparison are all
running, and their wrk runs alternate (``--rounds`` times for the close ratios of scenarios 1
and 6 and of the gateway against PostGraphile in scenario 2; the median run counts).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import timeit
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson

from bench import peer, queries
from bench.load import Call, Load, graphql, median_load
from bench.org import REP, Org, ident
from bench.procs import ServerConfig, uvicorn, wait_ready
from bench.profile import summarise
from bench.stack import DSN

if TYPE_CHECKING:
    from bench.run import Run

PAGE_SIZES = (10, 50, 200)
SWEEP = (
    ServerConfig(1, "uvloop", "httptools"),
    ServerConfig(2, "uvloop", "httptools"),
    ServerConfig(3, "uvloop", "httptools"),
    ServerConfig(2, "asyncio", "h11"),
    ServerConfig(2, "uvloop", "h11"),
)


def _scenario(run: Run, number: str) -> dict[str, Any]:
    found: dict[str, Any] = run.results.setdefault("scenarios", {}).setdefault(number, {})
    return found


def calls(run: Run) -> dict[str, Call]:
    vp, rep = run.tokens["vp"], run.tokens["rep"]
    found = {
        "vp_all": Call("GET", "/api/v1/leads?limit=50", vp),
        "rep_mine": Call("GET", f"/api/v1/leads?limit=50&assigned_to={REP}", rep),
        "federated": graphql(queries.FEDERATED_PAGE, vp, {"limit": 50}),
    }
    for size in PAGE_SIZES:
        found[f"page_{size}"] = graphql(queries.OPPORTUNITY_PAGE, vp, {"limit": size})
        found[f"join_{size}"] = Call("GET", f"/floor/opportunities?limit={size}", vp)
        # PostGraphile verifies no token: none is sent.
        found[f"postgraphile_{size}"] = graphql(queries.POSTGRAPHILE_PAGE, None, {"limit": size})
    return found


_warmed: set[tuple[str, str, int]] = set()


def measure(
    run: Run,
    server: str,
    call: Call,
    *,
    connections: int | None = None,
    duration_s: float | None = None,
) -> Load:
    """One wrk run; the first run of a (server, request) pair is preceded by a 1 s warm-up."""
    target = run.servers[server]
    conns = connections or run.options.connections
    key = (server, call.method + call.path + (call.body or b"").decode(), conns)
    if key not in _warmed:
        run.wrk.run(target, call, duration_s=1, connections=conns)
        _warmed.add(key)
    load = run.wrk.run(
        target,
        call,
        duration_s=duration_s or run.options.duration_s,
        connections=conns,
        threads=2 if conns > 1 else 1,
        rss=server == "gateway",
        database_pids=lambda: asyncio.run(database_backends()),
    )
    if server == "gateway":
        peaks = run.results.setdefault("rss_peak_mb", {})
        for pid, mb in load.rss_mb.items():
            peaks[pid] = max(peaks.get(pid, 0.0), mb)
    if not load.ok:
        run.log(f"  ! {server} {call.path}: errors {load.errors} in {load.requests} requests")
    return load


async def database_backends() -> list[int]:
    """The PostgreSQL backends serving the run's database (the servers' pooled connections)."""
    connection = await asyncpg.connect(DSN)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [int(row["pid"]) for row in rows]


def interleaved(
    run: Run, pairs: Iterable[tuple[str, str]], rounds: int
) -> dict[tuple[str, str], Load]:
    all_calls = calls(run)
    pairs = list(pairs)
    loads: dict[tuple[str, str], list[Load]] = {pair: [] for pair in pairs}
    for _ in range(rounds):
        for server, name in pairs:
            loads[(server, name)].append(measure(run, server, all_calls[name]))
    return {pair: median_load(found) for pair, found in loads.items()}


def counted(run: Run, server: str, call: Call) -> dict[str, int]:
    """What one request sent to PostgreSQL (the second of two identical requests)."""
    header = ""
    for _ in range(2):
        response = call.send(run.servers[server].url, **{"x-bench-count": "1"})
        header = response.headers.get("x-bench-sql", "")
    counts = {k: int(v) for k, v in (part.split("=") for part in header.split(";") if part)}
    # SQLAlchemy's asyncpg pre-ping is BEGIN, ";" and ROLLBACK: three round trips per checkout.
    counts["round_trips"] = 3 * counts.get("checkouts", 0) + sum(
        counts.get(k, 0) for k in ("statements", "begins", "commits", "rollbacks")
    )
    return counts


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def _row(load: Load) -> dict[str, Any]:
    return {
        "rps": load.rps,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "cpu_ms": load.cpu_ms,
        "db_cpu_ms": load.db_cpu_ms,
        "requests": load.requests,
        "errors": load.errors,
    }


# --------------------------------------------------------------------------- server config


def sweep(run: Run) -> ServerConfig:
    """The uvicorn setup with the best throughput (geometric mean of two requests): every
    candidate runs at once and their wrk runs alternate, ``--rounds`` times."""
    names = ("rep_mine", "page_50")
    env = run.stack.gateway_env(**run.upstream_env)
    labels = [f"sweep_{i}" for i in range(len(SWEEP))]
    for label, config in zip(labels, SWEEP, strict=True):
        run.servers[label] = uvicorn(label, "bench.apps:gateway", config, env, run.logs)
    try:
        for label in labels:
            wait_ready(run.servers[label], "/healthz")
        loads = interleaved(
            run, [(label, n) for n in names for label in labels], run.options.rounds
        )
    finally:
        run.stop(*labels)
    rows: list[dict[str, Any]] = []
    for label, config in zip(labels, SWEEP, strict=True):
        found = {n: loads[(label, n)] for n in names}
        score = statistics.geometric_mean([max(found[n].rps, 0.1) for n in names])
        rows.append({"config": config.label, **{n: _row(found[n]) for n in names}, "score": score})
        run.log(f"sweep {config.label}: " + ", ".join(f"{n} {found[n].rps} req/s" for n in names))
    scores = [float(row["score"]) for row in rows]
    best = scores.index(max(scores))
    run.results["sweep"] = {"rows": rows, "chosen": rows[best]["config"]}
    return SWEEP[best]


def json_encoders() -> dict[str, float]:
    """Microseconds to encode a 50-lead REST page: stdlib json against orjson."""
    lead = {
        "id": "3724cb68-e427-6cb4-ce89-ac444335fcef",
        "status": "working",
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "lead12345@bench.example",
        "company": "Company 12345",
        "score": 45,
        "assigned_to": {"id": "3724cb68-e427-6cb4-ce89-ac444335fcef", "name": "Ada Rep 0"},
        "created_at": "2026-10-31T20:34:12.345Z",
        "updated_at": "2026-10-31T21:34:12.345Z",
    }
    page = {"data": [lead] * 50, "pagination": {"total": 100000, "limit": 50, "offset": 0}}
    n = 2000
    stdlib = timeit.timeit(lambda: json.dumps(page).encode(), number=n) / n * 1e6
    fast = timeit.timeit(lambda: orjson.dumps(page), number=n) / n * 1e6
    return {"json_us": round(stdlib, 1), "orjson_us": round(fast, 1)}


# --------------------------------------------------------------------------- checks


def checks(run: Run) -> None:
    """The references answer the same bytes as the gateway, before anything is timed."""
    all_calls = calls(run)
    same: dict[str, bool] = {}

    def compare(name: str, a: str, b: str, call_a: str, call_b: str | None = None) -> None:
        first = all_calls[call_a].send(run.servers[a].url)
        second = all_calls[call_b or call_a].send(run.servers[b].url)
        ok = first.status_code == second.status_code == 200 and first.content == second.content
        same[name] = ok
        if not ok:
            run.log(f"  ! {name}: {first.status_code} {first.content[:200]!r}")
            run.log(f"  ! {name}: {second.status_code} {second.content[:200]!r}")

    for request in ("vp_all", "rep_mine"):
        compare(f"{request}: gateway = floor", "gateway", "floor", request)
        compare(f"{request}: gateway = no access filter", "gateway", "no_access_filter", request)
        compare(f"{request}: gateway = no rate limit", "gateway", "no_rate_limit", request)
        compare(f"{request}: gateway = no metrics", "gateway", "no_metrics", request)
        compare(f"{request}: gateway = tracing", "gateway", "tracing", request)
    for size in PAGE_SIZES:
        compare(f"page {size}: gateway = naive", "gateway", "naive", f"page_{size}")
        compare(
            f"page {size}: gateway = SQL join", "gateway", "floor", f"page_{size}", f"join_{size}"
        )
    if "postgraphile" in run.servers:
        _check_postgraphile(run, all_calls, same)
    sink = run.otlp_sink
    if sink is not None:
        # The tracing gateway did export: its spans reached the receiver (batched, so poll).
        deadline = time.monotonic() + 15
        received = httpx.get(f"{sink.url}/count").json()
        while received["exports"] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            received = httpx.get(f"{sink.url}/count").json()
        same["tracing: spans exported over OTLP"] = received["exports"] > 0
    run.results["checks"] = same
    run.log(f"checks: {sum(same.values())}/{len(same)} identical answers")


def _check_postgraphile(run: Run, all_calls: dict[str, Call], same: dict[str, bool]) -> None:
    """PostGraphile's page holds the gateway's and the SQL join's records, in their order (its
    bytes differ: amounts as strings, stages in lower case). A size that differs is not timed."""
    mismatches = _scenario(run, "2").setdefault("postgraphile", {}).setdefault("mismatch", {})
    for size in PAGE_SIZES:
        answer = all_calls[f"postgraphile_{size}"].send(run.servers["postgraphile"].url)
        problems = []
        for reference, request in (("gateway", f"page_{size}"), ("floor", f"join_{size}")):
            expected = all_calls[request].send(run.servers[reference].url)
            problem = (
                f"HTTP {answer.status_code}: {answer.content[:200]!r}"
                if answer.status_code != 200
                else peer.difference(expected.content, answer.content)
            )
            if problem is not None:
                problems.append(f"against {reference}: {problem}")
        name = f"page {size}: PostGraphile = gateway, SQL join (same records)"
        same[name] = not problems
        if problems:
            mismatches[str(size)] = "; ".join(problems)
            run.log(f"  ! {name}: {mismatches[str(size)][:300]}")


# --------------------------------------------------------------------------- scenarios 1, 6


# Scenario 6: (feature, the server with it, the server without it, goal for with / without).
# Metrics are on in every gateway but ``no_metrics``; tracing is on only in ``tracing``.
OVERHEADS = (
    ("access filter", "gateway", "no_access_filter", 0.9),
    ("rate limiter", "gateway", "no_rate_limit", 0.9),
    ("metrics", "gateway", "no_metrics", 0.95),
    ("tracing, every request sampled", "tracing", "gateway", 0.85),
)


def rest_floor_and_overheads(run: Run) -> None:
    pairs = [
        (server, request)
        for request in ("vp_all", "rep_mine")
        for server in (
            "gateway",
            "floor",
            "no_access_filter",
            "no_rate_limit",
            "no_metrics",
            "tracing",
        )
    ]
    run.log(f"scenarios 1 and 6: {len(pairs)} runs x {run.options.rounds} rounds")
    loads = interleaved(run, pairs, run.options.rounds)
    all_calls = calls(run)
    one, six = _scenario(run, "1"), _scenario(run, "6")
    one["rows"], six["rows"] = [], []
    for request in ("vp_all", "rep_mine"):
        gateway, floor = loads[("gateway", request)], loads[("floor", request)]
        one["rows"].append(
            {
                "request": request,
                "gateway": _row(gateway),
                "floor": _row(floor),
                "ratio": _ratio(gateway.rps, floor.rps),
                "statements": {
                    "gateway": counted(run, "gateway", all_calls[request]),
                    "floor": counted(run, "floor", all_calls[request]),
                },
            }
        )
        for what, on, off, goal in OVERHEADS:
            with_it, without = loads[(on, request)], loads[(off, request)]
            ratio = _ratio(with_it.rps, without.rps)
            six["rows"].append(
                {
                    "overhead": what,
                    "request": request,
                    "on": _row(with_it),
                    "off": _row(without),
                    "ratio": ratio,
                    "goal": goal,
                    "met": ratio >= goal,
                }
            )
    one["goal"] = 0.5
    one["met"] = all(row["ratio"] >= 0.5 for row in one["rows"])
    six["met"] = all(row["met"] for row in six["rows"])


def rss_summary(run: Run) -> None:
    six = _scenario(run, "6")
    peaks = run.results.get("rss_peak_mb", {})
    six["rss_peak_mb_per_worker"] = max(peaks.values(), default=0.0)
    six["rss_goal_mb"] = 200
    six["rss_met"] = six["rss_peak_mb_per_worker"] < 200


# --------------------------------------------------------------------------- scenario 2


def nested_page(run: Run) -> None:
    """Each size: the gateway and PostGraphile alternate ``--rounds`` runs (median), then the
    naive resolvers and the SQL join run once (their ratios are far apart)."""
    two = _scenario(run, "2")
    with_peer = "postgraphile" in run.servers
    mismatches = two.get("postgraphile", {}).get("mismatch", {})
    run.log(
        "scenario 2: nested page, gateway"
        + (" / PostGraphile" if with_peer else "")
        + " / naive resolvers / SQL join"
    )
    all_calls = calls(run)
    two["rows"] = []
    for size in PAGE_SIZES:
        pairs = [("gateway", f"page_{size}")]
        timed_peer = with_peer and str(size) not in mismatches
        if timed_peer:
            pairs.append(("postgraphile", f"postgraphile_{size}"))
        loads = interleaved(run, pairs, run.options.rounds if timed_peer else 1)
        gateway = loads[("gateway", f"page_{size}")]
        naive = measure(run, "naive", all_calls[f"page_{size}"])
        join = measure(run, "floor", all_calls[f"join_{size}"])
        row: dict[str, Any] = {
            "items": size,
            "gateway": _row(gateway),
            "naive": _row(naive),
            "join": _row(join),
            "ratio_join": _ratio(gateway.rps, join.rps),
            "ratio_naive": _ratio(gateway.rps, naive.rps),
            "statements": {
                "gateway": counted(run, "gateway", all_calls[f"page_{size}"]),
                "naive": counted(run, "naive", all_calls[f"page_{size}"]),
                "join": counted(run, "floor", all_calls[f"join_{size}"]),
            },
        }
        if timed_peer:
            postgraphile = loads[("postgraphile", f"postgraphile_{size}")]
            row["postgraphile"] = _row(postgraphile)
            row["ratio_postgraphile"] = _ratio(gateway.rps, postgraphile.rps)
        elif with_peer:
            row["postgraphile_mismatch"] = mismatches[str(size)]
        two["rows"].append(row)
    alone = measure(run, "gateway", all_calls["page_50"], connections=1)
    two["single_connection_50"] = _row(alone)
    statements = [row["statements"]["gateway"]["statements"] for row in two["rows"]]
    two["statements_flat"] = len(set(statements)) == 1
    two["goal"] = 0.35
    ratio_50 = next(row["ratio_join"] for row in two["rows"] if row["items"] == 50)
    two["met"] = ratio_50 >= 0.35 and two["statements_flat"]
    if with_peer:
        # The gateway against PostGraphile at every size; parity is the stretch.
        two["goal_postgraphile"] = 0.5
        two["met_postgraphile"] = all(
            row.get("ratio_postgraphile", 0.0) >= 0.5 for row in two["rows"]
        )


# --------------------------------------------------------------------------- scenario 3


def _upstream_round_trip(cx: str, api_key: str, account: str, n: int = 30) -> list[float]:
    times = []
    with httpx.Client(base_url=cx, headers={"Authorization": f"Bearer {api_key}"}) as client:
        for _ in range(n):
            began = time.perf_counter()
            client.get(f"/api/v1/accounts/{account}/health").raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    return times


async def _direct_fan_out(
    cx: str, api_key: str, accounts: list[str], limit: int, pools: int
) -> float:
    """Milliseconds for the page's upstream reads made straight from here with httpx, ``limit``
    at a time, over ``pools`` clients (the gateway's connector: one client of 50 connections)."""
    gate = asyncio.Semaphore(limit)
    headers = {"Authorization": f"Bearer {api_key}"}
    size = max(1, limit // pools)
    pool = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(base_url=cx, headers=headers, limits=pool) for _ in range(pools)]
    paths = [f"/api/v1/accounts/{a}/{r}" for a in accounts for r in ("health", "nps")]

    async def get(n: int) -> None:
        async with gate:
            (await clients[n % pools].get(paths[n])).raise_for_status()

    try:
        await asyncio.gather(*(get(n) for n in range(len(paths))))  # connections opened
        times = []
        for _ in range(7):
            began = time.perf_counter()
            await asyncio.gather(*(get(n) for n in range(len(paths))))
            times.append((time.perf_counter() - began) * 1000)
    finally:
        for client in clients:
            await client.aclose()
    return statistics.median(times)


def federation(run: Run) -> None:
    run.log(f"scenario 3: federation, Customer Experience at {50} ms")
    call = calls(run)["federated"]
    cx = run.upstream_env["SALES_GRAPH_CUSTOMER_EXPERIENCE__BASE_URL"]
    key = run.upstream_env["SALES_GRAPH_CUSTOMER_EXPERIENCE__API_KEY"]
    answer = call.send(run.servers["cold_cache"].url).json()
    items = answer["data"]["opportunities"]["items"]
    accounts = {item["account"]["name"] for item in items}
    healthy = sum(1 for item in items if item["account"]["health"] is not None)
    rtt = _upstream_round_trip(cx, key, str(ident("account", 0)))
    httpx.delete(f"{cx}/_sim/requests").raise_for_status()
    for _ in range(3):
        call.send(run.servers["cold_cache"].url)
    upstream_calls = len(httpx.get(f"{cx}/_sim/requests").json()) / 3
    org = Org(run.results["main_scale"])
    page_accounts = sorted({str(org.account_of_opportunity(n)) for n in range(50)})
    direct = asyncio.run(_direct_fan_out(cx, key, page_accounts, 50, 1))
    direct_split = asyncio.run(_direct_fan_out(cx, key, page_accounts, 50, 5))
    cold = measure(run, "cold_cache", call, connections=1)
    warm = measure(run, "gateway", call, connections=1)
    three = _scenario(run, "3")
    local = _scenario(run, "2").get("single_connection_50", {}).get("p50_ms", 0.0)
    one_rtt = statistics.median(rtt)
    bound = 1.5 * one_rtt + local
    three.update(
        {
            "distinct_accounts": len(accounts),
            "fields_answered": healthy,
            "errors": len(answer.get("errors", [])),
            "upstream_calls_per_request": upstream_calls,
            "upstream_round_trip_p50_ms": round(one_rtt, 2),
            "sequential_sum_ms": round(upstream_calls * one_rtt, 1),
            "direct_fan_out_ms": round(direct, 1),
            "direct_fan_out_5_pools_ms": round(direct_split, 1),
            "local_p50_ms": local,
            "cold": _row(cold),
            "warm": _row(warm),
            "ratio_to_round_trip": _ratio(cold.p50_ms, one_rtt),
            "ratio_to_sequential": _ratio(cold.p50_ms, upstream_calls * one_rtt),
            "goal_ms": round(bound, 1),
            "met": cold.p50_ms <= bound,
        }
    )
    three["statements"] = counted(run, "cold_cache", call)


# --------------------------------------------------------------------------- scenario 4


def _period() -> str:
    today = date.today()
    return f"Q{(today.month - 1) // 3 + 1}_{today.year}"


async def _cursor_at(position: int) -> str:
    from sales_graph.db.repositories.leads import ORDERS

    connection = await asyncpg.connect(DSN)
    try:
        row = await connection.fetchrow(
            "SELECT created_at, id FROM leads ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            position,
        )
    finally:
        await connection.close()
    assert row is not None
    return ORDERS["CREATED_AT_DESC"].cursor_for(row["created_at"], row["id"])


def scale_calls(run: Run, rows: int) -> dict[str, Call]:
    admin, rep = run.tokens["admin"], run.tokens["rep"]
    deep = int(rows * 0.9)
    cursor = asyncio.run(_cursor_at(deep - 1))
    period = _period()
    return {
        "pipeline_owner": graphql(queries.PIPELINE, rep, {"ownerId": str(REP), "period": period}),
        "pipeline_admin": graphql(queries.PIPELINE, admin, {"ownerId": str(REP), "period": period}),
        "forecast_owner": graphql(queries.FORECASTS, rep, {"period": period}),
        "forecast_admin": graphql(queries.FORECASTS, admin, {"period": period}),
        "leads_first_page": graphql(queries.LEAD_PAGE, admin, {"first": 50}),
        "leads_cursor_deep": graphql(queries.LEAD_PAGE, admin, {"first": 50, "after": cursor}),
        "leads_rest_offset_0": Call("GET", "/api/v1/leads?limit=50", admin),
        "leads_rest_offset_deep": Call("GET", f"/api/v1/leads?limit=50&offset={deep}", admin),
        "leads_rest_cursor_deep": Call("GET", f"/api/v1/leads?limit=50&after={cursor}", admin),
    }


def scale_point(run: Run, rows: int) -> None:
    """One connection, each query's runs alternating with the others' (2 rounds of 3 s)."""
    run.log(f"scenario 4 at {rows:,} rows")
    four = _scenario(run, "4")
    four.setdefault("period", _period())
    found = scale_calls(run, rows)
    for name, call in found.items():
        answer = call.send(run.servers["gateway"].url)
        if answer.status_code != 200 or "errors" in answer.json():
            run.log(f"  ! {name}: {answer.status_code} {answer.content[:300]!r}")
    loads: dict[str, list[Load]] = {name: [] for name in found}
    for _ in range(2):
        for name, call in found.items():
            loads[name].append(measure(run, "gateway", call, connections=1, duration_s=3))
    point: dict[str, Any] = {}
    for name, call in found.items():
        counts = counted(run, "gateway", call)
        point[name] = {
            **_row(median_load(loads[name])),
            "statements": counts.get("statements", 0),
            "redis": counts.get("redis_commands", 0) + counts.get("redis_pipelines", 0),
            "counts": counts,
        }
    four.setdefault("points", {})[str(rows)] = point
    org = Org(rows)
    four.setdefault("org", {})[str(rows)] = {"reps": org.reps, "territories": org.territories}


def scale_goals(run: Run) -> None:
    four = _scenario(run, "4")
    points = four.get("points", {})
    scales = sorted(points, key=int)
    if len(scales) < 2:
        return
    low, high = points[scales[0]], points[scales[-1]]
    growth = {name: _ratio(high[name]["p50_ms"], low[name]["p50_ms"]) for name in low}
    four["growth_p50"] = growth
    four["growth_cpu"] = {
        name: _ratio(
            high[name]["cpu_ms"] + high[name]["db_cpu_ms"],
            low[name]["cpu_ms"] + low[name]["db_cpu_ms"],
        )
        for name in low
    }
    four["goal"] = 2.0
    keyset = ("pipeline_owner", "leads_cursor_deep", "leads_rest_cursor_deep")
    four["met"] = all(growth[n] <= 2.0 for n in keyset)


# --------------------------------------------------------------------------- profiles


def profiles(run: Run) -> None:
    """py-spy on the gateway's workers where a goal is missed: where the time goes."""
    if not run.profiler.available:
        run.log("py-spy is not installed: no profiles")
        return
    scenarios = run.results.get("scenarios", {})
    wanted: list[tuple[str, str, str, int]] = []
    if not scenarios.get("1", {}).get("met", True):
        wanted += [("s1_vp_all", "gateway", "vp_all", run.options.connections)]
        wanted += [("s1_rep_mine", "gateway", "rep_mine", run.options.connections)]
    if not scenarios.get("2", {}).get("met", True):
        wanted += [("s2_page_50", "gateway", "page_50", run.options.connections)]
    if not scenarios.get("3", {}).get("met", True):
        wanted += [("s3_federated_cold", "cold_cache", "federated", 1)]
    found = run.results.setdefault("profiles", {})
    all_calls = calls(run)
    for name, server, request, connections in wanted:
        run.log(f"profile {name} (py-spy on {server})")
        duration = max(3.0, run.options.duration_s)
        spy, out = run.profiler.start(run.servers[server].process.pid, name, duration + 1)
        time.sleep(0.5)
        run.wrk.run(
            run.servers[server], all_calls[request], duration_s=duration, connections=connections
        )
        spy.wait(timeout=60)
        if out.exists():
            found[name] = summarise(out)


# --------------------------------------------------------------------------- machine


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def postgres_version() -> str:
    async def version() -> str:
        connection = await asyncpg.connect(DSN)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return asyncio.run(version())
