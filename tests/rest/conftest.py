from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sales_graph.db.models import Account, User

# The gateway over SQLite and PostgreSQL, as the GraphQL tests use it.
from tests.graphql.conftest import Gateway, gateway  # noqa: F401

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Rest:
    gateway: Gateway

    def headers(self, user: User | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.gateway.token(user)}"} if user else {}

    async def call(
        self, user: User | None, method: str, path: str, json: Any = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.gateway.client.request(
            method, path, json=json, headers=self.headers(user), **kwargs
        )

    async def ok(
        self, user: User | None, method: str, path: str, json: Any = None, status: int = 200
    ) -> dict[str, Any]:
        response = await self.call(user, method, path, json)
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    async def error(
        self, user: User | None, method: str, path: str, json: Any = None, *, status: int
    ) -> dict[str, Any]:
        response = await self.call(user, method, path, json)
        assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()["error"]
        assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
        assert ISO_Z.match(error["timestamp"])
        assert error["request_id"] == response.headers["X-Request-ID"]
        return error


@pytest.fixture
def rest(gateway: Gateway) -> Rest:  # noqa: F811
    return Rest(gateway)


@pytest.fixture
async def account(gateway: Gateway) -> Account:  # noqa: F811
    org = gateway.org
    row = Account(
        name="Acme Corp",
        name_normalized="acme corp",
        country="US",
        owner_id=org.r1.id,
        territory_id=org.t1.id,
    )
    async with gateway.runtime.db.session() as session:
        session.add(row)
    return row
