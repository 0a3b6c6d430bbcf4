"""``POST /webhooks/customer-experience``: signed deliveries per the Standard Webhooks spec.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several
space-separated allowed) made with the secret ``customer_experience.webhook_secret``
(``whsec_<base64>``; several, space-separated, during a rotation). The ``standardwebhooks``
package verifies the signature and the timestamp (five minutes either way); a failure is 401.
A delivery id applied before is acknowledged (204) and not applied again: that part of the spec
is the receiver's, so :class:`SeenDeliveries` is ours. An id is claimed while it is applied and
marked done after the commit; a repeat meanwhile (or after the applying process died, until the
claim runs out) is a 409, never an acknowledgement of something not applied. Ids are kept in
Redis when there is one, else in process (one process only); while Redis fails, in process too
(the failure reported to ``sales_graph.degradation``: logged once per outage).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
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
from sales_graph.errors import Conflict, ServiceUnavailable, Unauthorized, ValidationError
from sales_graph.jsonlimits import JSONObject
from sales_graph.logs import get_logger
from sales_graph.runtime import Runtime
from sales_graph.services.account_signals import AccountSignals, record_account_signals
from sales_graph.services.validation import field_errors

# The library's tolerance (not a setting of it): a delivery further from now is refused.
TOLERANCE_S = 5 * 60
# Longer than the tolerance: a replay older than that is refused by its timestamp anyway.
_SEEN_TTL_S = 2 * TOLERANCE_S
# How long a delivery being applied holds its id: longer than any apply takes (the database's
# connect and pool timeouts), short enough that a sender's retry after a crash is applied.
_CLAIM_TTL_S = 30.0
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


class Claim(StrEnum):
    NEW = "new"  # first seen now: apply it, then complete() (or forget() when it failed)
    DONE = "done"  # applied before: acknowledge, change nothing
    IN_PROGRESS = "in_progress"  # being applied by another request (or by a process that died)


class SeenDeliveries:
    """Delivery ids: claimed while they are applied, done once applied. A claim lasts
    ``claim_ttl_s``, so a process that dies while applying one leaves nothing acknowledged:
    the sender's retry finds the claim expired and applies it. Redis when given, else in
    process."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
        health: Dependency = REDIS,
        claim_ttl_s: float = _CLAIM_TTL_S,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._health = health
        self._claim_ttl_s = claim_ttl_s
        self._local: OrderedDict[str, tuple[float, bool]] = OrderedDict()  # expiry, done

    async def claim(self, webhook_id: str) -> Claim:
        if self._redis is not None:
            key = self._prefix + webhook_id
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(key, b"claimed", nx=True, px=max(1, int(self._claim_ttl_s * 1000)))
                    pipe.get(key)
                    claimed, value = await pipe.execute()
            except RedisError as exc:
                self._health.failed(Component.WEBHOOK_IDS, exc)
            else:
                self._health.succeeded()
                if claimed:
                    return Claim.NEW
                return Claim.DONE if value == b"done" else Claim.IN_PROGRESS
        return self._claim_locally(webhook_id)

    async def complete(self, webhook_id: str) -> None:
        """Applied (committed): a repeat of it is acknowledged from now on."""
        self._local[webhook_id] = (self._clock() + _SEEN_TTL_S, True)
        if self._redis is not None:
            try:
                await self._redis.set(self._prefix + webhook_id, b"done", ex=_SEEN_TTL_S)
            except RedisError as exc:
                self._health.failed(Component.WEBHOOK_IDS, exc)
            else:
                self._health.succeeded()

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

    def _claim_locally(self, webhook_id: str) -> Claim:
        now = self._clock()
        while self._local and (
            next(iter(self._local.values()))[0] <= now or len(self._local) > _SEEN_MAX_IN_PROCESS
        ):
            self._local.popitem(last=False)
        found = self._local.get(webhook_id)
        if found is not None and found[0] > now:
            return Claim.DONE if found[1] else Claim.IN_PROGRESS
        self._local[webhook_id] = (now + self._claim_ttl_s, False)
        return Claim.NEW


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
        claim = await seen.claim(webhook_id)
        if claim is Claim.DONE:
            _log.info("webhooks.customer_experience.replay_ignored", webhook_id=webhook_id)
            return Response(status_code=204)
        if claim is Claim.IN_PROGRESS:
            # Not acknowledged: it may never be applied (the process applying it may die).
            raise Conflict("This delivery is being applied; send it again later")
        try:
            await self._apply(runtime, delivery, datetime.fromtimestamp(sent_at, UTC))
        except BaseException:
            await seen.forget(webhook_id)
            raise
        await seen.complete(webhook_id)
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
