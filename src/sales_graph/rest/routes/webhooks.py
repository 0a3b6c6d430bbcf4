"""Outbound webhooks: a partner's endpoints, their delivery log, replay, secret rotation
(docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

from sales_graph.rest.schemas import LIMIT, OFFSET
from sales_graph.rest.table import Body, Link, QueryParam, RestRoute, Shape
from sales_graph.services.webhooks import (
    NewWebhookEndpoint,
    SecretRotation,
    WebhookEndpointChanges,
)

WEBHOOK_ENDPOINT = Shape("WebhookEndpoint")
WEBHOOK_DELIVERY = Shape("WebhookDelivery")

_ENDPOINT_ID = "$response.body#/endpoint/id"

ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/webhooks/endpoints",
        operation_id="createWebhookEndpoint",
        summary="Register a Webhook Endpoint",
        document="""mutation($input: CreateWebhookEndpointInput!) {
            createWebhookEndpoint(input: $input) { secret endpoint { ...WebhookEndpoint } }
        }""",
        shapes=(WEBHOOK_ENDPOINT,),
        status=201,
        body=Body(NewWebhookEndpoint),
        example={
            "url": "https://partner.example.com/hooks/sales",
            "event_types": ["lead.created", "opportunity.won"],
            "description": "CRM sync",
        },
        links=(
            Link("GetWebhookEndpoint", "getWebhookEndpoint", {"path.id": _ENDPOINT_ID}),
            Link("GetWebhookDeliveries", "getWebhookDeliveries", {"path.id": _ENDPOINT_ID}),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/webhooks/endpoints",
        operation_id="getWebhookEndpoints",
        summary="Get the Caller's Webhook Endpoints",
        document="query { webhookEndpoints { ...WebhookEndpoint } }",
        shapes=(WEBHOOK_ENDPOINT,),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/webhooks/endpoints/{id}",
        operation_id="getWebhookEndpoint",
        summary="Get a Webhook Endpoint",
        document="query($id: ID!) { webhookEndpoint(id: $id) { ...WebhookEndpoint } }",
        shapes=(WEBHOOK_ENDPOINT,),
    ),
    RestRoute(
        method="PUT",
        path="/api/v1/webhooks/endpoints/{id}",
        operation_id="updateWebhookEndpoint",
        summary="Change, Disable or Enable a Webhook Endpoint",
        document="""mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
            updateWebhookEndpoint(id: $id, input: $input) { ...WebhookEndpoint }
        }""",
        shapes=(WEBHOOK_ENDPOINT,),
        body=Body(WebhookEndpointChanges),
    ),
    RestRoute(
        method="DELETE",
        path="/api/v1/webhooks/endpoints/{id}",
        operation_id="deleteWebhookEndpoint",
        summary="Delete a Webhook Endpoint",
        document="mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        status=204,
    ),
    RestRoute(
        method="POST",
        path="/api/v1/webhooks/endpoints/{id}/rotate-secret",
        operation_id="rotateWebhookSecret",
        summary="Rotate a Webhook Endpoint's Secret",
        document="""mutation($id: ID!, $overlapSeconds: Int) {
            rotateWebhookSecret(id: $id, overlapSeconds: $overlapSeconds) {
                secret endpoint { ...WebhookEndpoint }
            }
        }""",
        shapes=(WEBHOOK_ENDPOINT,),
        body=Body(SecretRotation, nullable=("overlap_seconds",)),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/webhooks/endpoints/{id}/deliveries",
        operation_id="getWebhookDeliveries",
        summary="Get a Webhook Endpoint's Delivery Log",
        document="""query($id: ID!, $status: WebhookDeliveryStatus, $limit: Int, $offset: Int) {
            webhookDeliveries(endpointId: $id, status: $status, limit: $limit, offset: $offset) {
                ...WebhookDelivery
            }
        }""",
        shapes=(WEBHOOK_DELIVERY,),
        query=(
            QueryParam("status", "Only deliveries in this status", example="failed"),
            QueryParam("limit", "Deliveries per page (1 to 200)", LIMIT),
            QueryParam("offset", "Deliveries to skip", OFFSET),
        ),
    ),
    RestRoute(
        method="POST",
        path="/api/v1/webhooks/deliveries/{delivery_id}/replay",
        operation_id="replayWebhookDelivery",
        summary="Replay a Webhook Delivery",
        document="""mutation($deliveryId: ID!) {
            replayWebhookDelivery(id: $deliveryId) { ...WebhookDelivery }
        }""",
        shapes=(WEBHOOK_DELIVERY,),
        status=201,
    ),
)
