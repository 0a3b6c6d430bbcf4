"""Operator tasks behind the CLI: migrate, seed, tokens, the demo, the exported contract."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sales_graph.db.engine import Database
from sales_graph.db.migrate import current_revision, upgrade
from sales_graph.db.repositories import leads, users
from sales_graph.domain import Role
from sales_graph.domain.scope import AccessScope
from sales_graph.logs import get_logger
from sales_graph.runtime import build_runtime
from sales_graph.seed import DemoSummary, seed_demo
from sales_graph.services.deal_models import TrainingReport, train
from sales_graph.services.forecast_generation import GenerationSummary
from sales_graph.settings import Settings

_log = get_logger("sales_graph.ops")


async def migrate_database(settings: Settings) -> str | None:
    db = Database(settings.effective_database_url)
    try:
        await upgrade(db.engine)
        return await current_revision(db.engine)
    finally:
        await db.dispose()


async def recount_leads(settings: Settings) -> int | None:
    """Rebuilds the kept lead counts (PostgreSQL; None on SQLite, which keeps none)."""
    db = Database(settings.effective_database_url)
    try:
        if db.dialect != "postgresql":
            return None
        async with db.session() as session:
            return await leads.recount(session)
    finally:
        await db.dispose()


async def seed_demo_database(settings: Settings) -> DemoSummary | None:
    db = Database(settings.effective_database_url)
    try:
        async with db.session() as session:
            if await users.count(session):
                return None
            return await seed_demo(session)
    finally:
        await db.dispose()


async def issue_user_token(
    settings: Settings, *, email: str | None, role: str | None, ttl_s: int | None = None
) -> str:
    runtime = build_runtime(settings)
    try:
        async with runtime.db.session() as session:
            system = AccessScope.as_system("command line")
            if email is not None:
                user = await users.get_by_email(session, system, email)
            else:
                user = await users.first_with_role(session, system, Role(str(role)).value)
        if user is None or not user.is_active:
            which = "email " + email if email else "role " + str(role)
            raise SystemExit(f"no active user with {which}")
        return runtime.tokens.issue(str(user.id), roles=[user.role], ttl_s=ttl_s)
    finally:
        await runtime.close()


async def prepare_demo(
    settings: Settings,
    base_url: str,
    upstreams: dict[str, str] | None = None,
    command: str = "sales-graph",
) -> list[str]:
    """Migrate, seed when empty, have Billing create the seeded won deals' contracts (when it is
    configured: the demo's simulator), and the lines the demo prints once it listens: what was
    seeded, every URL (the gateway's and the simulated ``upstreams``'), a partner API key and,
    last, ready bearer tokens (``command`` is how the banner says to make more)."""
    await migrate_database(settings)
    summary = await seed_demo_database(settings)
    await _request_missing_contracts(settings)
    lines = [
        "sales-graph demo",
        f"  database:    {settings.effective_database_url}",
        (
            f"  seeded:      {summary.users} users, {summary.territories} territories, "
            f"{summary.accounts} accounts, {summary.leads} leads, "
            f"{summary.opportunities} opportunities"
            if summary
            else "  seeded:      (existing data kept)"
        ),
        *(f"  simulator:   {system:<20} {url}" for system, url in (upstreams or {}).items()),
        "",
        f"  GraphQL:     {base_url}/graphql  (GraphiQL in a browser)",
        f"  REST:        {base_url}/api/v1/  (e.g. {base_url}/api/v1/leads)",
        f"  REST docs:   {base_url}/docs  {base_url}/openapi.json",
        f"  metrics:     {base_url}/metrics",
        f"  health:      {base_url}/healthz  {base_url}/readyz",
    ]
    from sales_graph.auth.admin import create_api_key
    from sales_graph.domain.permissions import SCOPES

    key = await create_api_key(settings, name="demo partner", scopes=" ".join(sorted(SCOPES)))
    lines += ["", "Partner API key (paste as 'X-API-Key: <key>'; every scope):", f"  {key.api_key}"]
    lines += [
        "",
        f"Bearer tokens for {settings.auth.access_token_ttl_s // 60} minutes (paste as "
        "'Authorization: Bearer <token>'; more with",
        f"SALES_GRAPH_DATA_DIR={settings.data_dir} {command} token --role ROLE):",
    ]
    for role in (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN):
        token = await issue_user_token(settings, email=None, role=role.value)
        lines.append(f"  {role.value:<14} {token}")
    return lines


async def _request_missing_contracts(settings: Settings) -> int:
    """What the gateway's contract sweep would do over its first minutes, now: a contract from
    Billing for every won deal without one (the seeded ones). The number stored."""
    from sales_graph.worker.billing import ContractSweep

    runtime = build_runtime(settings)
    try:
        connectors = runtime.connectors
        if connectors is None or not connectors.billing.upstream.configured:
            return 0
        # No grace: seeding records no closed_won events, so no consumer will take the deals
        # won "now" (Billing dedupes by the opportunity id anyway).
        sweep = ContractSweep(runtime, grace_s=0)
        stored = 0
        while found := await sweep.run_once():
            stored += found
        return stored
    finally:
        await runtime.close()


def export_contract(directory: Path) -> list[Path]:
    from strawberry.printer import print_schema

    from sales_graph.events.export import write_event_contract
    from sales_graph.resolvers import schema
    from sales_graph.rest.openapi import openapi_json

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "schema.graphql"
    path.write_text(print_schema(schema) + "\n")
    openapi = directory / "openapi.json"
    openapi.write_bytes(openapi_json())
    return [path, openapi, *write_event_contract(directory)]


async def train_deal_model(
    settings: Settings, *, holdout: float, force: bool = False
) -> TrainingReport:
    db = Database(settings.effective_database_url)
    try:
        async with db.session() as session:
            return await train(session, holdout=holdout, force=force)
    finally:
        await db.dispose()


async def run_worker(settings: Settings, *, relays: int, consumers: bool) -> None:
    """Until SIGINT/SIGTERM: Kafka when configured, else the embedded outbox -> events.jsonl."""
    import asyncio
    import signal

    from sales_graph.logs import configure_logging
    from sales_graph.telemetry import metrics, tracing
    from sales_graph.worker.launch import start_in_process, start_kafka_when_it_answers

    configure_logging(settings.log_level, json=settings.log_json)
    owns_tracing = tracing.configure("sales-graph-worker")
    metrics.record(settings.metrics.enabled)
    runtime = build_runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with worker_metrics(settings):
            if settings.kafka_bootstrap_servers:
                started = await start_kafka_when_it_answers(
                    runtime, stop, relays=relays, consumers=consumers
                )
                if started is None:
                    return  # stopped while Kafka was away
                events = started
            else:
                events = start_in_process(runtime)
            events.start()
            await stop.wait()
            await events.stop()
    finally:
        await runtime.close()
        if owns_tracing:
            tracing.shutdown()  # flushes the spans still buffered


@contextmanager
def worker_metrics(settings: Settings) -> Iterator[None]:
    """The worker's /metrics on ``SALES_GRAPH_METRICS__WORKER_PORT`` (docs/operations.md)."""
    from sales_graph.telemetry import multiproc
    from sales_graph.web.metrics import metrics_port

    port = settings.metrics.worker_port
    try:
        with ExitStack() as stack:
            if settings.metrics.enabled and port is not None:
                try:
                    stack.enter_context(metrics_port(settings.metrics, port))
                except RuntimeError:
                    # A second worker on the host: it works on, without a /metrics of its own.
                    _log.warning(
                        "worker.metrics_port_unavailable",
                        address=f"{settings.metrics.host}:{port}",
                        hint="set SALES_GRAPH_METRICS__WORKER_PORT to a free port, or empty",
                    )
            yield
    finally:
        multiproc.process_exiting()


async def generate_forecasts(settings: Settings, *, period: str | None = None) -> GenerationSummary:
    """``sales-graph forecast generate``: the daily generation now, for the current and next
    quarter (in the forecast time zone) or for ``period``; its events wait in the outbox."""
    from zoneinfo import ZoneInfo

    from sales_graph.domain.periods import parse_period
    from sales_graph.services.forecast_generation import quarters_from
    from sales_graph.timeutil import utcnow
    from sales_graph.worker.forecasts import generate_now

    fiscal = settings.fiscal_year_start_month
    if period is not None:
        periods = [parse_period(period, fiscal, field="--period")]
    else:
        today = utcnow().astimezone(ZoneInfo(settings.events.forecast_timezone)).date()
        periods = quarters_from(today, fiscal)
    runtime = build_runtime(settings)
    try:
        return await generate_now(runtime, periods)
    finally:
        await runtime.close()


async def sync_finance(
    settings: Settings, *, period: str, kinds: Sequence[str]
) -> list[dict[str, Any]]:
    """``sales-graph finance sync``: the kinds of one closed period now (a backfill or a
    re-run), recorded as manual runs; what each sent. Log lines go to stderr."""
    from zoneinfo import ZoneInfo

    from sales_graph.domain.periods import parse_period
    from sales_graph.logs import configure_logging
    from sales_graph.services.finance_sync import work_for
    from sales_graph.timeutil import utcnow
    from sales_graph.worker.finance import finance_sync

    span = parse_period(period, settings.fiscal_year_start_month, field="--period")
    today = utcnow().astimezone(ZoneInfo(settings.finance_sync.timezone)).date()
    work = work_for(span, kinds, today)
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        return await finance_sync(runtime).run_all(work, trigger="manual")
    finally:
        await runtime.close()


async def reconcile_finance(settings: Settings, *, period: str) -> list[dict[str, Any]]:
    """``sales-graph finance reconcile``: our forecasts against Finance's, per territory."""
    from sales_graph.domain.periods import parse_period
    from sales_graph.errors import UpstreamUnavailable
    from sales_graph.logs import configure_logging
    from sales_graph.services.finance_sync import reconcile

    span = parse_period(period, settings.fiscal_year_start_month, field="--period")
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        if runtime.connectors is None:
            raise UpstreamUnavailable("Finance is not configured (SALES_GRAPH_FINANCE__BASE_URL)")
        return await reconcile(runtime.db, runtime.connectors.finance, span)
    finally:
        await runtime.close()


async def finance_runs(settings: Settings, *, limit: int) -> list[dict[str, Any]]:
    """``sales-graph finance runs``: the latest runs, newest first."""
    from sales_graph.db.repositories import finance

    db = Database(settings.effective_database_url)
    try:
        async with db.session() as session:
            rows = await finance.runs(session, limit=limit)
    finally:
        await db.dispose()
    return [row.model_dump() for row in rows]
