"""The ``sales-graph`` command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from sales_graph.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="sales-graph gateway")


def _settings(demo: bool = False) -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if demo and settings.database_url and not settings.database_url.startswith("sqlite"):
        typer.echo("note: --demo with SALES_GRAPH_DATABASE_URL set uses that database", err=True)
    return settings


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from sales_graph.ops import migrate_database

    settings = _settings()
    revision = asyncio.run(migrate_database(settings))
    typer.echo(f"database at revision {revision}")


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
    typer.echo(asyncio.run(issue_user_token(_settings(), email=email, role=role, ttl_s=ttl)))


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
    import uvicorn

    from sales_graph.ops import prepare_demo

    settings = _settings(demo=demo)
    if demo:
        for line in asyncio.run(prepare_demo(settings, f"http://{host}:{port}")):
            typer.echo(line)
    os.environ.setdefault("SALES_GRAPH_DATA_DIR", str(settings.data_dir))
    uvicorn.run(
        "sales_graph.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


def main() -> None:
    app()
