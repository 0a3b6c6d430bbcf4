"""The gateway the fuzz suite attacks: uvicorn on a fresh database, one per session and database.

It is the setup of tests/rest/test_schemathesis.py (real HTTP, a migrated database with
``tests.factories.make_org``, rate limits off so that hundreds of requests a second are
answered, not throttled), kept for the whole session so that every target (REST as each role,
as partners, without credentials; GraphQL as admin and rep) meets the state the previous ones
left: leads, opportunities and forecasts that the fuzzers created.

Every test here carries the ``fuzz`` marker: ``pytest -m "not fuzz"`` leaves the suite out,
``pytest -m fuzz`` runs it alone. The profile (``FUZZ_PROFILE``) is in ``tests/fuzz/profile.py``;
the terminal summary prints the cases and server errors of every target.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from sales_graph.app import create_app
from sales_graph.auth.admin import create_api_key
from sales_graph.domain.permissions import SCOPES
from sales_graph.logs import configure_logging
from sales_graph.runtime import Runtime
from tests.fuzz.data import seed_records
from tests.fuzz.gateway import Credentials, LiveGateway
from tests.fuzz.harness import OUTCOMES, Outcome
from tests.fuzz.profile import PROFILE
from tests.gateways import gateway_settings, seeded_org, served
from tests.services import ServiceUrls, require_reachable

FUZZ_DIR = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: schemathesis against the live gateway (tests/fuzz, FUZZ_PROFILE)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FUZZ_DIR in item.path.parents:
            item.add_marker(pytest.mark.fuzz)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz ({PROFILE.name} profile, seed {PROFILE.seed})")
    for outcome in OUTCOMES:
        write(outcome.summary())
    groups: dict[str, list[Outcome]] = {}
    for outcome in OUTCOMES:
        groups.setdefault(outcome.group, []).append(outcome)
    for group, outcomes in groups.items():
        phases: Counter[str] = sum((outcome.cases for outcome in outcomes), Counter())
        by_phase = ", ".join(f"{phase} {count}" for phase, count in sorted(phases.items()))
        errors = sum(len(outcome.server_errors) for outcome in outcomes)
        elapsed = sum(outcome.elapsed_s for outcome in outcomes)
        write(
            f"{group}: {sum(phases.values())} cases ({by_phase}) in {elapsed:.1f} s, "
            f"server errors: {errors}"
        )
    total = sum(outcome.total for outcome in OUTCOMES)
    errors = sum(len(outcome.server_errors) for outcome in OUTCOMES)
    elapsed = sum(outcome.elapsed_s for outcome in OUTCOMES)
    write(f"total: {total} cases in {elapsed:.1f} s, server errors: {errors}")
    for outcome in OUTCOMES:
        for error in outcome.server_errors[:5]:
            write(error.format())


@pytest.fixture(autouse=True)
def _quiet_gateway(_fresh_logging: None) -> None:
    """The root conftest resets structlog before each test; the session's gateway logs at
    ERROR again (thousands of access-log lines would only slow the run down)."""
    configure_logging("ERROR", json=True)


async def _create_postgres_database(url: str, name: str, *, drop: bool = False) -> None:
    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=PROFILE.databases)
def fuzz_database(
    request: pytest.FixtureRequest, services: ServiceUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database for the session (dropped afterwards on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz-sqlite') / 'sales_graph.db'}"
        return
    require_reachable("PostgreSQL", services.postgres)
    name = f"sg_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_postgres_database(services.postgres, name))
    try:
        yield make_url(services.postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_create_postgres_database(services.postgres, name, drop=True))


@pytest.fixture(scope="session")
def live_gateway(
    fuzz_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    org = asyncio.run(seeded_org(fuzz_database))
    settings = gateway_settings(
        tmp_path_factory.mktemp("fuzz-data"), fuzz_database, log_level="ERROR", gc_freeze=False
    )
    all_scopes = asyncio.run(
        create_api_key(settings, name="fuzz: every scope", scopes=" ".join(SCOPES))
    )
    one_scope = asyncio.run(create_api_key(settings, name="fuzz: leads:read", scopes="leads:read"))
    app = create_app(settings)
    with served(app, "fuzz-gateway") as base_url:
        runtime: Runtime = app.state.runtime  # (made by the lifespan)

        def bearer(subject: str, role: str) -> str:
            # A day, not the default hour: a long run must not end with every request a 401.
            return f"Bearer {runtime.tokens.issue(subject, roles=[role], ttl_s=86_400)}"

        credentials = Credentials(
            admin=bearer(str(org.admin.id), "admin"),
            manager=bearer(str(org.m1.id), "sales_manager"),
            rep=bearer(str(org.r1.id), "sales_rep"),
            unknown_user=bearer(str(uuid.uuid4()), "admin"),
            partner_all_scopes=all_scopes.api_key,
            partner_one_scope=one_scope.api_key,
        )
        seeded = seed_records(base_url, credentials.admin, org)
        yield LiveGateway(
            base_url, fuzz_database.split(":")[0].split("+")[0], org, credentials, seeded
        )
