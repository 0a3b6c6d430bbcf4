"""Recording an event: an outbox row in the caller's transaction (docs/events.md).

Service functions call :func:`record` next to the change they make, with the payload model
the catalog names for the event type (``events/payloads.py`` builds it); the row commits or
rolls back with it. The correlation id is the request's (``X-Correlation-ID``, else the request id)
or, in the worker, the consumed event's; the user id is the actor's.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.correlation import current_request
from sales_graph.db.models import OutboxEvent
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.events.catalog import event_type
from sales_graph.events.envelope import envelope
from sales_graph.events.models import EventPayload
from sales_graph.telemetry.tracing import current_traceparent
from sales_graph.timeutil import utcnow


def correlation_id() -> str:
    context = current_request()
    return context.correlation_id if context else str(uuid.uuid4())


async def record(
    session: AsyncSession,
    name: str,
    key: uuid.UUID | str,
    payload: EventPayload,
    *,
    actor_id: uuid.UUID | None,
) -> OutboxEvent:
    row = OutboxEvent(**outbox_values(name, key, payload, actor_id=actor_id))
    await outbox_repo.add(session, row)
    return row


def outbox_values(
    name: str, key: uuid.UUID | str, payload: EventPayload, *, actor_id: uuid.UUID | None
) -> dict[str, Any]:
    """The columns of the event's outbox row (a batch inserts its rows at once)."""
    kind = event_type(name)
    if type(payload) is not kind.payload:
        raise TypeError(f"{name} takes a {kind.payload.__name__}, not a {type(payload).__name__}")
    now = utcnow()
    event_id = uuid.uuid4()
    return {
        "event_id": event_id,
        "event_type": name,
        "topic": kind.topic,
        "key": str(key),
        "envelope": envelope(
            name,
            payload,
            correlation_id=correlation_id(),
            user_id=actor_id,
            event_id=event_id,
            timestamp=now,
        ),
        "created_at": now,
        # The request's trace goes on in the relay's and the consumers' spans (Kafka headers).
        "traceparent": current_traceparent(),
    }
