"""Two gateway processes (``sales-graph serve``) on one PostgreSQL and one Kafka: a change
committed through one reaches a subscriber of the other, because each process reads the topics
itself (no shared consumer group)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect

from sales_graph.db.models import Account
from sales_graph.runtime import build_runtime
from sales_graph.settings import EventSettings
from sales_graph.worker.launch import start_kafka
from tests.events.conftest import until
from tests.gateways import gateway_settings, seeded_org
from tests.kafka_topics import unique_topics
from tests.subscriptions.conftest import CREATE, PROTOCOL, UPDATE

CLI = "from sales_graph.cli import main; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """``sales-graph serve`` on a free port in the background; yields its base URL."""
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-c", CLI, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_change_through_one_gateway_reaches_the_other(
    fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_postgres)
    topics = unique_topics()
    settings = gateway_settings(
        tmp_path,
        fresh_postgres,
        kafka_bootstrap_servers=kafka_bootstrap,
        events=EventSettings(topics=topics, relay_poll_interval_s=0.2),
    )
    # Built first: it writes the signing keys both gateways then read from the data directory.
    runtime = build_runtime(settings)
    token = runtime.tokens.issue(str(org.r1.id), roles=[org.r1.role])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALES_GRAPH_")} | {
        "SALES_GRAPH_DATABASE_URL": fresh_postgres,
        "SALES_GRAPH_DATA_DIR": str(tmp_path),
        "SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SALES_GRAPH_EVENTS__IN_PROCESS": "false",
        # Each gateway's own reader of the topics: what this test is about (the suite's
        # environment turns it off, tests/conftest.py).
        "SALES_GRAPH_SUBSCRIPTIONS__KAFKA_FEED": "true",
        "SALES_GRAPH_RATE_LIMIT__ENABLED": "false",
        "SALES_GRAPH_FINANCE_SYNC__ENABLED": "false",
        "SALES_GRAPH_LOG_LEVEL": "WARNING",
    }
    for name, topic in topics.model_dump().items():
        env[f"SALES_GRAPH_EVENTS__TOPICS__{name.upper()}"] = topic
    events = await start_kafka(runtime, consumers=False)
    events.start()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with ExitStack() as stack:
            one = stack.enter_context(_serving(env, tmp_path / "one.log"))
            other = stack.enter_context(_serving(env, tmp_path / "other.log"))
            async with httpx.AsyncClient(base_url=f"http://{one}", timeout=30) as client:

                async def answering() -> bool:
                    for host in (one, other):
                        try:
                            await client.get(f"http://{host}/healthz")
                        except httpx.TransportError:
                            return False
                    return True

                await until(answering, deadline_s=120, every_s=0.2)
                async with runtime.db.session() as session:
                    account = Account(
                        name="Shared",
                        name_normalized="shared",
                        owner_id=org.r1.id,
                        territory_id=org.t1.id,
                    )
                    session.add(account)
                created = await client.post(
                    "/graphql",
                    headers=headers,
                    json={
                        "query": CREATE,
                        "variables": {
                            "input": {
                                "name": "Across",
                                "accountId": str(account.id),
                                "stage": "DISCOVERY",
                                "amount": 1,
                                "expectedCloseDate": "2026-04-30",
                                "ownerId": str(org.r1.id),
                            }
                        },
                    },
                )
                deal = created.json()["data"]["createOpportunity"]["id"]
                subscription = """subscription { opportunityChanged {
                  change opportunity { id amount owner { name } } } }"""
                async with connect(
                    f"ws://{other}/graphql",
                    subprotocols=[PROTOCOL],  # type: ignore[list-item]
                ) as ws:
                    await ws.send(
                        orjson.dumps({"type": "connection_init", "payload": headers}).decode()
                    )
                    assert orjson.loads(await ws.recv())["type"] == "connection_ack"
                    await ws.send(
                        orjson.dumps(
                            {"id": "1", "type": "subscribe", "payload": {"query": subscription}}
                        ).decode()
                    )
                    # The other gateway's reader may still be finding its partitions: change
                    # the deal through the first one until the other one delivers a change.
                    amount = 0

                    async def delivered() -> dict[str, object] | None:
                        nonlocal amount
                        amount += 1
                        await client.post(
                            "/graphql",
                            headers=headers,
                            json={
                                "query": UPDATE,
                                "variables": {"id": deal, "input": {"amount": amount}},
                            },
                        )
                        try:
                            async with asyncio.timeout(2):
                                while True:
                                    message = orjson.loads(await ws.recv())
                                    if message["type"] == "next":
                                        return message["payload"]  # type: ignore[no-any-return]
                        except TimeoutError:
                            return None

                    payload = await until(delivered, deadline_s=90, every_s=0)
                    change = payload["data"]["opportunityChanged"]
                    assert change["change"] == "UPDATED"
                    assert change["opportunity"]["id"] == deal
                    assert change["opportunity"]["owner"]["name"] == org.r1.name
                    assert 1 <= change["opportunity"]["amount"] <= amount
    finally:
        await events.stop()
        await runtime.close()
