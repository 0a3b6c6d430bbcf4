from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from sales_graph.app import create_app
from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.models import User
from sales_graph.runtime import Runtime
from sales_graph.settings import Settings
from tests.factories import Org, make_org
from tests.gateways import app_client


@dataclass
class Api:
    """One app instance, driven in process through httpx.ASGITransport."""

    app: Starlette
    client: httpx.AsyncClient
    org: Org | None = None
    # Users of the database: a token names a user who exists now (auth/authenticator.py).
    users: list[uuid.UUID] = field(default_factory=list)
    _handed_out: int = 0

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def bearer(self, subject: str | None = None, role: str = "admin") -> dict[str, str]:
        """A token of ``subject``, or of the next user of the database (another principal)."""
        if subject is None:
            subject = str(self.users[self._handed_out % len(self.users)])
            self._handed_out += 1
        token = self.runtime.tokens.issue(subject, roles=[role])
        return {"Authorization": f"Bearer {token}"}

    def admin(self) -> dict[str, str]:
        assert self.org is not None
        return self.bearer(str(self.org.admin.id), self.org.admin.role)

    async def post(
        self, query: str, headers: dict[str, str] | None = None, **variables: Any
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def errors(self, query: str, **variables: Any) -> list[dict[str, Any]]:
        """The errors of a refused operation: HTTP 200, no data, at least one error."""
        response = await self.post(query, self.admin(), **variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("data") is None, body
        assert body["errors"], body
        errors: list[dict[str, Any]] = body["errors"]
        return errors


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, log_level="WARNING", _env_file=None, **overrides)


async def _users_of(settings: Settings, count: int = 10) -> list[uuid.UUID]:
    """The database migrated, and its users (``count`` admins are added to an empty one)."""
    db = Database(settings.effective_database_url)
    try:
        await upgrade(db.engine)
        async with db.session() as session:
            ids = list((await session.exec(select(User.id))).all())
            if not ids:
                added = [
                    User(email=f"limits{n}@example.com", name=f"Limits {n}", role="admin")
                    for n in range(count)
                ]
                session.add_all(added)
                await session.flush()
                ids = [user.id for user in added]
        return ids
    finally:
        await db.dispose()


@asynccontextmanager
async def serve(settings: Settings, org: Org | None = None) -> AsyncIterator[Api]:
    users = await _users_of(settings)
    app = create_app(settings)
    async with app_client(app) as client:
        yield Api(app, client, org, users)


@pytest.fixture
async def org_database(tmp_path: Path) -> tuple[str, Org]:
    """A migrated SQLite database with the small test organisation."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sales_graph.db'}"
    db = Database(url)
    await upgrade(db.engine)
    async with db.session() as session:
        org = await make_org(session)
    await db.dispose()
    return url, org


@pytest.fixture
async def api(org_database: tuple[str, Org], tmp_path: Path) -> AsyncIterator[Api]:
    """The app in development (introspection on), over the organisation's database."""
    url, org = org_database
    async with serve(make_settings(tmp_path, database_url=url), org) as running:
        yield running


@pytest.fixture
async def production_api(org_database: tuple[str, Org], tmp_path: Path) -> AsyncIterator[Api]:
    url, org = org_database
    async with serve(make_settings(tmp_path, database_url=url, env="production"), org) as running:
        yield running
