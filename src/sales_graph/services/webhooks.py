"""Outbound webhooks: partners' endpoints, the deliveries of events to them, their rules
(docs/real-time.md, "Outbound webhooks").

Who owns what. An endpoint belongs to one partner client (``api_clients`` without a user): the
client of the partner's API key or of its client-credentials token. Every partner-facing read
and write names that owner, so a partner sees and manages its own client's endpoints only, and
an endpoint of another client is NOT_FOUND. Managing needs the scope ``webhooks:manage``; each
event type needs the read scope of its records (``EVENT_SCOPES``), checked when an endpoint
subscribes and again, against the client's scopes as they are then, for each event fanned out.
A client bound to a user, a user's own token and a user's token sent with a key have no
endpoints (their lists are empty, their writes FORBIDDEN): what a user may see depends on the
user's role and records, which an endpoint outliving a request could not follow.

The deliveries are made from committed events only: the fan-out consumers (``worker/webhooks.py``)
call :func:`fan_out` for each event of a topic we publish; the dispatcher claims due deliveries,
sends them signed (:func:`signature_headers`) and records each attempt (:func:`record_attempt`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import re
import secrets
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from sales_graph.db.models import ApiClient, WebhookDelivery, WebhookEndpoint
from sales_graph.db.repositories import api_clients
from sales_graph.db.repositories import outbox as outbox_repo
from sales_graph.db.repositories import webhooks as repo
from sales_graph.db.repositories.webhooks import DELIVERED, FAILED, PENDING, Due
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Conflict, Forbidden
from sales_graph.events import payloads
from sales_graph.events.catalog import EVENTS
from sales_graph.events.outbox import record as record_event
from sales_graph.events.subscriptions import WEBHOOK_INBOX
from sales_graph.services.validation import Input, check_version, found, invalid
from sales_graph.settings import WebhookSettings
from sales_graph.timeutil import utcnow

MANAGE_SCOPE = "webhooks:manage"
DISABLED_EVENT = "webhook.endpoint_disabled"
STATUSES = (PENDING, DELIVERED, FAILED)
# What a replay may start from: a delivery that is over.
REPLAYABLE = (DELIVERED, FAILED)

# The read scopes an event type's payload needs, by its topic (and what some payloads add:
# the deal owner's name and email, the account's name and contacts).
_TOPIC_SCOPES: dict[str, frozenset[str]] = {
    "leads": frozenset({"leads:read"}),
    "opportunities": frozenset({"opportunities:read"}),
    "territories": frozenset({"territories:read"}),
    "quotas": frozenset({"quotas:read"}),
    "billing": frozenset({"opportunities:read", "users:read"}),
    "operations": frozenset({"opportunities:read", "accounts:read"}),
    "forecasts": frozenset({"forecasts:read"}),
    "webhooks": frozenset({MANAGE_SCOPE}),
}
EVENT_SCOPES: dict[str, frozenset[str]] = {
    name: _TOPIC_SCOPES[kind.topic] for name, kind in EVENTS.items()
}

_RANDOM = secrets.SystemRandom()
SECRET_BYTES = 32


# --- inputs ------------------------------------------------------------------------------------

if TYPE_CHECKING:
    EventTypeName = str
else:  # one of the catalog's event types, an enum in the JSON Schema of a REST body
    EventTypeName = Literal[tuple(EVENT_SCOPES)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
EventTypes = Annotated[list[EventTypeName], Field(min_length=1, max_length=len(EVENT_SCOPES))]
Description = Annotated[str, Field(max_length=500)]


def _known_types(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - EVENT_SCOPES.keys())
    if unknown:
        raise ValueError("unknown event types: " + ", ".join(unknown))
    return sorted(set(value))


class NewWebhookEndpoint(Input):
    url: Url
    """The https URL events are POSTed to."""
    event_types: EventTypes
    """The event types to receive (docs/events.md), e.g. lead.created."""
    description: Description | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        return _known_types(value)


class WebhookEndpointChanges(Input):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    # False disables it (deliveries wait); True enables a disabled one again.
    enabled: bool | None = None
    expected_version: Annotated[int, Field(ge=1)] | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_types(value)


class SecretRotation(Input):
    # How long the previous secret keeps signing; None (null, or left out): the setting.
    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] | None = Field(
        default=None,
        description="seconds the previous secret keeps signing, 0 to 604800; null or left out:"
        " the default (SECRET_OVERLAP_S, a day)",
    )


# --- targets (SSRF) ----------------------------------------------------------------------------


def blocked_address(address: str, allowed: Iterable[str]) -> bool:
    """Whether a target may not be reached at ``address``: anything not global (loopback,
    private, link-local, shared, reserved, multicast, unspecified), unless an allowed network
    holds it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    networks = [ipaddress.ip_network(n, strict=False) for n in allowed]
    if any(ip in n for n in networks):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _SPECIAL:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # An IPv4 address inside IPv6 (mapped, compatible, 6to4, Teredo, NAT64) is judged
            # as IPv4: a NAT64 gateway turns 64:ff9b::a9fe:a9fe into 169.254.169.254.
            ip = embedded
            if any(ip in n for n in networks):
                return False
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved


_SPECIAL = (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1"))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


RESOLVE_TIMEOUT_S = 5.0


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_S):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class TargetRefused(ValueError):
    """A URL we will not send to; the message says why."""


def _parts(url: str, settings: WebhookSettings) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("not a valid URL") from exc
    schemes = ("https",) if settings.require_https else ("https", "http")
    if parts.scheme not in schemes:
        raise TargetRefused("the scheme must be " + " or ".join(schemes))
    if not parts.hostname:
        raise TargetRefused("the URL names no host")
    if not parts.hostname.isascii():
        # An internationalised name is sent in its ASCII form (IDNA: xn--...), as HTTP needs.
        raise TargetRefused("the host must be written in ASCII (an IDN as xn--...)")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials")
    if parts.fragment:
        raise TargetRefused("the URL must not have a fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_target(url: str, settings: WebhookSettings) -> list[str]:
    """Refuses a URL whose host resolves (any of its addresses) into a network we do not send
    to; else its addresses. Done at registration and again before each round of attempts (the
    name may resolve elsewhere by then), which connect to an address checked here (:func:`pinned`);
    redirects are never followed."""
    host, port = _parts(url, settings)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise TargetRefused(f"the host does not resolve ({type(exc).__name__})") from exc
    if not addresses:
        raise TargetRefused("the host does not resolve")
    bad = [a for a in addresses if blocked_address(a, settings.allowed_networks)]
    if bad:
        raise TargetRefused(
            "the host resolves to an address that is not public (loopback, private, link-local"
            " or reserved): " + ", ".join(bad)
        )
    return addresses


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request to a URL sent to one checked address: the connection goes to ``address`` and
    ``port`` (over TLS if ``tls``), ``Host`` and TLS (SNI, the certificate's name) name the
    URL's host; ``target`` is the request line's path and query, percent-encoded."""

    tls: bool
    address: str
    port: int
    host_header: str
    server_name: str
    target: str


# What stays as it is in a request target's path and query (RFC 3986's pchar, "/", "?" and
# "%" of what is already encoded); anything else is percent-encoded as UTF-8.
_TARGET_SAFE = "/?%:@!$&'()*+,;=-._~"


def pinned(url: str, address: str) -> Pinned:
    parts = urlsplit(url)
    assert parts.hostname is not None
    tls = parts.scheme == "https"
    port = f":{parts.port}" if parts.port is not None else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    target = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return Pinned(
        tls=tls,
        address=address,
        port=parts.port or (443 if tls else 80),
        host_header=host + port,
        server_name=parts.hostname,
        target=target,
    )


# Whitespace (Unicode's too) and control characters (C0, DEL, C1): urlsplit drops CR, LF and TAB
# and a request target would carry the others percent-encoded, so what is called would not be
# what was registered. A "%" that does not begin an escape of two hex digits (RFC 3986, 2.1).
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_syntax(url: str) -> None:
    """Refuses a URL that RFC 3986 does not allow as written (whitespace or control characters,
    a "%" that begins no escape), a fragment even empty, and port 0: it would be sent other than
    as it was registered, or not at all. Checked when a URL is registered or changed, before
    :func:`check_target`."""
    if _WHITESPACE_OR_CONTROL.search(url):
        raise TargetRefused(
            "the URL must not contain whitespace or control characters (a space is written %20)"
        )
    if _BAD_ESCAPE.search(url):
        raise TargetRefused(
            "each '%' of the URL must begin a percent-encoding: '%' and two hex digits"
            " (a '%' itself is written %25)"
        )
    if "#" in url:
        raise TargetRefused("the URL must not have a fragment (not even an empty '#')")
    try:
        port = urlsplit(url).port
    except ValueError:
        return  # not a URL at all: check_target says so
    if port == 0:
        raise TargetRefused("the port must be 1 to 65535")


async def _checked_url(url: str, settings: WebhookSettings) -> str:
    try:
        check_syntax(url)
        await check_target(url, settings)
    except TargetRefused as exc:
        raise invalid("url", str(exc)) from None
    return url


# --- the owner ---------------------------------------------------------------------------------


async def _owner(session: AsyncSession, scope: AccessScope) -> ApiClient | None:
    """The partner client whose endpoints the caller manages; None for a user (no endpoints)."""
    scope.require_scope(MANAGE_SCOPE)
    principal = scope.principal
    if principal.is_user or principal.client_id is None:
        return None
    client = await api_clients.get_client(session, principal.client_id)
    if client is None or client.revoked_at is not None or client.user_id is not None:
        return None
    return client


async def _managing_owner(session: AsyncSession, scope: AccessScope) -> ApiClient:
    client = await _owner(session, scope)
    if client is None:
        raise Forbidden(
            "Webhook endpoints belong to partner clients: call with a partner's API key or"
            " client-credentials token",
            details={"required": "partner_client"},
        )
    return client


async def _endpoint_to_change(
    session: AsyncSession, scope: AccessScope, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """One of the caller's client's endpoints, locked for a change; NOT_FOUND when it is
    another client's, deleted or unknown."""
    client = await _managing_owner(session, scope)
    row = await repo.endpoint_of(session, client.id, endpoint_id, lock=True)
    return found(row, "Webhook endpoint", "id")


def _may_receive(scope: AccessScope, event_types: Iterable[str]) -> None:
    for name in event_types:
        for needed in sorted(EVENT_SCOPES[name]):
            if not scope.has_scope(needed):
                raise Forbidden(
                    f"Receiving {name} needs the scope '{needed}'",
                    details={"required_scope": needed, "event_type": name},
                )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


# --- commands and reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str


async def list_endpoints(session: AsyncSession, scope: AccessScope) -> list[WebhookEndpoint]:
    client = await _owner(session, scope)
    return [] if client is None else await repo.endpoints_of(session, client.id)


async def get_endpoint(
    session: AsyncSession, scope: AccessScope, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    client = await _owner(session, scope)
    row = None if client is None else await repo.endpoint_of(session, client.id, endpoint_id)
    return found(row, "Webhook endpoint", "id")


async def create_endpoint(
    session: AsyncSession,
    scope: AccessScope,
    data: NewWebhookEndpoint,
    settings: WebhookSettings,
) -> EndpointWithSecret:
    client = await _managing_owner(session, scope)
    _may_receive(scope, data.event_types)
    if await repo.count_endpoints(session, client.id) >= settings.max_endpoints_per_client:
        raise Conflict(
            f"A client has at most {settings.max_endpoints_per_client} webhook endpoints",
            details={"max_endpoints": settings.max_endpoints_per_client},
        )
    url = await _checked_url(data.url, settings)
    secret = new_secret()
    row = WebhookEndpoint(
        client_id=client.id,
        url=url,
        description=data.description,
        event_types=data.event_types,
        secret=secret,
    )
    return EndpointWithSecret(await repo.add_endpoint(session, row), secret)


async def update_endpoint(
    session: AsyncSession,
    scope: AccessScope,
    endpoint_id: uuid.UUID,
    changes: WebhookEndpointChanges,
    settings: WebhookSettings,
) -> WebhookEndpoint:
    row = await _endpoint_to_change(session, scope, endpoint_id)
    check_version("webhook endpoint", changes.expected_version, row.version)
    if changes.event_types is not None:
        _may_receive(scope, changes.event_types)
        row.event_types = changes.event_types
    if changes.url is not None and changes.url != row.url:
        row.url = await _checked_url(changes.url, settings)
    if "description" in changes.model_fields_set:
        row.description = changes.description
    if changes.enabled is True and not row.enabled:
        row.enabled, row.disabled_at, row.disabled_reason = True, None, None
    elif changes.enabled is False and row.enabled:
        row.enabled, row.disabled_at, row.disabled_reason = (
            False,
            utcnow(),
            "disabled by the client",
        )
    row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return row


async def rotate_secret(
    session: AsyncSession,
    scope: AccessScope,
    endpoint_id: uuid.UUID,
    rotation: SecretRotation,
    settings: WebhookSettings,
) -> EndpointWithSecret:
    """A new secret signs from now on; the current one signs too, for the overlap (a
    delivery then carries both signatures), and is dropped at the next rotation."""
    row = await _endpoint_to_change(session, scope, endpoint_id)
    now = utcnow()
    overlap = (
        rotation.overlap_seconds
        if rotation.overlap_seconds is not None
        else settings.secret_overlap_s
    )
    secret = new_secret()
    row.previous_secret = row.secret
    row.previous_secret_expires_at = now + timedelta(seconds=overlap)
    row.secret = secret
    row.version += 1
    row.updated_at = now
    session.add(row)
    await session.flush()
    return EndpointWithSecret(row, secret)


async def delete_endpoint(
    session: AsyncSession, scope: AccessScope, endpoint_id: uuid.UUID
) -> uuid.UUID:
    """Deletes one of the client's endpoints: it is sent nothing more (its pending deliveries
    are cancelled), no longer counts toward ``max_endpoints_per_client``, and is NOT_FOUND from
    now on, its delivery log with it. The rows stay (nothing is lost); no event is recorded."""
    row = await _endpoint_to_change(session, scope, endpoint_id)
    await repo.delete(session, row, utcnow())
    return row.id


async def list_deliveries(
    session: AsyncSession,
    scope: AccessScope,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> list[WebhookDelivery]:
    """An endpoint's delivery log, newest first."""
    await get_endpoint(session, scope, endpoint_id)
    client = await _owner(session, scope)
    assert client is not None
    return await repo.deliveries_of(
        session, client.id, endpoint_id, status=status, limit=limit, offset=offset
    )


async def replay_delivery(
    session: AsyncSession, scope: AccessScope, delivery_id: int
) -> WebhookDelivery:
    """Sends a delivery's event again: a new delivery of the same event (same ``webhook-id``,
    the event id), due now, in its aggregate's order behind any still pending. Only a delivered
    or failed delivery is replayed: a pending one (waiting for an attempt, or in flight) will
    be sent anyway, so replaying it is a CONFLICT."""
    client = await _managing_owner(session, scope)
    original = found(await repo.delivery_of(session, client.id, delivery_id), "Delivery", "id")
    if original.status not in REPLAYABLE:
        raise Conflict(
            f"A {original.status} delivery is not replayed: it will be sent anyway; replay it"
            " once it is delivered or failed",
            details={"status": original.status, "replayable": list(REPLAYABLE)},
        )
    row = WebhookDelivery(
        endpoint_id=original.endpoint_id,
        event_id=original.event_id,
        event_type=original.event_type,
        ordering_key=original.ordering_key,
        envelope=original.envelope,
        replay_of=original.replay_of or original.id,
    )
    return await repo.add_delivery(session, row)


# --- fan-out -----------------------------------------------------------------------------------


def aggregate_key(event_type: str, payload: dict[str, Any]) -> str:
    """What orders an event's deliveries: its aggregate (the catalog's, as the Kafka key says
    it), so that one aggregate's events reach an endpoint in order across topics too."""
    kind = EVENTS[event_type]
    if kind.aggregate == "forecast":
        key = f"{payload.get('territory_id')}:{payload.get('period')}"
    elif event_type == "territory.assignment_changed":
        key = str(
            payload.get("territory_id")
            or payload.get("previous_territory_id")
            or payload.get("lead_id")
        )
    else:
        key = str(payload.get(f"{kind.aggregate}_id"))
    return f"{kind.aggregate}:{key}"[:300]


def _fanned(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """An event's type, id and payload, when it is an event endpoints may receive."""
    event_type = message.get("event_type")
    event_id = message.get("event_id")
    payload = message.get("payload")
    if event_type not in EVENT_SCOPES or not isinstance(event_id, str):
        return None
    if not isinstance(payload, dict):
        return None
    return event_type, event_id, payload


def _targets(
    subscribed: list[tuple[WebhookEndpoint, ApiClient]], event_type: str, payload: dict[str, Any]
) -> list[WebhookEndpoint]:
    """The endpoints (of those subscribed to the type) whose client may read the event now."""
    needed = EVENT_SCOPES[event_type]
    return [
        endpoint
        for endpoint, client in subscribed
        if client.user_id is None
        and needed <= set(client.scopes)
        # A notice about an endpoint goes to its own client's endpoints only.
        and (event_type != DISABLED_EVENT or payload.get("client_id") == client.client_id)
    ]


def _delivery_rows(
    targets: list[WebhookEndpoint], message: dict[str, Any]
) -> list[repo.NewDelivery]:
    event_type, event_id = message["event_type"], uuid.UUID(message["event_id"])
    key = aggregate_key(event_type, message["payload"])
    return [
        repo.NewDelivery(endpoint.id, event_id, event_type, key, message) for endpoint in targets
    ]


async def fan_out(session: AsyncSession, message: dict[str, Any]) -> int:
    """Records a delivery of a committed event for each enabled endpoint that subscribed to its
    type and whose client may read it now; once per event (the inbox), so a redelivered event
    makes no second delivery. The number of deliveries recorded."""
    fanned = _fanned(message)
    if fanned is None:
        return 0
    event_type, event_id, payload = fanned
    targets = _targets(await repo.subscribed(session, event_type), event_type, payload)
    if not targets:
        return 0
    if not await outbox_repo.remember_processed(session, WEBHOOK_INBOX, event_id):
        return 0
    return await repo.add_deliveries(session, utcnow(), _delivery_rows(targets, message))


async def fan_out_all(session: AsyncSession, messages: Sequence[dict[str, Any]]) -> int:
    """:func:`fan_out` for a batch of events in the caller's transaction, set-based: the
    subscribed endpoints read once per event type, the inbox rows of the events that have
    targets inserted in one statement, their deliveries in one (on PostgreSQL), in the batch's
    order. An event twice in the batch, or processed before, makes nothing."""
    subscribed: dict[str, list[tuple[WebhookEndpoint, ApiClient]]] = {}
    wanted: list[tuple[dict[str, Any], list[WebhookEndpoint]]] = []
    for message in messages:
        fanned = _fanned(message)
        if fanned is None:
            continue
        event_type, _, payload = fanned
        if event_type not in subscribed:
            subscribed[event_type] = await repo.subscribed(session, event_type)
        targets = _targets(subscribed[event_type], event_type, payload)
        if targets:
            wanted.append((message, targets))
    if not wanted:
        return 0
    event_ids = list(dict.fromkeys(str(message["event_id"]) for message, _ in wanted))
    fresh = await outbox_repo.remember_processed_all(session, WEBHOOK_INBOX, event_ids)
    rows: list[repo.NewDelivery] = []
    for message, targets in wanted:
        if message["event_id"] in fresh:
            fresh.discard(message["event_id"])  # its first occurrence in the batch only
            rows += _delivery_rows(targets, message)
    return await repo.add_deliveries(session, utcnow(), rows)


# --- attempts ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    """A secret's signer (its key decoded once, not at every attempt)."""
    return Webhook(secret)


def signature_headers(
    secrets_: Iterable[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """Standard Webhooks' headers; one ``v1,`` signature per secret, space-separated."""
    signatures = " ".join(_signer(s).sign(message_id, timestamp, body) for s in secrets_)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


def retry_at(settings: WebhookSettings, attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed ones; None when they ran out. The wait
    doubles from ``base_backoff_s`` up to ``max_backoff_s``, jittered by +-25 %."""
    if attempts >= settings.max_attempts:
        return None
    backoff = min(settings.base_backoff_s * 2 ** (attempts - 1), settings.max_backoff_s)
    return now + timedelta(seconds=backoff * _RANDOM.uniform(0.75, 1.25))


def schedule(settings: WebhookSettings) -> list[float]:
    """The nominal waits between the attempts (without jitter), for the docs and the tests."""
    return [
        min(settings.base_backoff_s * 2 ** (n - 1), settings.max_backoff_s)
        for n in range(1, settings.max_attempts)
    ]


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt went: a 2xx answer delivers."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record_attempts(
    session: AsyncSession, attempts: Sequence[tuple[Due, Attempt]], settings: WebhookSettings
) -> list[bool]:
    """:func:`record_attempt` for a round: the delivered ones in one statement, each failed one
    as :func:`record_attempt` does. Whether each was delivered, in the order given."""
    now = utcnow()
    delivered = [
        (due.id, attempt.status_code)
        for due, attempt in attempts
        if attempt.delivered and attempt.status_code is not None
    ]
    await repo.mark_all_delivered(session, delivered, now)
    for due, attempt in attempts:
        if not attempt.delivered:
            await record_attempt(session, due, attempt, settings)
    return [attempt.delivered for _, attempt in attempts]


async def record_attempt(
    session: AsyncSession, due: Due, attempt: Attempt, settings: WebhookSettings
) -> bool:
    """Stores an attempt's outcome; a delivery whose attempts ran out is failed and its
    endpoint disabled, with a ``webhook.endpoint_disabled`` event. True when delivered."""
    now = utcnow()
    if attempt.delivered:
        assert attempt.status_code is not None
        await repo.mark_delivered(session, due.id, now, attempt.status_code)
        return True
    error = attempt.error or f"HTTP {attempt.status_code}"
    when = retry_at(settings, due.attempts + 1, now)
    await repo.mark_failed(
        session, due.id, now, status_code=attempt.status_code, error=error, retry_at=when
    )
    if when is None:
        reason = f"{due.attempts + 1} attempts failed; the last: {error}"
        endpoint = await repo.disable(session, due.endpoint_id, now, reason)
        if endpoint is not None:
            client = await session.get(ApiClient, endpoint.client_id)
            assert client is not None
            notice = payloads.webhook_endpoint_disabled(
                endpoint,
                client_id=client.client_id,
                reason=reason,
                delivery_id=due.id,
                event_id=due.event_id,
            )
            await record_event(session, DISABLED_EVENT, endpoint.id, notice, actor_id=None)
    return False
