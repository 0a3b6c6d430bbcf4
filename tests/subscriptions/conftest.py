"""Subscription tests: a real uvicorn server (a task of the test's loop) in the embedded
footprint (SQLite, the in-process relay and bus) or with Kafka (PostgreSQL, topics of its own,
the relay started beside it), and a graphql-transport-ws client over the ``websockets``
package."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sales_graph.app import create_app
from sales_graph.db.models import Account, User
from sales_graph.settings import EventSettings, SubscriptionSettings
from sales_graph.worker.launch import start_kafka
from tests.events.conftest import until
from tests.gateways import embedded_settings, gateway_settings, live_server, seeded_org
from tests.graphql.conftest import Gateway
from tests.kafka_topics import unique_topics

PROTOCOL = "graphql-transport-ws"

CREATE = """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) { id } }"""
UPDATE = """mutation($id: ID!, $input: UpdateOpportunityInput!) {
  updateOpportunity(id: $id, input: $input) { id } }"""
REASSIGN = """mutation($id: ID!, $owner: ID!) {
  reassignOpportunity(id: $id, ownerId: $owner, reason: "Rebalance") { id } }"""
OPPORTUNITY_CHANGED = """subscription($owner: ID, $stage: OpportunityStage) {
  opportunityChanged(ownerId: $owner, stage: $stage) {
    change eventId occurredAt
    opportunity { id name amount stage owner { id name } account { name } }
  }
}"""


@dataclass
class LiveGateway(Gateway):
    ws_url: str = ""

    def listeners(self) -> int:
        return self.runtime.fanout.listener_count()

    async def until_listening(self, count: int) -> None:
        async def reached() -> bool:
            return self.listeners() == count

        await until(reached, deadline_s=15, every_s=0.02)

    async def account(self, owner: User, name: str) -> Account:
        async with self.runtime.db.session() as session:
            account = Account(
                name=name,
                name_normalized=name.lower(),
                owner_id=owner.id,
                territory_id=self.org.t1.id if owner in self.org.t1_reps else self.org.t2.id,
            )
            session.add(account)
        return account

    async def create_opportunity(self, owner: User, name: str, **fields: Any) -> str:
        account = await self.account(owner, f"{name} account")
        values = {
            "name": name,
            "accountId": str(account.id),
            "stage": "DISCOVERY",
            "amount": 1000,
            "expectedCloseDate": "2026-04-30",
            "ownerId": str(owner.id),
            **fields,
        }
        data = await self.data(owner, CREATE, input=values)
        return str(data["createOpportunity"]["id"])

    @asynccontextmanager
    async def ws(
        self,
        user: User | None = None,
        *,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[Ws]:
        """A graphql-transport-ws connection, initialised with ``user``'s token (or
        ``payload`` as it is); ``headers`` go with the upgrade request."""
        if payload is None:
            payload = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        async with connect(
            self.ws_url,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
        ) as connection:
            ws = Ws(connection)
            await ws.send({"type": "connection_init", "payload": payload})
            yield ws


class Ws:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.pings = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def frame(self) -> dict[str, Any]:
        """The next message; graphql-transport-ws messages are text frames (browser clients
        such as graphql-ws parse nothing else)."""
        raw = await self.connection.recv()
        assert isinstance(raw, str), f"a binary frame: {raw!r}"
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def receive(self, deadline_s: float = 20) -> dict[str, Any]:
        """The next message other than a ping (answered with a pong)."""
        async with asyncio.timeout(deadline_s):
            while True:
                message = await self.frame()
                if message["type"] != "ping":
                    return message
                self.pings += 1
                await self.send({"type": "pong"})

    async def ping(self, deadline_s: float = 20) -> None:
        """Waits for the server's next ping (answered with a pong); fails on anything else."""
        pings = self.pings
        while self.pings == pings:
            async with asyncio.timeout(deadline_s):
                message = await self.frame()
            assert message["type"] == "ping", message
            self.pings += 1
            await self.send({"type": "pong"})

    async def acked(self) -> None:
        message = await self.receive()
        assert message == {"type": "connection_ack"}, message

    async def subscribe(self, id: str, query: str, **variables: Any) -> None:
        await self.send(
            {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def next(self, id: str, deadline_s: float = 20) -> dict[str, Any]:
        """The data of the next result, which must be of ``id`` and without errors."""
        message = await self.receive(deadline_s)
        assert (message["type"], message.get("id")) == ("next", id), message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def closed(self, deadline_s: float = 20) -> tuple[int, str]:
        """The close code and reason the server ends the connection with."""
        closed: ConnectionClosed | None = None
        try:
            async with asyncio.timeout(deadline_s):
                while True:
                    await self.receive(deadline_s)
        except ConnectionClosed as exc:
            closed = exc
        assert closed is not None
        assert closed.rcvd is not None, "the server sent no close frame"
        return closed.rcvd.code, closed.rcvd.reason


LiveFactory = Callable[..., AbstractAsyncContextManager[LiveGateway]]


@pytest.fixture
def live_embedded(fresh_sqlite: str, tmp_path: Path) -> LiveFactory:
    """The embedded footprint on SQLite under uvicorn; ``subscriptions`` settings as given,
    ``server`` options of ``uvicorn.Config`` over those ``sales-graph serve`` uses."""

    @asynccontextmanager
    async def start(
        *, server: dict[str, Any] | None = None, **subscriptions: Any
    ) -> AsyncIterator[LiveGateway]:
        org = await seeded_org(fresh_sqlite)
        settings = embedded_settings(
            tmp_path, fresh_sqlite, subscriptions=SubscriptionSettings(**subscriptions)
        )
        app = create_app(settings)
        async with live_server(app, **(server or {})) as client:
            ws_url = str(client.base_url).replace("http://", "ws://").rstrip("/") + "/graphql"
            gateway = LiveGateway(client, app, org, "sqlite", ws_url)
            await until(_ready(gateway), deadline_s=15, every_s=0.02)
            yield gateway

    return start


@pytest.fixture
def live_kafka(fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path) -> LiveFactory:
    """The gateway on PostgreSQL with Kafka (topics of its own) under uvicorn, reading the
    topics itself, and the relay to Kafka in the test's process."""

    @asynccontextmanager
    async def start(**subscriptions: Any) -> AsyncIterator[LiveGateway]:
        org = await seeded_org(fresh_postgres)
        settings = gateway_settings(
            tmp_path,
            fresh_postgres,
            kafka_bootstrap_servers=kafka_bootstrap,
            events=EventSettings(topics=unique_topics(), relay_poll_interval_s=0.2),
            # The suite turns the feed off (tests/conftest.py); these tests need it.
            subscriptions=SubscriptionSettings(**({"kafka_feed": True} | subscriptions)),
        )
        assert settings.subscriptions.kafka_feed
        app = create_app(settings)
        async with live_server(app) as client:
            ws_url = str(client.base_url).replace("http://", "ws://").rstrip("/") + "/graphql"
            gateway = LiveGateway(client, app, org, "postgresql", ws_url)
            events = await start_kafka(gateway.runtime, consumers=False)
            events.start()
            try:
                await until(_ready(gateway), deadline_s=30, every_s=0.05)
                yield gateway
            finally:
                await events.stop()

    return start


def _ready(gateway: LiveGateway) -> Callable[[], Any]:
    async def ready() -> bool:
        return gateway.runtime.fanout.ready.is_set()

    return ready


@pytest.fixture(params=["embedded", "kafka"])
def live(request: pytest.FixtureRequest) -> LiveFactory:
    """Each feed: the in-process bus, and Kafka."""
    factory: LiveFactory = request.getfixturevalue(f"live_{request.param}")
    return factory
