"""The spec's event envelope, the same for every event we publish."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sales_graph.events.catalog import SOURCE, VERSION
from sales_graph.timeutil import format_datetime, utcnow


def envelope(
    event_type: str,
    payload: dict[str, Any],
    *,
    correlation_id: str,
    user_id: str | None,
    event_id: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "event_type": event_type,
        "timestamp": format_datetime(timestamp or utcnow()),
        "source": SOURCE,
        "version": VERSION,
        "correlation_id": correlation_id,
        "user_id": user_id,
        "payload": payload,
    }
