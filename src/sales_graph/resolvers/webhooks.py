"""Root fields of outbound webhooks: a partner's endpoints, their delivery log, replay and
secret rotation (docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

import strawberry

from sales_graph.resolvers.common import mutate, paging, read
from sales_graph.schema.common import input_values, parse_id
from sales_graph.schema.context import Info
from sales_graph.schema.webhooks import (
    CreateWebhookEndpointInput,
    UpdateWebhookEndpointInput,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
)
from sales_graph.services import webhooks
from sales_graph.services.validation import invalid, parse


def _delivery_id(value: strawberry.ID, field: str) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise invalid(field, "must be a delivery id")
    return int(text)


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="The caller's webhook endpoints: a partner client's own (scope "
        "webhooks:manage); none for a user."
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        rows = await read(info, webhooks.list_endpoints)
        return [WebhookEndpoint.from_row(row) for row in rows]

    @strawberry.field(description="One of the caller's webhook endpoints.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        endpoint_id = parse_id(id, "id")
        row = await read(info, lambda s, scope: webhooks.get_endpoint(s, scope, endpoint_id))
        return WebhookEndpoint.from_row(row)

    @strawberry.field(
        description="The delivery log of one of the caller's endpoints, newest first."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[WebhookDelivery]:
        endpoint = parse_id(endpoint_id, "endpointId")
        page = paging(info, limit=limit, offset=offset, first=None, after=None)
        rows = await read(
            info,
            lambda s, scope: webhooks.list_deliveries(
                s,
                scope,
                endpoint,
                status=status.value if status else None,
                limit=page.limit,
                offset=page.offset,
            ),
        )
        return [WebhookDelivery.from_row(row) for row in rows]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register a webhook endpoint for the caller's partner client; its secret "
        "is in the answer, once."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointWithSecret:
        data = parse(webhooks.NewWebhookEndpoint, input_values(input))
        settings = info.context.runtime.settings.webhooks
        result = await mutate(
            info, lambda s, scope: webhooks.create_endpoint(s, scope, data, settings)
        )
        return WebhookEndpointWithSecret.of(result)

    @strawberry.mutation(description="Change, disable or enable again a webhook endpoint.")
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpoint:
        endpoint_id = parse_id(id, "id")
        changes = parse(webhooks.WebhookEndpointChanges, input_values(input))
        settings = info.context.runtime.settings.webhooks
        row = await mutate(
            info,
            lambda s, scope: webhooks.update_endpoint(s, scope, endpoint_id, changes, settings),
        )
        return WebhookEndpoint.from_row(row)

    @strawberry.mutation(
        description="A new signing secret; the previous one signs as well for overlapSeconds "
        "(default a day)."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, overlap_seconds: int | None = None
    ) -> WebhookEndpointWithSecret:
        endpoint_id = parse_id(id, "id")
        rotation = parse(webhooks.SecretRotation, {"overlap_seconds": overlap_seconds})
        settings = info.context.runtime.settings.webhooks
        result = await mutate(
            info,
            lambda s, scope: webhooks.rotate_secret(s, scope, endpoint_id, rotation, settings),
        )
        return WebhookEndpointWithSecret.of(result)

    @strawberry.mutation(
        description="Delete a webhook endpoint: it is sent nothing more (its pending "
        "deliveries are cancelled), no longer counts toward the limit of endpoints, and is "
        "NOT_FOUND from now on, its delivery log with it. The id of the endpoint deleted."
    )
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        endpoint_id = parse_id(id, "id")
        deleted = await mutate(
            info, lambda s, scope: webhooks.delete_endpoint(s, scope, endpoint_id)
        )
        return strawberry.ID(str(deleted))

    @strawberry.mutation(
        description="Send a delivered or failed delivery's event to its endpoint again (a "
        "pending one is a CONFLICT: it will be sent anyway)."
    )
    async def replay_webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        delivery_id = _delivery_id(id, "id")
        row = await mutate(info, lambda s, scope: webhooks.replay_delivery(s, scope, delivery_id))
        return WebhookDelivery.from_row(row)
