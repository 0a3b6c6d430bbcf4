"""``POST /oauth/token``: the client credentials grant (RFC 6749 section 4.4).

Errors here are OAuth's own bodies (section 5.2), not our envelope: OAuth client libraries
parse ``error``. Parsing is strict — one media type, no repeated parameters, one client
authentication method — because lenient parsers are where token endpoints get confused.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from sales_graph.auth.clients import authenticate_client, client_user
from sales_graph.db.models import ApiClient
from sales_graph.domain.permissions import ScopeError, format_scopes, parse_scopes
from sales_graph.domain.principal import PARTNER_SUBJECT_PREFIX
from sales_graph.logs import get_logger
from sales_graph.runtime import Runtime
from sales_graph.web.envelope import JSONResponse
from sales_graph.web.throttle import client_failure_key, failed, refused, token_request

_MAX_BODY_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"

_log = get_logger("sales_graph.web.oauth")


class OAuthError(Exception):
    def __init__(self, error: str, description: str, *, basic_challenge: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        # RFC 6749 5.2: a failed HTTP Basic authentication is a 401 with a challenge.
        self.basic_challenge = basic_challenge

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="sales-graph", charset="UTF-8"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, 401 if self.basic_challenge else 400, headers=headers)


async def token_endpoint(request: Request) -> Response:
    limits: dict[str, str] = {}
    try:
        body = await _token(request, limits)
    except OAuthError as exc:
        _log.info("auth.token_refused", error=exc.error, description=exc.description)
        response = exc.response()
        response.headers.update(limits)
        return response
    return JSONResponse(body, headers={**_NO_STORE, **limits})


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != _FORM:
        raise OAuthError("invalid_request", f"The body must be {_FORM}")
    body = await request.body()
    if len(body) > _MAX_BODY_BYTES:
        raise OAuthError("invalid_request", "The request body is too large")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True) if text else []
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "The body is not a valid form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"Parameter '{name}' is repeated")
        form[name] = value
    return form


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(
            "invalid_client", "Use HTTP Basic client authentication", basic_challenge=True
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError as exc:  # binascii.Error, UnicodeDecodeError, a non-ASCII header
        raise OAuthError(
            "invalid_client", "Malformed Basic credentials", basic_challenge=True
        ) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise OAuthError("invalid_client", "Malformed Basic credentials", basic_challenge=True)
    # RFC 6749 2.3.1: both parts are form-urlencoded before they are joined and encoded.
    return unquote_plus(client_id), unquote_plus(secret)


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str, bool]:
    """``(client_id, secret, used_basic)``; exactly one authentication method."""
    authorization = request.headers.getlist("authorization")
    if len(authorization) > 1:
        raise OAuthError("invalid_request", "Send one Authorization header")
    if authorization:
        client_id, secret = _basic(authorization[0])
        if "client_secret" in form:
            raise OAuthError("invalid_request", "Use one client authentication method, not two")
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
        return client_id, secret, True
    if "client_id" in form and "client_secret" in form and form["client_id"]:
        return form["client_id"], form["client_secret"], False
    # No usable credentials: say which scheme we expect.
    raise OAuthError("invalid_client", "Client authentication is required", basic_challenge=True)


def _granted_scopes(client: ApiClient, requested: str | None) -> frozenset[str]:
    allowed = frozenset(client.scopes)
    if requested is None or not requested.strip():
        return allowed
    try:
        scopes = parse_scopes(requested)
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from exc
    if not scopes <= allowed:
        extra = format_scopes(scopes - allowed)
        raise OAuthError("invalid_scope", f"The client may not request: {extra}")
    return scopes


async def _token(request: Request, limits: dict[str, str]) -> dict[str, Any]:
    """The token; ``limits`` receives the rate-limit headers of the request's bucket."""
    try:
        form = await _form(request)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported")
        client_id, secret, used_basic = _credentials(request, form)
    except OAuthError:
        limits.update(await token_request(request.scope, None))
        raise
    limits.update(await token_request(request.scope, client_id))
    runtime: Runtime = request.app.state.runtime
    failure_key = client_failure_key(request.scope, client_id)
    if (blocked := refused(request.scope, failure_key)) is not None:
        raise blocked  # before scrypt: a flood of wrong secrets costs no hashing
    async with runtime.db.session() as session:
        client = await authenticate_client(session, client_id, secret)
        if client is None:
            _, over = await failed(request.scope, failure_key)
            if over is not None:
                raise over
            raise OAuthError(
                "invalid_client", "Client authentication failed", basic_challenge=used_basic
            )
        scopes = _granted_scopes(client, form.get("scope"))
        user = await client_user(session, client)
    if client.user_id is not None and (user is None or not user.is_active):
        raise OAuthError("unauthorized_client", "The client's user is inactive")
    tokens = runtime.tokens
    extra = {"client_id": client.client_id}
    ordered = format_scopes(scopes).split()
    if user is not None:
        token = tokens.issue(str(user.id), roles=[user.role], scopes=ordered, extra=extra)
    else:
        subject = PARTNER_SUBJECT_PREFIX + client.client_id
        token = tokens.issue(subject, scopes=ordered, extra=extra)
    _log.info("auth.token_issued", client_id=client.client_id, user_id=str(client.user_id))
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": tokens.ttl_s,
        "scope": format_scopes(scopes),
    }
