"""The outbox: rows written with their change, published to Kafka by the relay."""

from __future__ import annotations

from sqlmodel import select

from sales_graph.db.models import OutboxEvent
from tests.events.conftest import EventGateway, read_topic, until

CREATE_LEAD = """
mutation($input: CreateLeadInput!) { createLead(input: $input) { id status } }
"""


async def _outbox(gateway: EventGateway) -> list[OutboxEvent]:
    async with gateway.runtime.db.session() as session:
        return list((await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all())


async def test_a_created_lead_is_published_with_the_envelope(event_gateway: EventGateway) -> None:
    org = event_gateway.org
    response = await event_gateway.client.post(
        "/graphql",
        json={
            "query": CREATE_LEAD,
            "variables": {"input": {"email": "ada@example.com", "firstName": "Ada", "company": "Acme", "country": "US"}},
        },
        headers={
            "Authorization": f"Bearer {event_gateway.token(org.admin)}",
            "X-Correlation-ID": "corr-123",
        },
    )
    body = response.json()
    assert "errors" not in body, body
    lead_id = body["data"]["createLead"]["id"]
    rows = await _outbox(event_gateway)
    assert [r.event_type for r in rows][:1] == ["lead.created"]
    await event_gateway.start_events(consumers=False)
    messages = await read_topic(
        event_gateway.bootstrap, event_gateway.topics.leads, count=len(rows), deadline_s=20
    )
    created = [m for m in messages if m.value["event_type"] == "lead.created"]
    assert len(created) == 1
    message = created[0]
    assert message.key == lead_id
    assert message.headers["event_type"] == "lead.created"
    assert message.headers["correlation_id"] == "corr-123"
    envelope = message.value
    assert envelope["source"] == "sales-system"
    assert envelope["version"] == "1.0"
    assert envelope["correlation_id"] == "corr-123"
    assert envelope["user_id"] == str(org.admin.id)
    assert envelope["payload"]["lead_id"] == lead_id
    assert message.headers["event_id"] == envelope["event_id"]

    async def all_published() -> bool:
        return all(r.published_at is not None for r in await _outbox(event_gateway))

    await until(all_published, deadline_s=10)
