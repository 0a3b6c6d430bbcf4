"""The lead-to-opportunity flow's test rig: the event gateway of ``conftest.py`` whose Billing
connector talks to the Billing simulator over HTTP, and the GraphQL steps of a sales rep."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from sqlmodel import col, func, select

from sales_graph.app import create_app
from sales_graph.db.models import InboxEvent, Lead, OutboxEvent, User
from sales_graph.settings import (
    EventSettings,
    UpstreamSettings,
)
from sales_graph.simulators import RunningSimulators, Simulator, serve_simulators
from sales_graph.worker import launch as events_runtime
from sales_graph.worker.consumer import Consumer
from sales_graph.worker.launch import EventRuntime
from tests.events.conftest import EventGateway, unique_topics
from tests.events.samples import SPEC_MARKETING, real_ids
from tests.gateways import app_client, gateway_settings, seeded_org

BILLING_KEY = "flow-billing-key"
# The consumers under test; the forecast refresh has tests of its own.
CONSUMERS = ("marketing-leads", "billing-contracts")


@dataclass
class Flow:
    gateway: EventGateway
    sims: RunningSimulators

    @property
    def billing(self) -> Simulator:
        return self.sims["billing"]

    async def start(self) -> EventRuntime:
        """The worker's relays and the two consumers under test, as ``sales-graph worker``
        wires them."""
        return await self.gateway.start_events()

    def contract_posts(self) -> list[Any]:
        return self.billing.requests_to("/api/v1/contracts", "POST")

    async def lead(self, lead_id: str) -> Lead | None:
        async with self.gateway.runtime.db.session() as session:
            return await session.get(Lead, uuid.UUID(lead_id))

    async def leads_with_email(self, email: str) -> list[Lead]:
        async with self.gateway.runtime.db.session() as session:
            statement = select(Lead).where(Lead.email_normalized == email.lower())
            return list((await session.exec(statement)).all())

    async def outbox_count(self, event_type: str, key: str) -> int:
        async with self.gateway.runtime.db.session() as session:
            statement = (
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.event_type == event_type, OutboxEvent.key == key)
            )
            return int((await session.exec(statement)).one())

    async def inbox(self, consumer: str) -> list[str]:
        async with self.gateway.runtime.db.session() as session:
            statement = (
                select(InboxEvent.event_id)
                .where(InboxEvent.consumer == consumer)
                .order_by(col(InboxEvent.processed_at))
            )
            return list((await session.exec(statement)).all())


@dataclass
class RawMessage:
    key: str | None
    headers: dict[str, str]
    value: bytes


async def read_raw(
    bootstrap: str, topic: str, *, count: int, deadline_s: float = 30.0
) -> list[RawMessage]:
    """Like ``read_topic``, without decoding the values (dead letters need not be JSON)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[RawMessage] = []
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while len(found) < count and loop.time() < end:
            for records in (await consumer.getmany(timeout_ms=250)).values():
                found.extend(
                    RawMessage(
                        r.key.decode() if r.key else None,
                        {k: v.decode() for k, v in r.headers or ()},
                        r.value or b"",
                    )
                    for r in records
                )
    finally:
        await consumer.stop()
    return found


def consumer_of(events: EventRuntime, name: str) -> Consumer:
    return next(c for c in events.consumers if c.name == name)


def only_flow_consumers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's wiring, less the consumers these tests are not about."""
    wired = events_runtime.subscriptions
    monkeypatch.setattr(
        events_runtime, "subscriptions", lambda: [s for s in wired() if s.name in CONSUMERS]
    )


@asynccontextmanager
async def open_flow(
    database_url: str, bootstrap: str, data_dir: Path, sims: RunningSimulators
) -> AsyncIterator[Flow]:
    """The event gateway on a migrated database with the test organisation, its Billing
    connector at the simulator (short timeouts, two attempts, no breaker to speak of)."""
    org = await seeded_org(database_url)
    topics = unique_topics()
    settings = gateway_settings(
        data_dir,
        database_url,
        kafka_bootstrap_servers=bootstrap,
        events=EventSettings(
            topics=topics, relay_poll_interval_s=0.2, consumer_retry_backoff_s=0.05
        ),
        billing=UpstreamSettings(
            base_url=sims.urls["billing"],
            api_key=SecretStr(BILLING_KEY),
            connect_timeout_s=1.0,
            read_timeout_s=1.0,
            deadline_s=1.0,
            retry_max_attempts=2,
            retry_base_backoff_s=0.01,
            retry_max_backoff_s=0.02,
            breaker_failure_threshold=1000,
        ),
    )
    app = create_app(settings)
    async with app_client(app) as client:
        gateway = EventGateway(client, app, org, "postgresql", bootstrap, topics)
        try:
            yield Flow(gateway, sims)
        finally:
            for events in gateway._started:
                await events.stop()


def lead_qualified(email: str = "john.doe@example.com", **payload: Any) -> dict[str, Any]:
    """The spec's Marketing event, with the envelope fields a sender adds (ids of its own)."""
    message: dict[str, Any] = real_ids(SPEC_MARKETING)  # (a copy)
    message["payload"]["profile"]["email"] = email
    message["payload"].update(payload)
    return {
        "event_id": str(uuid.uuid4()),
        **message,
        "correlation_id": f"mkt-{uuid.uuid4().hex[:12]}",
    }


CREATE_LEAD = "mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }"
CONVERT = """
mutation($leadId: ID!, $input: ConvertLeadInput!) {
  convertLead(leadId: $leadId, input: $input) { id stage owner { id } account { id name } }
}"""
SET_PRODUCTS = """
mutation($id: ID!, $products: [ProductLineInput!]!) {
  updateOpportunity(id: $id, input: {products: $products}) { id version }
}"""
MOVE = """
mutation($id: ID!, $stage: OpportunityStage!, $terms: ContractTermsInput) {
  updateOpportunityStage(opportunityId: $id, stage: $stage, contractTerms: $terms) {
    id stage probability
  }
}"""
PRODUCTS = [
    {
        "productId": "prod_123",
        "productName": "Enterprise Plan",
        "quantity": 100,
        "unitPrice": 100.0,
        "discount": 0.1,
        "configuration": {
            "data_center": "us-east-1",
            "features": ["sso", "advanced_analytics", "api_access"],
        },
    }
]


def contract_start() -> date:
    """The first day of next month (any future date would do)."""
    return (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)


async def convert(gateway: EventGateway, rep: User, lead_id: str) -> dict[str, Any]:
    data = await gateway.data(
        rep,
        CONVERT,
        leadId=lead_id,
        input={
            "opportunityName": "Acme Corp - Enterprise Plan",
            "amount": 120000.0,
            "expectedCloseDate": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    converted: dict[str, Any] = data["convertLead"]
    return converted


async def close_won(gateway: EventGateway, rep: User, opportunity_id: str) -> None:
    """Products, then discovery -> proposal -> negotiation -> closed won, as the rep."""
    await gateway.data(rep, SET_PRODUCTS, id=opportunity_id, products=PRODUCTS)
    for stage in ("PROPOSAL", "NEGOTIATION"):
        moved = await gateway.data(rep, MOVE, id=opportunity_id, stage=stage)
        assert moved["updateOpportunityStage"]["stage"] == stage
    terms = {
        "contractTerm": 12,
        "startDate": contract_start().isoformat(),
        "paymentTerms": "net_30",
        "billingFrequency": "monthly",
    }
    won = await gateway.data(rep, MOVE, id=opportunity_id, stage="CLOSED_WON", terms=terms)
    assert won["updateOpportunityStage"] == {
        "id": opportunity_id,
        "stage": "CLOSED_WON",
        "probability": 100,
    }


async def won_deal(gateway: EventGateway, email: str) -> str:
    """A lead created by an admin (assigned in T1), converted and won by its rep: the id."""
    org = gateway.org
    created = await gateway.data(
        org.admin, CREATE_LEAD, input={"email": email, "company": "Initech", "country": "US"}
    )
    lead_id = created["createLead"]["id"]
    opportunity = await convert(gateway, org.admin, lead_id)
    rep = next(r for r in org.t1_reps if str(r.id) == opportunity["owner"]["id"])
    await close_won(gateway, rep, opportunity["id"])
    return str(opportunity["id"])


# The fixtures of a flow test (import them into the test module).
@pytest.fixture
async def billing_sim() -> AsyncIterator[RunningSimulators]:
    running = await serve_simulators(api_keys={"billing": BILLING_KEY}, systems=["billing"])
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def flow(
    fresh_postgres: str,
    kafka_bootstrap: str,
    tmp_path: Path,
    billing_sim: RunningSimulators,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Flow]:
    only_flow_consumers(monkeypatch)
    async with open_flow(fresh_postgres, kafka_bootstrap, tmp_path, billing_sim) as running:
        yield running
