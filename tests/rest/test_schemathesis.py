"""Schemathesis against ``/openapi.json``: generated requests, every response checked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.transport import Response

from sales_graph.app import create_app
from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.runtime import Runtime
from sales_graph.settings import RateLimitSettings, Settings
from tests.factories import make_org

CASES: list[str] = []


async def _seed(url: str) -> str:
    db = Database(url)
    await upgrade(db.engine)
    async with db.session() as session:
        org = await make_org(session)
        admin_id = str(org.admin.id)
    await db.dispose()
    return admin_id


@pytest.fixture
def api(tmp_path: Path) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sales_graph.db'}"
    admin_id = asyncio.run(_seed(url))
    app = create_app(
        Settings(  # type: ignore[call-arg]
            data_dir=tmp_path,
            database_url=url,
            log_level="ERROR",
            rate_limit=RateLimitSettings(enabled=False),
            _env_file=None,
        )
    )
    # Loading the document starts the app's lifespan, which builds the runtime.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    runtime: Runtime = app.state.runtime
    token = runtime.tokens.issue(admin_id, roles=["admin"])

    @schema.auth()
    class _Admin:
        def get(self, case: schemathesis.Case, context: Any) -> str:
            return token

        def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case) -> None:
    response: Response = case.call_and_validate()
    CASES.append(f"{case.method} {case.path} {response.status_code}")
