"""What both subscription transports do alike (docs/real-time.md): authenticate a connection
with the gateway's authenticator, keep its credentials under watch (a token's expiry, a revoked
key or client, a deactivated user end it), and refuse operations other than subscriptions."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

from graphql.utilities import get_operation_ast
from starlette.datastructures import Headers

from graphql import GraphQLError, GraphQLFormattedError, OperationType, parse
from sales_graph.auth.compact import read_compact
from sales_graph.correlation import current_request_id
from sales_graph.domain.principal import Principal
from sales_graph.errors import SalesGraphError, ServiceUnavailable, Unauthorized
from sales_graph.logs import get_logger
from sales_graph.schema.live import EXPIRED_REASON, CloseCode, Connection

_log = get_logger("sales_graph.web.live")
_CREDENTIALS = ("authorization", "x-api-key")


def credentials(params: Mapping[str, Any] | None, headers: Headers) -> Headers:
    """The credentials of a connection: those of graphql-transport-ws ``connection_init``'s
    payload (``Authorization``, ``X-API-Key``, as keys of their own or under ``headers``; a
    browser cannot set a WebSocket's headers), else the upgrade request's own."""
    sent: dict[str, str] = {}
    for source in (params or {}, (params or {}).get("headers") or {}):
        if isinstance(source, Mapping):
            for name, value in source.items():
                if (
                    isinstance(name, str)
                    and name.lower() in _CREDENTIALS
                    and isinstance(value, str)
                ):
                    sent[name.lower()] = value
    if sent:
        return Headers(sent)
    return Headers(raw=[(k, v) for k, v in headers.raw if k.decode("latin-1") in _CREDENTIALS])


async def authenticate(connection: Connection, headers: Headers) -> Principal:
    """The caller, as ``/graphql`` authenticates it; :class:`Unauthorized` without one."""
    principal = await connection.runtime.authenticator.authenticate(headers)
    if principal is None:
        raise Unauthorized("A subscription needs credentials (Authorization or X-API-Key)")
    return principal


def token_expiry(headers: Headers) -> float | None:
    """The ``exp`` of a bearer token that authentication already verified, else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        exp = read_compact(token.strip()).claims.get("exp")
    except SalesGraphError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


def recheck_wait(recheck_s: float) -> float:
    """The wait before a connection's next credentials check: between half of
    ``SUBSCRIPTIONS__RECHECK_S`` and all of it, drawn anew each time."""
    return recheck_s * random.uniform(0.5, 1.0)  # noqa: S311 (spreads load; not a secret)


async def watch_credentials(connection: Connection, headers: Headers) -> None:
    """Ends the connection (``CloseCode.UNAUTHORIZED``) when its token expires or its
    credentials are refused when checked again (at most ``SUBSCRIPTIONS__RECHECK_S`` apart,
    each wait drawn between half of it and all of it, so connections opened together are not
    all checked in the same second); keeps the principal current (a changed role) otherwise.
    Nothing is delivered once the token's ``exp`` has passed (``Connection.valid_principal``),
    even before this wakes."""
    settings = connection.runtime.settings.subscriptions
    expiry = token_expiry(headers)
    connection.expires_at = expiry
    while True:
        wait = recheck_wait(settings.recheck_s)
        if expiry is not None:
            wait = min(wait, max(0.0, expiry - time.time()))
        await asyncio.sleep(wait)
        if connection.token_expired():
            connection.end(CloseCode.UNAUTHORIZED, EXPIRED_REASON)
            return
        try:
            connection.principal = await authenticate(connection, headers)
        except Unauthorized as exc:
            connection.end(CloseCode.UNAUTHORIZED, f"Credentials refused: {exc.message}")
            return
        except ServiceUnavailable:
            _log.warning("live.recheck_unavailable")


def operation_type(query: object, operation_name: object) -> OperationType | None:
    """The type of the operation a document names; None when it cannot be told (the
    operation's own execution then reports why)."""
    if not isinstance(query, str) or not (
        operation_name is None or isinstance(operation_name, str)
    ):
        return None
    try:
        operation = get_operation_ast(parse(query, max_tokens=10_000), operation_name)
    except GraphQLError:
        return None
    return operation.operation if operation is not None else None


NOT_A_SUBSCRIPTION = "Only subscriptions run here; send queries and mutations to POST /graphql"
# The code of an error that ends a connection, by its close code.
_ENDED_CODES = {
    CloseCode.UNAUTHORIZED: "UNAUTHORIZED",
    CloseCode.SLOW_CONSUMER: "SLOW_CONSUMER",
}


def gateway_error(message: str, code: str, **extensions: object) -> GraphQLFormattedError:
    """An error the gateway itself sends a subscription (not one of executing it, which
    ``schema/errors.py`` codes), formatted as the schema formats those: its ``code``, the
    ``extensions`` given, and the request id (of the SSE request, or of the WebSocket's
    upgrade request, ``web/middleware.py``). Every such error of both transports is made here."""
    coded = {"code": code, **extensions, "request_id": current_request_id()}
    return GraphQLError(message, extensions=coded).formatted


def request_error(message: str) -> GraphQLFormattedError:
    """A request that cannot run (malformed parameters, not a subscription):
    ``VALIDATION_ERROR``."""
    return gateway_error(message, "VALIDATION_ERROR")


def ended_error(code: CloseCode, reason: str) -> GraphQLFormattedError:
    """Why the gateway ends a connection (expired or refused credentials, a slow consumer):
    the reason's code and the WebSocket close code (``close_code``); the last ``next`` of an
    SSE stream, the ``error`` of each subscription of a WebSocket before its close frame."""
    return gateway_error(reason, _ENDED_CODES.get(code, "INTERNAL_ERROR"), close_code=int(code))


def close_reason(reason: str) -> str:
    """A WebSocket close reason fits in 123 bytes."""
    encoded = reason.encode()
    return reason if len(encoded) <= 123 else encoded[:120].decode(errors="ignore") + "..."
