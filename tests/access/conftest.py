"""A richer organisation than tests/factories.py, seeded straight into a new PostgreSQL
database, a gateway serving it with the upstream simulators, and every kind of caller.

One world per test module (module-scoped fixture): the walk only reads, and each module that
writes gets its own database. Callers:

* users with a plain token (every scope): admin, head, mA, mB, mC, rA1, rB1, rX;
* partner API keys with each single scope (partner_forecasts:read reads the reports sent to
  Finance, not the commission lines), and one with all of them;
* ``client_rX``: an OAuth client bound to rX with scopes leads:read opportunities:read
  commissions:read (rX's own lines, not a partner's all), its token from ``POST /oauth/token``;
* ``rB1+key``: rB1's token sent with a partner key holding leads:read accounts:read.

Webhook endpoints (disabled, each with one delivery) belong to the clients of partner_all,
partner_webhooks:manage, partner_leads:read and a client no caller holds: each partner with
webhooks:manage sees its own client's only, a user none (docs/real-time.md).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from graphql import GraphQLSchema
from sales_graph.app import create_app
from sales_graph.auth.clients import issue_api_key, register_client
from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.models import User, WebhookDelivery, WebhookEndpoint
from sales_graph.runtime import Runtime
from sales_graph.simulators import RunningSimulators, serve_simulators
from tests.access.org import (
    ALL_SCOPES,
    READ_SCOPES,
    WRITE_SCOPES,
    Caller,
    Oracle,
    Org,
    build_org,
)
from tests.access.walker import INTROSPECTION, schema_from
from tests.federation.conftest import KEYS, upstream_settings
from tests.gateways import app_client, gateway_settings
from tests.services import ServiceUrls, require_reachable

USER_CALLERS = ("admin", "head", "mA", "mB", "mC", "rA1", "rB1", "rX")
CLIENT_SCOPES = frozenset({"leads:read", "opportunities:read", "commissions:read"})
KEY_WITH_USER_SCOPES = frozenset({"leads:read", "accounts:read"})


def callers() -> list[Caller]:
    found = [Caller(name, "user", name, None) for name in USER_CALLERS]
    found.append(Caller("partner_all", "partner", None, ALL_SCOPES))
    found += [
        Caller(f"partner_{scope}", "partner", None, frozenset({scope}))
        for scope in READ_SCOPES + WRITE_SCOPES
    ]
    found.append(Caller("client_rX", "client", "rX", CLIENT_SCOPES))
    found.append(Caller("rB1+key", "user+key", "rB1", KEY_WITH_USER_SCOPES))
    return found


CALLERS = {c.name: c for c in callers()}


@dataclass
class World:
    client: httpx.AsyncClient
    app: Starlette
    org: Org
    oracle: Oracle
    sims: RunningSimulators
    database_url: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    introspected: GraphQLSchema | None = None
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def schema(self) -> GraphQLSchema:
        """The gateway's schema, read by introspection when the world opened."""
        assert self.introspected is not None
        return self.introspected

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def token(self, user_key: str, **kwargs: Any) -> str:
        u = self.org.users[user_key]
        return self.runtime.tokens.issue(u.id, roles=[u.role], **kwargs)

    def user_headers(self, user_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_key)}"}

    async def gql(
        self, caller: str | dict[str, str], query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = self.headers[caller] if isinstance(caller, str) else caller
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def rest(
        self, caller: str | dict[str, str], method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(self.headers[caller] if isinstance(caller, str) else caller)
        headers.update(kwargs.pop("headers", {}))
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        async with self.runtime.db.engine.connect() as conn:
            return list((await conn.execute(text(statement), params)).all())

    async def oauth_token(
        self, client_id: str, secret: str, scope: str | None = None
    ) -> httpx.Response:
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        return await self.client.post(
            "/oauth/token", data=data, headers={"Authorization": f"Basic {pair}"}
        )


@asynccontextmanager
async def fresh_postgres_database(postgres_url: str) -> AsyncIterator[str]:
    url = make_url(postgres_url)
    name = f"sg_access_{uuid.uuid4().hex[:12]}"
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


async def seed(database_url: str, org: Org) -> None:
    db = Database(database_url)
    try:
        await upgrade(db.engine)
        async with db.session() as session:
            for batch in org.rows():
                session.add_all(batch)
                await session.flush()
    finally:
        await db.dispose()


async def create_contracts(sims: RunningSimulators, org: Org) -> None:
    """Billing contracts for the won deals that have one, so ``Opportunity.contract`` resolves."""
    url = sims.urls["billing"]
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEYS["billing"]}) as http:
        for o in org.opportunities.values():
            if not o.contract:
                continue
            response = await http.post(
                "/api/v1/contracts",
                json={
                    "opportunity_id": o.id,
                    "account_id": org.accounts[o.account].id,
                    "amount": str(o.amount),
                    "contract_term": 12,
                    "start_date": date.today().isoformat(),
                    "products": [{"product_id": "prod_core", "quantity": 1, "unit_price": "1000"}],
                },
            )
            assert response.status_code == 201, response.text
            o.contract_id = response.json()["contract_id"]


async def register_callers(world: World) -> dict[str, tuple[str, str]]:
    """API keys and OAuth clients of the callers; their headers in ``world.headers``; the
    OAuth clients' (client_id, secret) returned."""
    async with world.runtime.db.session() as session:
        keys = {}
        partner_clients: dict[str | None, uuid.UUID] = {}
        for caller in CALLERS.values():
            if caller.kind == "partner":
                assert caller.scopes is not None
                issued = await issue_api_key(
                    session, name=caller.name, scopes=caller.scopes, expires_at=None, client=None
                )
                keys[caller.name] = issued.plaintext
                partner_clients[caller.name] = issued.client.id
        outsider = await issue_api_key(
            session, name="outsider", scopes=frozenset(ALL_SCOPES), expires_at=None, client=None
        )
        partner_clients[None] = outsider.client.id
        await seed_webhooks(session, world.org, partner_clients)
        key_for_user = await issue_api_key(
            session, name="key-for-rB1", scopes=KEY_WITH_USER_SCOPES, expires_at=None, client=None
        )
        rx = await session.get(User, uuid.UUID(world.org.users["rX"].id))
        assert rx is not None
        registered = await register_client(session, name="rX board", scopes=CLIENT_SCOPES, user=rx)
        client_id, secret = registered.client.client_id, registered.secret
    for caller in CALLERS.values():
        if caller.kind == "user":
            assert caller.user is not None
            world.headers[caller.name] = world.user_headers(caller.user)
        elif caller.kind == "partner":
            world.headers[caller.name] = {"X-API-Key": keys[caller.name]}
    response = await world.oauth_token(client_id, secret)
    assert response.status_code == 200, response.text
    world.headers["client_rX"] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    world.headers["rB1+key"] = {
        **world.user_headers("rB1"),
        "X-API-Key": key_for_user.plaintext,
    }
    return {"client_rX": (client_id, secret)}


async def seed_webhooks(
    session: AsyncSession, org: Org, clients: dict[str | None, uuid.UUID]
) -> None:
    """Each partner's webhook endpoint with one delivery. Disabled, so that the writes of the
    tests fan nothing out to them (and the dispatcher sends nothing)."""
    for hook in org.webhooks.values():
        session.add(
            WebhookEndpoint(
                id=uuid.UUID(hook.id),
                client_id=clients[hook.owner],
                url="https://partner.example.com/hooks",
                event_types=["lead.created"],
                secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                enabled=False,
                disabled_reason="seeded",
            )
        )
    await session.flush()
    for hook in org.webhooks.values():
        session.add(
            WebhookDelivery(
                id=int(hook.delivery_id),
                endpoint_id=uuid.UUID(hook.id),
                event_id=uuid.uuid4(),
                event_type="lead.created",
                ordering_key=f"lead:{hook.key}",
                envelope={"event_type": "lead.created", "payload": {}},
                status="delivered",
                attempts=1,
                last_status_code=204,
            )
        )
    await session.flush()


@asynccontextmanager
async def open_world(services: ServiceUrls, tmp_path: Path) -> AsyncIterator[World]:
    require_reachable("PostgreSQL", services.postgres)
    org = build_org()
    sims = await serve_simulators(api_keys=KEYS)
    try:
        await create_contracts(sims, org)
        async with fresh_postgres_database(services.postgres) as url:
            await seed(url, org)
            app = create_app(gateway_settings(tmp_path, url, **upstream_settings(sims)))
            async with app_client(app) as client:
                world = World(client, app, org, Oracle(org), sims, url)
                world.clients = await register_callers(world)
                response = await world.gql("admin", INTROSPECTION)
                assert response.status_code == 200, response.text
                world.introspected = schema_from(response.json()["data"])
                yield world
    finally:
        await sims.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    services: ServiceUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    async with open_world(services, tmp_path_factory.mktemp("access")) as opened:
        yield opened


# ------------------------------------------------------------------ table snapshots


async def snapshot(world: World) -> dict[str, str]:
    """A digest of every table's rows: equal digests, nothing written."""
    tables = [
        row[0]
        for row in await world.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'api_keys', 'idempotency_keys') "
            "ORDER BY tablename"
        )
    ]
    # Table names come from pg_tables, not from a caller.
    parts = " UNION ALL ".join(
        f"SELECT '{t}', count(*)::text || ':' || coalesce(md5(string_agg(x::text, ',' "  # noqa: S608
        f"ORDER BY x::text)), '') FROM \"{t}\" x"
        for t in tables
    )
    return {name: digest for name, digest in await world.sql(parts)}


async def outbox_count(world: World) -> int:
    (row,) = await world.sql("SELECT count(*) FROM outbox")
    return int(row[0])
