"""``POST /webhooks/customer-experience``: signed deliveries per the Standard Webhooks spec.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several
space-separated allowed) made with the secret ``customer_experience.webhook_secret``
(``whsec_<base64>``; several, space-separated, during a rotation). The ``standardwebhooks``
package verifies the signature and the timestamp (five minutes either way); a failure is 401.
A delivery id seen before is acknowledged (204) and not applied again: that part of the spec
is the receiver's, so :class:`SeenDeliveries` is ours. Seen ids are kept in Redis when there is
one, else in process (one process only); while Redis fails, in process too (the failure reported
to ``sales_graph.degradation``: logged once per outage).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sales_graph.degradation import REDIS, Component, Dependency
from sales_graph.errors import ServiceUnavailable, Unauthorized, ValidationError
from sales_graph.jsonlimits import JSONObject
from sales_graph.logs import get_logger
from sales_graph.runtime import Runtime
from sales_graph.services.account_signals import AccountSignals, record_account_signals
from sales_graph.services.validation import field_errors

# The library's tolerance (not a setting of it): a delivery further from now is refused.
TOLERANCE_S = 5 * 60
# Longer than the tolerance: a replay older than that is refused by its timestamp anyway.
_SEEN_TTL_S = 2 * TOLERANCE_S
_SEEN_MAX_IN_PROCESS = 100_000
_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MALFORMED = "Missing or malformed webhook headers"
_OUTSIDE_TOLERANCE = "Webhook timestamp outside the tolerance"
_BAD_SIGNATURE = "Invalid webhook signature"
# The library's reasons, as our messages; any other failure is a bad signature.
_REASONS = {
    "Missing required headers": _MALFORMED,
    "Invalid Signature Headers": _MALFORMED,
    "Message timestamp too old": _OUTSIDE_TOLERANCE,
    "Message timestamp too new": _OUTSIDE_TOLERANCE,
}
_log = get_logger("sales_graph.webhooks")


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> tuple[str, int]:
    """The delivery's id and timestamp when one of the secrets signed it recently; else
    Unauthorized. ``secret`` is validated by the settings (``whsec_<base64>``, space-separated)."""
    delivery = {name: headers.get(name) or "" for name in _HEADERS}
    reason = _BAD_SIGNATURE
    for one in secret.split():
        try:
            Webhook(one).verify(body, delivery, json_parse=False)
        except WebhookVerificationError as exc:
            reason = _REASONS.get(str(exc), _BAD_SIGNATURE)
        # The library's parsing lets these through: a signature list entry without its comma,
        # bad base64, a body that is not UTF-8 (it verifies text).
        except ValueError:
            reason = _BAD_SIGNATURE
        else:
            # What was signed: the timestamp's whole seconds.
            return delivery["webhook-id"], math.floor(float(delivery["webhook-timestamp"]))
    raise Unauthorized(reason)


class SeenDeliveries:
    """Delivery ids already accepted: Redis ``SET NX EX`` when given, else an in-process map."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
        health: Dependency = REDIS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._health = health
        self._local: OrderedDict[str, float] = OrderedDict()

    async def first_time(self, webhook_id: str) -> bool:
        if self._redis is not None:
            try:
                stored = await self._redis.set(
                    self._prefix + webhook_id, b"1", nx=True, ex=_SEEN_TTL_S
                )
            except RedisError as exc:
                self._health.failed(Component.WEBHOOK_IDS, exc)
            else:
                self._health.succeeded()
                return bool(stored)
        return self._first_time_locally(webhook_id)

    async def forget(self, webhook_id: str) -> None:
        """After a failed delivery, so that the sender's retry is applied."""
        self._local.pop(webhook_id, None)
        if self._redis is not None:
            try:
                await self._redis.delete(self._prefix + webhook_id)
            except RedisError as exc:
                self._health.failed(Component.WEBHOOK_IDS, exc)
            else:
                self._health.succeeded()

    def _first_time_locally(self, webhook_id: str) -> bool:
        now = self._clock()
        while self._local and (
            next(iter(self._local.values())) <= now or len(self._local) > _SEEN_MAX_IN_PROCESS
        ):
            self._local.popitem(last=False)
        if webhook_id in self._local:
            return False
        self._local[webhook_id] = now + _SEEN_TTL_S
        return True


class _Delivery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Annotated[str, StringConstraints(max_length=200)]
    data: JSONObject


# The event types that carry account signals; others are acknowledged and ignored.
_SIGNAL_EVENTS = frozenset(
    {"account.signals_updated", "account.health_updated", "account.nps_updated"}
)


class CustomerExperienceWebhooks:
    def __init__(self) -> None:
        self._seen: SeenDeliveries | None = None

    async def receive(self, request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        secret = runtime.settings.customer_experience.webhook_secret
        if secret is None:
            raise ServiceUnavailable("Customer Experience webhooks are not configured")
        body = await request.body()
        webhook_id, sent_at = verify(secret.get_secret_value(), request.headers, body)
        delivery = _parse(body)
        seen = self._seen_store(runtime)
        if not await seen.first_time(webhook_id):
            _log.info("webhooks.customer_experience.replay_ignored", webhook_id=webhook_id)
            return Response(status_code=204)
        try:
            await self._apply(runtime, delivery, datetime.fromtimestamp(sent_at, UTC))
        except BaseException:
            await seen.forget(webhook_id)
            raise
        return Response(status_code=204)

    def _seen_store(self, runtime: Runtime) -> SeenDeliveries:
        if self._seen is None:
            self._seen = SeenDeliveries(
                runtime.redis, prefix="sales-graph:webhooks:customer_experience:"
            )
        return self._seen

    async def _apply(self, runtime: Runtime, delivery: _Delivery, sent_at: datetime) -> None:
        if delivery.type not in _SIGNAL_EVENTS:
            _log.info("webhooks.customer_experience.type_ignored", type=delivery.type)
            return
        try:
            signals = AccountSignals.model_validate(delivery.data)
        except PydanticValidationError as exc:
            raise ValidationError("Invalid webhook payload", details={"reason": str(exc)}) from exc
        async with runtime.db.session() as session:
            account = await record_account_signals(session, signals, sent_at)
        if account is not None and runtime.connectors is not None:
            await runtime.connectors.customer_experience.forget_account(str(signals.account_id))
        if account is None:
            _log.info(
                "webhooks.customer_experience.unknown_account",
                account_id=str(signals.account_id),
            )


def _parse(body: bytes) -> _Delivery:
    try:
        return _Delivery.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            "Invalid webhook payload", details={"reason": "not a delivery"}
        ) from exc
    except PydanticValidationError as exc:
        raise ValidationError(
            "Invalid webhook payload",
            details={"reason": "not a delivery", "fields": field_errors(exc)},
        ) from exc


def webhook_routes() -> list[BaseRoute]:
    return [
        Route(
            "/webhooks/customer-experience",
            CustomerExperienceWebhooks().receive,
            methods=["POST"],
        )
    ]
