"""Who is calling, from ``Authorization: Bearer`` and ``X-API-Key`` (DESIGN.md section 6).

* A bearer token is ours (``iss`` = ``auth.issuer``) or, when configured, the external identity
  provider's (``iss`` = ``auth.external_issuer``); the unverified ``iss`` only picks the verifier.
* An API key names a partner client with scopes.
* Both sent: both must be valid; the caller is the token's principal, with the key's client and
  prefix recorded on it (``client_id``, ``api_key_prefix``) — a partner system acting for a user.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers

from sales_graph.auth.api_keys import ApiKeyVerifier
from sales_graph.auth.challenge import INVALID_REQUEST, INVALID_TOKEN
from sales_graph.auth.compact import read_compact, unverified_issuer
from sales_graph.auth.external import (
    ExternalIdentity,
    ExternalIdentityProvider,
    build_external_provider,
)
from sales_graph.auth.tokens import TokenIssuer
from sales_graph.db.engine import Database
from sales_graph.db.repositories import api_clients, users
from sales_graph.domain import Role
from sales_graph.domain.permissions import KNOWN_SCOPES
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import ServiceUnavailable, Unauthorized
from sales_graph.logs import get_logger
from sales_graph.settings import AuthSettings

_log = get_logger("sales_graph.auth.authenticator")
# Weakest first: a user's role in our directory bounds what a token may claim for them.
_ROLE_RANK = (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN)
_INVALID_TOKEN = {"WWW-Authenticate": INVALID_TOKEN}


def _role(value: str) -> Role | None:
    """The user's role; a value that is not one of ours grants nothing (FORBIDDEN, not 500)."""
    return Role._value2member_map_.get(value)  # type: ignore[return-value]


def _invalid_token(message: str) -> Unauthorized:
    return Unauthorized(message, headers=dict(_INVALID_TOKEN))


@dataclasses.dataclass(eq=False)
class Authenticator:
    tokens: TokenIssuer
    db: Database
    _: dataclasses.KW_ONLY
    api_keys: ApiKeyVerifier
    external: ExternalIdentityProvider | None = None

    async def aclose(self) -> None:
        if self.external is not None:
            await self.external.aclose()

    async def authenticate(self, headers: Headers) -> Principal | None:
        """None for an anonymous request; :class:`Unauthorized` for any bad credential;
        :class:`ServiceUnavailable` (retryable) when the database cannot say who is calling."""
        try:
            return await self._authenticate(headers)
        except (DBAPIError, OSError) as exc:
            _log.warning("auth.database_unavailable", error=type(exc).__name__)
            raise ServiceUnavailable(
                "Authentication is unavailable: the database does not answer",
                headers={"Retry-After": "1"},
            ) from exc

    async def _authenticate(self, headers: Headers) -> Principal | None:
        authorization = headers.getlist("authorization")
        api_keys = headers.getlist("x-api-key")
        if len(authorization) > 1 or len(api_keys) > 1:
            raise Unauthorized(
                "Send each credential header once", headers={"WWW-Authenticate": INVALID_REQUEST}
            )
        principal = await self._bearer(authorization[0]) if authorization else None
        key_principal = await self.api_keys.verify(api_keys[0]) if api_keys else None
        if principal is None:
            return key_principal
        if key_principal is None:
            return principal
        # A partner system acting for a user: the user's role, within the key's scopes too.
        scopes = key_principal.scopes
        if principal.scoped:
            scopes &= principal.scopes
        return dataclasses.replace(
            principal,
            client_id=key_principal.client_id,
            api_key_prefix=key_principal.api_key_prefix,
            scopes=scopes,
            scoped=True,
        )

    async def _as_now(self, principal: Principal) -> Principal:
        """The token's principal as the database has it now: the user's current role and
        active status, the client's current scopes; a revoked client's tokens are refused."""
        async with self.db.session() as session:
            client = (
                await api_clients.get_client(session, principal.client_id)
                if principal.client_id
                else None
            )
            user = (
                await users.get(session, AccessScope.as_system("authentication"), principal.user_id)
                if principal.user_id is not None
                else None
            )
        if principal.client_id is not None:
            if client is None or client.revoked_at is not None:
                raise _invalid_token("The token's client is revoked")
            if client.user_id != principal.user_id:
                raise _invalid_token("The token's client does not act for this subject")
            principal = dataclasses.replace(
                principal, scopes=principal.scopes & frozenset(client.scopes)
            )
        if principal.user_id is None:
            return principal
        if user is None or not user.is_active:
            raise _invalid_token("The token's user does not exist or is inactive")
        return dataclasses.replace(principal, role=_role(user.role))

    async def _bearer(self, authorization: str) -> Principal:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized(
                "Authorization must be 'Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
            )
        try:
            return await self._verify(credentials.strip())
        except Unauthorized as exc:
            exc.headers["WWW-Authenticate"] = INVALID_TOKEN
            raise

    async def _verify(self, token: str) -> Principal:
        compact = read_compact(token)
        if self.external is not None and unverified_issuer(compact) == self.external.issuer:
            return await self._user_for(await self.external.verify(compact))
        return await self._as_now(self.tokens.verify(token))

    async def _user_for(self, identity: ExternalIdentity) -> Principal:
        """The provider's user is ours by email: the one attribute both directories share."""
        if identity.email is None:
            raise Unauthorized("The token names no verified email address")
        async with self.db.session() as session:
            user = await users.get_by_email(
                session, AccessScope.as_system("authentication"), identity.email
            )
        if user is None or not user.is_active:
            raise Unauthorized("No active user has this token's email address")
        # The provider may grant less than our directory holds for the user now, never more;
        # scopes of ours in the token (a client of the provider acting for the user) limit the
        # user further.
        held = _role(user.role)
        role = (
            None
            if identity.role is None or held is None
            else min(identity.role, held, key=_ROLE_RANK.index)
        )
        scopes = identity.scopes & KNOWN_SCOPES
        return Principal(
            subject=str(user.id),
            user_id=user.id,
            role=role,
            scopes=scopes,
            client_id=identity.client_id,
            scoped=bool(scopes),
        )


def build_authenticator(settings: AuthSettings, db: Database, tokens: TokenIssuer) -> Authenticator:
    """The one instance of a process (``runtime.build_runtime``)."""
    external = None
    if settings.external_jwks_url:
        if not settings.external_issuer:
            raise ValueError("auth.external_jwks_url needs auth.external_issuer")
        external = build_external_provider(
            jwks_url=settings.external_jwks_url,
            issuer=settings.external_issuer,
            audience=settings.external_audience or settings.audience,
            roles_claim=settings.external_roles_claim,
            email_claim=settings.external_email_claim,
            timeout_s=settings.external_jwks_timeout_s,
            max_age_s=settings.external_jwks_max_age_s,
            miss_refresh_interval_s=settings.external_jwks_refresh_interval_s,
        )
    api_keys = ApiKeyVerifier(db, last_used_interval_s=settings.api_key_last_used_interval_s)
    return Authenticator(tokens, db, api_keys=api_keys, external=external)
