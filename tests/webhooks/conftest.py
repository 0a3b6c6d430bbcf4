"""Outbound webhook tests: a gateway on a fresh PostgreSQL database with Kafka topics of its
own, partner API keys, and a receiver the test runs (a Starlette app under uvicorn on a free
loopback port) whose answers a test scripts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from sqlalchemy import text
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sales_graph.app import create_app
from sales_graph.auth.clients import issue_api_key
from sales_graph.settings import EventSettings, WebhookSettings
from tests.events.conftest import EventGateway
from tests.gateways import app_client, embedded_settings, gateway_settings, seeded_org
from tests.kafka_topics import unique_topics

# Fast retries for tests: 0.2 s doubling (+-25 %), four attempts.
TEST_WEBHOOKS = WebhookSettings(
    allowed_networks=["127.0.0.1/32"],
    require_https=False,
    base_backoff_s=0.2,
    max_backoff_s=1.0,
    max_attempts=4,
    poll_interval_s=0.1,
    timeout_s=5.0,
)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    query: str = ""

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Records every request; answers what ``answer`` says (204 by default)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], int] = lambda event: 204

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def got(self, count: int) -> bool:
        """Whether ``count`` requests were answered 2xx (a condition for ``until``)."""
        return len(self.delivered()) >= count

    def verify(self, secret: str, received: Received) -> dict[str, Any]:
        """The event, when ``secret`` signed the request (Standard Webhooks' own check)."""
        verified: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
        return verified


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            status = found.answer(orjson.loads(body))
        except Exception:
            status = 500
        found.requests.append(Received(dict(request.headers), body, status, request.url.query))
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield found
    finally:
        server.should_exit = True
        await task


async def read_post(reader: asyncio.StreamReader) -> bytes:
    """For raw-socket receivers: one request read off ``reader`` (its head, its body by
    Content-Length); the head."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return head


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with receiver() as found:
        yield found


# A partner that writes leads and manages its endpoints: what most tests register with.
PARTNER = "leads:read leads:write webhooks:manage"


def endpoint_routes(endpoint_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every route naming an endpoint (method, path, a body it takes): each is a 404 for
    another client's endpoint, an unknown id and a deleted endpoint."""
    path = f"/api/v1/webhooks/endpoints/{endpoint_id}"
    return [
        ("GET", path, None),
        ("GET", f"{path}/deliveries", None),
        ("PUT", path, {"enabled": False}),
        ("POST", f"{path}/rotate-secret", {}),
        ("DELETE", path, None),
    ]


@dataclass(frozen=True)
class Hook:
    """A registered endpoint and the API key of its partner client."""

    key: str
    id: str
    secret: str


@dataclass
class HookGateway(EventGateway):
    async def api_key(self, scopes: str) -> str:
        async with self.runtime.db.session() as session:
            issued = await issue_api_key(
                session,
                name=f"partner {scopes}",
                scopes=frozenset(scopes.split()),
                expires_at=None,
                client=None,
            )
        return issued.plaintext

    async def rest(self, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers={"X-API-Key": key}, **kwargs)

    async def graphql(self, key: str, query: str, **variables: Any) -> dict[str, Any]:
        """The response body of a GraphQL request made with ``key``."""
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"X-API-Key": key},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post_endpoint(self, key: str, url: str, *event_types: str) -> httpx.Response:
        """The answer to registering ``url`` for ``event_types``, whatever it is."""
        return await self.rest(
            key,
            "POST",
            "/api/v1/webhooks/endpoints",
            json={"url": url, "event_types": list(event_types)},
        )

    async def register(self, key: str, url: str, *event_types: str) -> tuple[str, str]:
        """A new endpoint of the key's client: (its id, its secret)."""
        response = await self.post_endpoint(key, url, *event_types)
        assert response.status_code == 201, response.text
        body = response.json()
        return body["endpoint"]["id"], body["secret"]

    async def hook(self, url: str, *event_types: str, scopes: str = PARTNER) -> Hook:
        """A new partner client (an API key with ``scopes``) with an endpoint at ``url``."""
        key = await self.api_key(scopes)
        endpoint_id, secret = await self.register(key, url, *event_types)
        return Hook(key, endpoint_id, secret)

    async def stored_deliveries(self, endpoint_id: str) -> list[tuple[int, str]]:
        """An endpoint's rows in ``webhook_deliveries`` (id, status), whatever the API shows."""
        async with self.runtime.db.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT id, status FROM webhook_deliveries WHERE endpoint_id = :e ORDER BY id"
                ),
                {"e": uuid.UUID(endpoint_id)},
            )
            return [(int(i), str(status)) for i, status in rows]

    async def deliveries(self, key: str, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.rest(
            key, "GET", f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", params=params
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def create_lead(self, key: str, email: str) -> str:
        response = await self.rest(
            key,
            "POST",
            "/api/v1/leads",
            json={"email": email, "first_name": "Webhook", "last_name": "Test", "company": "Acme"},
        )
        assert response.status_code == 201, response.text
        lead_id: str = response.json()["id"]
        return lead_id


def hook_settings(
    database_url: str, data_dir: Path, bootstrap: str, **webhooks: Any
) -> tuple[Any, Any]:
    topics = unique_topics()
    settings = gateway_settings(
        data_dir,
        database_url,
        kafka_bootstrap_servers=bootstrap,
        events=EventSettings(topics=topics, relay_poll_interval_s=0.2),
        webhooks=TEST_WEBHOOKS.model_copy(update=webhooks),
    )
    return settings, topics


@contextlib.asynccontextmanager
async def hook_gateway(
    database_url: str, data_dir: Path, bootstrap: str, **webhooks: Any
) -> AsyncIterator[HookGateway]:
    org = await seeded_org(database_url)
    settings, topics = hook_settings(database_url, data_dir, bootstrap, **webhooks)
    app = create_app(settings)
    async with app_client(app) as client:
        gateway = HookGateway(client, app, org, "postgresql", bootstrap, topics)
        try:
            yield gateway
        finally:
            for events in gateway._started:
                await events.stop()


@pytest.fixture
async def gateway(
    fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[HookGateway]:
    async with hook_gateway(fresh_postgres, tmp_path, kafka_bootstrap) as opened:
        yield opened


@pytest.fixture
async def embedded_gateway(fresh_sqlite: str, tmp_path: Path) -> AsyncIterator[HookGateway]:
    """The embedded footprint (SQLite, the in-process relay and bus: the fan-out is a bus
    subscriber), no dispatcher of its own."""
    org = await seeded_org(fresh_sqlite)
    settings = embedded_settings(
        tmp_path, fresh_sqlite, webhooks=TEST_WEBHOOKS.model_copy(update={"enabled": False})
    )
    app = create_app(settings)
    async with app_client(app) as client:
        yield HookGateway(client, app, org, "sqlite")


@pytest.fixture
async def quiet_gateway(
    fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[HookGateway]:
    """Fan-out running, no dispatcher of the worker's: deliveries stay pending unless the test
    runs a dispatcher of its own."""
    async with hook_gateway(
        fresh_postgres, tmp_path, kafka_bootstrap, enabled=False, dispatch_batch_size=3
    ) as opened:
        yield opened
