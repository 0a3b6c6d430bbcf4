"""The ``sales-graph`` command."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sales_graph.settings import Settings

if TYPE_CHECKING:
    import socket

    import uvicorn

app = typer.Typer(no_args_is_help=True, add_completion=False, help="sales-graph gateway")
T = TypeVar("T")


def _settings(demo: bool = False) -> Settings:
    """The settings of a command that creates what it needs (``migrate``, the demo)."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if demo and settings.database_url and not settings.database_url.startswith("sqlite"):
        typer.echo("note: --demo with SALES_GRAPH_DATABASE_URL set uses that database", err=True)
    return settings


def _existing() -> Settings:
    """The settings of a command that uses the database, once it is there and migrated; else
    one line on stderr and exit 1, having created nothing (no file, no directory, no key)."""
    from sales_graph.db.presence import DatabaseMissing, require_database, sqlite_file

    settings = Settings()
    url = settings.effective_database_url
    try:
        asyncio.run(require_database(url))
    except DatabaseMissing as exc:
        if sqlite_file(url) is None:
            hint = (
                "start it, or point SALES_GRAPH_DATABASE_URL at it, and run `sales-graph migrate`"
            )
        else:
            hint = (
                "run `make demo` or `sales-graph migrate` "
                "(set SALES_GRAPH_DATA_DIR to the directory that holds sales_graph.db"
                + (", e.g. SALES_GRAPH_DATA_DIR=.demo)" if _demo_nearby(settings) else ")")
            )
        typer.echo(f"error: {exc}: {hint}", err=True)
        raise typer.Exit(1) from None
    return settings


def _demo_nearby(settings: Settings) -> bool:
    """``make demo``'s database is in ./.demo and the command looked elsewhere."""
    demo = Path(".demo") / "sales_graph.db"
    return demo.is_file() and settings.data_dir.resolve() != demo.parent.resolve()


@app.command()
def migrate(
    recount_leads: Annotated[
        bool,
        typer.Option(
            "--recount-leads",
            help="also rebuild the lead counts (after loading leads with triggers off)",
        ),
    ] = False,
) -> None:
    """Bring the database schema up to date (Alembic)."""
    from sales_graph import ops

    settings = _settings()
    revision = asyncio.run(ops.migrate_database(settings))
    typer.echo(f"database at revision {revision}")
    if recount_leads:
        counted = asyncio.run(ops.recount_leads(settings))
        typer.echo("SQLite keeps no lead counts" if counted is None else f"counted {counted} leads")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="the demo organisation")] = False,
) -> None:
    """Fill an empty database with the demo organisation."""
    from sales_graph.ops import migrate_database, seed_demo_database

    if not demo:
        raise typer.BadParameter("only --demo is available")
    settings = _settings(demo=True)
    asyncio.run(migrate_database(settings))
    summary = asyncio.run(seed_demo_database(settings))
    if summary is None:
        typer.echo("database already has data; nothing seeded")
    else:
        typer.echo(
            f"seeded {summary.users} users, {summary.territories} territories, "
            f"{summary.accounts} accounts, {summary.leads} leads, "
            f"{summary.opportunities} opportunities"
        )


@app.command()
def token(
    email: Annotated[str | None, typer.Option(help="the user's email")] = None,
    role: Annotated[str | None, typer.Option(help="first active user with this role")] = None,
    ttl: Annotated[int | None, typer.Option(help="lifetime in seconds")] = None,
) -> None:
    """Print a signed JWT (only the token) for a user."""
    from sales_graph.ops import issue_user_token

    if (email is None) == (role is None):
        raise typer.BadParameter("give exactly one of --email or --role")
    typer.echo(asyncio.run(issue_user_token(_existing(), email=email, role=role, ttl_s=ttl)))


@app.command("export-schema")
def export_schema(
    directory: Annotated[Path, typer.Option(help="where the contract is written")] = Path("schema"),
) -> None:
    """Rewrite the exported contract in ``schema/``."""
    from sales_graph.ops import export_contract

    for path in export_contract(directory):
        typer.echo(f"wrote {path}")


@app.command()
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="migrate, seed and print tokens")] = False,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the gateway (uvicorn)."""
    # Before anything imports prometheus_client (telemetry/multiproc.py).
    with _metrics_directory(Settings().metrics.enabled and workers > 1):
        _serve(demo, host, port, workers)


def _serve(demo: bool, host: str, port: int, workers: int) -> None:
    import uvicorn

    from sales_graph.web.server import uvicorn_options

    where: dict[str, Any] = {"factory": True, "host": host, "port": port}
    if not demo:
        settings = _existing()
        os.environ.setdefault("SALES_GRAPH_DATA_DIR", str(settings.data_dir))
        options = where | uvicorn_options(settings)
        with _metrics_port(settings):
            uvicorn.run("sales_graph.app:create_app", workers=workers, **options)
        return
    if workers != 1:
        raise typer.BadParameter("the demo runs one worker", param_hint="--workers")
    banner = _prepare_demo(f"http://{host}:{port}")
    # The settings as the demo set them (the simulators' URLs, the data directory).
    settings = Settings()
    options = where | uvicorn_options(settings)
    server = _demo_server(uvicorn.Config("sales_graph.app:create_app", **options), banner)
    with _metrics_port(settings):
        server.run()
    if not server.started:
        raise typer.Exit(1)


def _prepare_demo(base_url: str) -> list[str]:
    """Starts the simulators, points the settings at them, migrates and seeds: the banner."""
    from sales_graph.logs import configure_logging
    from sales_graph.ops import prepare_demo
    from sales_graph.simulators.background import serve_in_thread

    # The simulators serve the app's connectors (docs/upstreams.md); what is set wins.
    simulators = serve_in_thread()
    for name, value in simulators.running.env().items():
        os.environ.setdefault(name, value)
    settings = _settings(demo=True)
    os.environ.setdefault("SALES_GRAPH_DATA_DIR", str(settings.data_dir))
    # Seeding's own lines (Billing's contracts for the won deals) only at DEBUG.
    quiet = "DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING"
    configure_logging(quiet, json=settings.log_json)
    # How this command was run (.venv/bin/sales-graph by make demo), for the banner's hint.
    command = sys.argv[0] if Path(sys.argv[0]).name == "sales-graph" else "sales-graph"
    return asyncio.run(prepare_demo(settings, base_url, simulators.running.urls, command))


def _demo_server(config: uvicorn.Config, banner: list[str]) -> uvicorn.Server:
    import uvicorn

    class DemoServer(uvicorn.Server):
        """Prints the demo's banner once it listens: after the startup lines, so that the
        tokens stay in sight."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                typer.echo("\n".join(banner))

    return DemoServer(config)


@contextmanager
def _metrics_port(settings: Settings) -> Iterator[None]:
    """/metrics on a port of its own when one is set (docs/operations.md), served from this
    process, which sums the workers' values."""
    if not (settings.metrics.enabled and settings.metrics.port is not None):
        yield
        return
    from sales_graph.web.metrics import metrics_port

    with metrics_port(settings.metrics, settings.metrics.port):
        yield


@contextmanager
def _metrics_directory(shared: bool) -> Iterator[None]:
    """With several workers, a fresh multiprocess directory they inherit (a temporary one,
    removed at the end, unless PROMETHEUS_MULTIPROC_DIR names one); docs/operations.md."""
    from sales_graph.telemetry import multiproc

    made = multiproc.prepare() if shared else None
    try:
        yield
    finally:
        if made is not None and made[1]:
            shutil.rmtree(made[0], ignore_errors=True)


@app.command()
def worker(
    relays: Annotated[int, typer.Option(help="outbox relays in this process")] = 1,
    consumers: Annotated[
        bool, typer.Option(help="run the consumers and the forecast scheduler")
    ] = True,
) -> None:
    """Run the outbox relay, the event consumers and the forecast scheduler until stopped."""
    from sales_graph.ops import run_worker

    asyncio.run(run_worker(_existing(), relays=relays, consumers=consumers))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    base_port: Annotated[int, typer.Option(help="marketing's port; the others follow")] = 9100,
    seed: Annotated[int, typer.Option(help="seed of the generated data")] = 0,
) -> None:
    """Run the simulated external systems until Ctrl-C; prints the settings that use them."""
    from sales_graph.simulators import RunningSimulators, run_forever

    def started(running: RunningSimulators) -> None:
        typer.echo("# the simulators are up; point sales-graph at them with:")
        for name, value in running.env().items():
            typer.echo(f"export {name}={value}")

    run_forever(host, base_port, seed=seed, on_started=started)


client_app = typer.Typer(no_args_is_help=True, help="OAuth clients (client credentials)")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys of partner systems")
keys_app = typer.Typer(no_args_is_help=True, help="the keys that sign our JWTs")
app.add_typer(client_app, name="client")
app.add_typer(apikey_app, name="apikey")
app.add_typer(keys_app, name="keys")


def _admin(task: Coroutine[Any, Any, T]) -> T:
    from sales_graph.auth.admin import AdminError

    try:
        return asyncio.run(task)
    except AdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@client_app.command("create")
def client_create(
    name: Annotated[str, typer.Option(help="who the client is")],
    scopes: Annotated[str, typer.Option(help='space-separated, e.g. "leads:read"')] = "",
    user_email: Annotated[str | None, typer.Option(help="tokens act as this user")] = None,
) -> None:
    """Register an OAuth client; prints client_id and the secret (shown only now)."""
    from sales_graph.auth.admin import create_client

    created = _admin(create_client(_existing(), name=name, user_email=user_email, scopes=scopes))
    _echo_once(
        "secret",
        {
            "client_id": created.client_id,
            "client_secret": created.client_secret,
            "scopes": created.scopes or "-",
            "acts as user": created.user_email or "- (partner client)",
        },
    )


@client_app.command("revoke")
def client_revoke(client_id: Annotated[str, typer.Argument(help="sgc_ and 16 hex digits")]) -> None:
    """Revoke an OAuth client: no new tokens, its API keys refused at once."""
    from sales_graph.auth.admin import revoke_client

    _admin(revoke_client(_existing(), client_id))
    typer.echo(f"revoked {client_id.strip()}; its tokens and API keys are refused from now on")


def _echo_once(secret: str, fields: dict[str, str]) -> None:
    """A created credential's fields, aligned, and that its secret is not shown again."""
    width = max(map(len, fields)) + 2
    for label, value in fields.items():
        typer.echo(f"{label + ':':<{width}}{value}")
    typer.echo(f"The {secret} is shown only now; store it in a secret manager.")


def _when(value: datetime | None, empty: str = "-") -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else empty


def _state(revoked_at: datetime | None) -> str:
    return f"revoked {_when(revoked_at)}" if revoked_at else "active"


@client_app.command("list")
def client_list() -> None:
    """The OAuth clients, one per line (no secrets)."""
    from sales_graph.auth.admin import list_clients

    for c in _admin(list_clients(_existing())):
        state = _state(c.revoked_at)
        kind = "user" if c.acts_as_user else "partner"
        typer.echo(
            f"{c.client_id}  {state:<28}  {kind:<7}  created {_when(c.created_at)}  "
            f"{c.name}  [{c.scopes or '-'}]"
        )


@apikey_app.command("list")
def apikey_list() -> None:
    """The API keys by prefix, one per line (no secrets)."""
    from sales_graph.auth.admin import list_api_keys

    for k in _admin(list_api_keys(_existing())):
        state = _state(k.revoked_at)
        typer.echo(
            f"{k.prefix}  {state:<28}  client {k.client_id}  expires {_when(k.expires_at, 'never')}"
            f"  last used {_when(k.last_used_at, 'never')}  {k.name}  [{k.scopes}]"
        )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="what the key is for")],
    scopes: Annotated[str, typer.Option(help='e.g. "leads:write leads:read"')],
    expires_in_days: Annotated[int | None, typer.Option(help="lifetime in days")] = None,
    client: Annotated[str | None, typer.Option(help="client_id the key belongs to")] = None,
) -> None:
    """Create an API key (X-API-Key); prints it once."""
    from sales_graph.auth.admin import create_api_key

    created = _admin(
        create_api_key(
            _existing(),
            name=name,
            scopes=scopes,
            expires_in_days=expires_in_days,
            client_id=client,
        )
    )
    _echo_once(
        "key",
        {
            "api_key": created.api_key,
            "prefix": created.prefix,
            "client_id": created.client_id,
            "scopes": created.scopes,
            "expires_at": created.expires_at.isoformat() if created.expires_at else "never",
        },
    )


@apikey_app.command("revoke")
def apikey_revoke(prefix: Annotated[str, typer.Argument(help="sgk_ and 12 hex digits")]) -> None:
    """Revoke an API key at once."""
    from sales_graph.auth.admin import revoke

    _admin(revoke(_existing(), prefix))
    typer.echo(f"revoked {prefix.strip()[:16]}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; the previous one keeps verifying until the next rotation."""
    from sales_graph.auth.admin import rotate_signing_keys

    kids = rotate_signing_keys(_existing())
    typer.echo(f"signing with {kids[-1]}; verifying {', '.join(kids)}")


model_app = typer.Typer(no_args_is_help=True, help="The deal-score model.")
app.add_typer(model_app, name="model")


@model_app.command("train")
def model_train(
    holdout: Annotated[float, typer.Option(help="share of closed deals held out")] = 0.25,
    force: Annotated[
        bool, typer.Option(help="store the new model even when it scores below the one in use")
    ] = False,
) -> None:
    """Fit the deal-score model on closed won/lost history; prints AUC on the held-out split.

    The new model is stored, and loaded by the gateway at its next start, only when its held-out
    AUC is not below the model in use (or with --force)."""
    from sales_graph.ops import train_deal_model

    report = asyncio.run(train_deal_model(_existing(), holdout=holdout, force=force))
    typer.echo(
        f"model {report.version}: trained on {report.trained_on} closed deals, "
        f"AUC {report.auc:.3f} on {report.held_out} held out (prior model: {report.prior_auc:.3f})"
    )
    if report.stored:
        typer.echo(f"stored {report.version}; the gateway loads it at its next start")
    else:
        typer.echo(
            f"not stored: the model in use, {report.current_version}, scores "
            f"{report.current_auc:.3f} on the same held-out deals (--force stores it anyway)"
        )


forecast_app = typer.Typer(no_args_is_help=True, help="Generated forecasts.")
app.add_typer(forecast_app, name="forecast")


@forecast_app.command("generate")
def forecast_generate(
    period: Annotated[
        str | None, typer.Option(help="e.g. Q1_2026; default: the current and next quarter")
    ] = None,
) -> None:
    """Generate every active territory's forecasts now: cached, and forecast.updated events
    recorded for the relay (the daily run, outside its schedule)."""
    from sales_graph.errors import ValidationError
    from sales_graph.ops import generate_forecasts

    try:
        summary = asyncio.run(generate_forecasts(_existing(), period=period))
    except ValidationError as exc:
        raise typer.BadParameter("a period is Q1_2026, M03_2026 or FY2026") from exc
    typer.echo(
        f"generated {summary.forecasts} forecasts: {summary.territories} territories, "
        f"periods {', '.join(summary.periods)}"
    )


def _validation_message(exc: Any) -> str:
    fields = (exc.details or {}).get("fields") or {}
    return "; ".join(f"{name}: {text}" for name, text in fields.items()) or str(exc.message)


finance_app = typer.Typer(no_args_is_help=True, help="The sync with Finance (docs/finance.md).")
app.add_typer(finance_app, name="finance")


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _sent_line(result: dict[str, Any]) -> list[str]:
    head = f"{result['kind']} {result['period']}: "
    if result["status"] == "failed":
        return [head + f"FAILED: {result['error']}"]
    if result["status"] == "skipped":
        return [head + f"SKIPPED: {result['error']}"]
    if result["kind"] == "commissions":
        if not result["batches_sent"]:
            return [head + "nothing new to send"]
        total = sum(b["total_commission"] for b in result["batches"])
        lines = [
            head + f"version {result['version']}: {result['batches_sent']} batch(es) sent, "
            f"{result['new_deals']} new, {result['corrected_deals']} corrected, "
            f"{result['withdrawn_deals']} withdrawn deal(s); commission {_money(total)}; "
            f"{result['superseded_lines']} line(s) superseded"
        ]
        lines += [
            f"  batch {b['batch_id']} (Idempotency-Key sales-graph-commissions-{b['batch_id']}): "
            f"{b['deals']} deal(s), calculation {b['calculation_id']}, "
            f"total {_money(b['total_commission'])}"
            for b in result["batches"]
        ]
        return lines
    state = "sent" if result["changed"] else "unchanged, nothing sent"
    return [
        head + f"report {result['report_id']} version {result['version']} {state} "
        f"({result['lines']} line(s))"
    ]


@finance_app.command("sync")
def finance_sync(
    period: Annotated[str, typer.Option(help="a closed month (M11_2026) or quarter (Q3_2026)")],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            help="revenue_forecast, commissions (months); pipeline_report, "
            "territory_performance (quarters); default: all of the period's"
        ),
    ] = None,
) -> None:
    """Run the sync of a period now (a backfill or a re-run): what changed is sent, what did
    not is left alone; each kind is recorded as a manual run."""
    from sales_graph.errors import ValidationError
    from sales_graph.ops import sync_finance

    try:
        results = asyncio.run(sync_finance(_existing(), period=period, kinds=kind or []))
    except ValidationError as exc:
        raise typer.BadParameter(_validation_message(exc)) from exc
    for result in results:
        for line in _sent_line(result):
            typer.echo(line)
    if any(r["status"] != "succeeded" for r in results):
        raise typer.Exit(1)


@finance_app.command("reconcile")
def finance_reconcile(
    period: Annotated[str, typer.Option(help="a month (M11_2026) or quarter (Q3_2026)")],
) -> None:
    """Compare our forecast of each territory with Finance's (GET /forecasts/:period)."""
    from sales_graph.errors import UpstreamError, ValidationError
    from sales_graph.ops import reconcile_finance

    try:
        rows = asyncio.run(reconcile_finance(_existing(), period=period))
    except ValidationError as exc:
        raise typer.BadParameter(_validation_message(exc)) from exc
    except UpstreamError as exc:
        typer.echo(f"error: Finance: {exc.message}", err=True)
        raise typer.Exit(1) from None
    differing = [r for r in rows if r["difference"]]
    for row in rows:
        typer.echo(
            f"{row['territory']:<24} {row['forecast_type']:<10} ours {_money(row['ours']):>16} "
            f"finance {_money(row['finance']):>16} difference {_money(row['difference']):>16}"
        )
    typer.echo(f"{len(differing)} of {len(rows)} figures differ")


@finance_app.command("runs")
def finance_runs(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many, newest first")] = 20,
) -> None:
    """The latest sync runs: kind, period, trigger, status, when, and the error of a failed one."""
    from sales_graph.ops import finance_runs as latest

    for run in asyncio.run(latest(_existing(), limit=limit)):
        finished = run["finished_at"].isoformat() if run["finished_at"] else "-"
        line = (
            f"{run['started_at'].isoformat()}  {finished}  {run['kind']:<22} {run['period']:<9} "
            f"{run['trigger']:<8} {run['status']}"
        )
        typer.echo(line + (f"  {run['error']}" if run["error"] else ""))


@app.callback()
def _before_any_command(ctx: typer.Context) -> None:
    from sales_graph.telemetry import multiproc

    try:
        multiproc.settle(serving=ctx.invoked_subcommand in ("serve", "worker"))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as error:
        # A setting refused at startup: one line naming the variables, not a traceback.
        refused = "; ".join(
            "SALES_GRAPH_"
            + "__".join(str(part).upper() for part in found["loc"])
            + f": {found['msg']}"
            for found in error.errors()
        )
        typer.echo(f"error: invalid setting: {refused}", err=True)
        raise SystemExit(2) from None
