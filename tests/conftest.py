from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
import structlog
from sqlalchemy.engine import make_url

from sales_graph.settings import Settings
from tests.kafka_topics import CREATED, delete_created
from tests.services import ServiceUrls, read_service_urls, require_reachable

# The fixtures of the lead-to-contract flow (``billing_sim``, ``flow``), for tests/events and
# tests/limits; ``prometheus`` and ``jaeger``, the real backends, started on first use.
pytest_plugins = ["tests.events.flow_conftest", "tests.observability.backends"]

SERVICES = read_service_urls()

# Apps built by tests do not run the embedded relay and bus in the background (they would add
# statements to the counted ones); the event tests start the machinery themselves.
os.environ.setdefault("SALES_GRAPH_EVENTS__IN_PROCESS", "false")
# Nor, with Kafka, their own reader of the topics for GraphQL subscriptions (tests/subscriptions
# turns it on).
os.environ.setdefault("SALES_GRAPH_SUBSCRIPTIONS__KAFKA_FEED", "false")
# Every document the suite sends runs planned, each inline value checked against graphql-core's
# generic execution of the field (schema/execution.py, docs/testing.md): a difference fails it.
os.environ.setdefault("SALES_GRAPH_GRAPHQL__EXECUTION", "verified")


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts from structlog's defaults: an app's log level does not leak into
    the next test's captured logs."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def services() -> ServiceUrls:
    return SERVICES


@pytest.fixture
def postgres_url(services: ServiceUrls) -> str:
    require_reachable("PostgreSQL", services.postgres)
    return services.postgres


@pytest.fixture
def redis_url(services: ServiceUrls) -> str:
    require_reachable("Redis", services.redis)
    return services.redis


@pytest.fixture
def kafka_bootstrap(services: ServiceUrls) -> str:
    require_reachable("Kafka", services.kafka)
    return services.kafka


@asynccontextmanager
async def new_postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on ``postgres_url``'s server, dropped at the end."""
    url = make_url(postgres_url)
    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def fresh_postgres(postgres_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    async with new_postgres_database(postgres_url) as url:
        yield url


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sales_graph.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each storage test runs on SQLite and on the real PostgreSQL."""
    fixture = "fresh_sqlite" if request.param == "sqlite" else "fresh_postgres"
    return request.getfixturevalue(fixture)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, log_json=True, _env_file=None)  # type: ignore[call-arg]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Deletes the Kafka topics the run created (tests/kafka_topics.py)."""
    # The service URLs were taken out of the environment when this module was imported
    # (read_service_urls): the environment no longer names the broker.
    bootstrap = SERVICES.kafka
    if CREATED and bootstrap:
        try:
            asyncio.run(delete_created(bootstrap))
        except Exception as exc:  # the run's verdict stands; the next broker start cleans up
            print(f"\nkafka: could not delete the run's topics: {exc!r}")
