"""GraphQL types of outbound webhooks: a partner's endpoints and their delivery log
(docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from sales_graph.db.models import WebhookDelivery as WebhookDeliveryRow
from sales_graph.db.models import WebhookEndpoint as WebhookEndpointRow
from sales_graph.schema.derive import from_attributes
from sales_graph.services.webhooks import EndpointWithSecret


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@strawberry.type(
    description="A partner's URL that receives the events of the types it names, signed "
    "(Standard Webhooks). Only the partner client that registered it sees it."
)
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str | None
    event_types: list[str] = strawberry.field(description="The event types it receives.")
    enabled: bool = strawberry.field(
        description="False: deliveries wait (disabled by the client, or after a delivery "
        "failed every attempt)."
    )
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="After a rotation: until then the previous secret signs as well."
    )
    version: int
    created_at: datetime
    updated_at: datetime

    from_row = from_attributes(WebhookEndpointRow)


@strawberry.type(
    description="An endpoint with its signing secret: shown when the endpoint is created and "
    "when its secret is rotated, never otherwise."
)
class WebhookEndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="whsec_<base64>: verify deliveries with it.")

    @classmethod
    def of(cls, result: EndpointWithSecret) -> WebhookEndpointWithSecret:
        return cls(endpoint=WebhookEndpoint.from_row(result.endpoint), secret=result.secret)


@strawberry.type(description="One event sent (or to be sent) to one endpoint, and how it went.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: str = strawberry.field(description="The event's id; also the webhook-id header.")
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(description="While pending: when.")
    last_attempt_at: datetime | None
    last_status_code: int | None = strawberry.field(description="The last attempt's answer.")
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    replay_of: str | None = strawberry.field(description="The delivery this one replays.")
    event: JSON = strawberry.field(description="The event envelope sent as the body.")

    from_row = from_attributes(
        WebhookDeliveryRow,
        event_id=lambda row: str(row.event_id),
        next_attempt_at=lambda row: row.next_attempt_at if row.status == "pending" else None,
        replay_of=lambda row: None if row.replay_of is None else str(row.replay_of),
        event=lambda row: row.envelope,
    )


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https URL; it must resolve to public addresses.")
    event_types: list[str] = strawberry.field(description="Event types to receive.")
    description: str | None = strawberry.UNSET


@strawberry.input(description="Changes to a webhook endpoint.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="False disables it (deliveries wait); true enables a disabled one again.",
    )
    expected_version: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The version the change is based on; a stale one is a CONFLICT.",
    )
