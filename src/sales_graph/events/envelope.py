"""The spec's event envelope, the same for every event we publish."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from sales_graph.events.catalog import EVENTS, SOURCE, VERSION, Source, Version
from sales_graph.events.models import EventPayload, Time
from sales_graph.timeutil import utcnow


def _known(name: str) -> str:
    if name not in EVENTS:
        raise ValueError(f"unknown event type {name!r}")
    return name


class Envelope(BaseModel):
    """The envelope of every event sales-graph publishes (the spec's Event Message Format)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    event_id: uuid.UUID
    """Unique per event; consumers deduplicate by it."""
    event_type: Annotated[
        str, AfterValidator(_known), Field(json_schema_extra={"enum": list(EVENTS)})
    ]
    """The event type; names the payload schema."""
    timestamp: Time
    """When the change committed (RFC 3339, UTC)."""
    source: Source
    version: Version
    """The envelope and payload schema version."""
    correlation_id: str
    """The request's X-Correlation-ID (else its request id), or the consumed event's
    correlation id."""
    user_id: uuid.UUID | None
    """The acting user; null for the system."""
    # Any object here; <event_type>.schema.json says which.
    payload: Annotated[dict[str, Any], WithJsonSchema({"type": "object"})]
    """The event's data: <event_type>.schema.json."""


def envelope(
    event_type: str,
    payload: EventPayload,
    *,
    correlation_id: str,
    user_id: uuid.UUID | None,
    event_id: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The envelope as it goes on the wire (and into the outbox)."""
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        timestamp=timestamp or utcnow(),
        source=SOURCE,
        version=VERSION,
        correlation_id=correlation_id,
        user_id=user_id,
        payload=payload.model_dump(mode="json"),
    ).model_dump(mode="json")
