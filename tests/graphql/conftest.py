from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from sales_graph.app import create_app
from sales_graph.db.models import User
from sales_graph.runtime import Runtime
from tests.factories import Org
from tests.gateways import app_client, gateway_settings, seeded_org


@dataclass
class Gateway:
    client: httpx.AsyncClient
    app: Starlette
    org: Org
    dialect: str

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def token(self, user: User) -> str:
        return self.runtime.tokens.issue(str(user.id), roles=[user.role])

    async def post(self, user: User | None, query: str, **variables: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def gql(self, user: User | None, query: str, **variables: Any) -> dict[str, Any]:
        """The response body; asserts the HTTP status is 200."""
        response = await self.post(user, query, **variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, user: User | None, query: str, **variables: Any) -> dict[str, Any]:
        """The data of a query that must succeed without errors."""
        body = await self.gql(user, query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(self, user: User | None, query: str, **variables: Any) -> dict[str, Any]:
        """The single error of a query that must fail."""
        body = await self.gql(user, query, **variables)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)


@pytest.fixture
async def gateway(fresh_database: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    org = await seeded_org(fresh_database)
    app = create_app(gateway_settings(tmp_path, fresh_database))
    async with app_client(app) as client:
        yield Gateway(client, app, org, fresh_database.split(":")[0].split("+")[0])


@pytest.fixture
def count_statements(gateway: Gateway) -> StatementCounter:
    counter = StatementCounter()
    event.listen(gateway.runtime.db.engine.sync_engine, "before_cursor_execute", counter)
    return counter
