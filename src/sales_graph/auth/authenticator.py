"""Who is calling, from ``Authorization: Bearer`` and ``X-API-Key`` (DESIGN.md section 6).

* A bearer token is ours (``iss`` = ``auth.issuer``) or, when configured, the external identity
  provider's (``iss`` = ``auth.external_issuer``); the unverified ``iss`` only picks the verifier.
* An API key names a partner client with scopes.
* Both sent: both must be valid; the caller is the token's principal, with the key's client and
  prefix recorded on it (``client_id``, ``api_key_prefix``) — a partner system acting for a user.
"""

from __future__ import annotations

import dataclasses

from starlette.datastructures import Headers

from sales_graph.auth.api_keys import ApiKeyVerifier
from sales_graph.auth.compact import read_compact, unverified_issuer
from sales_graph.auth.external import (
    ExternalIdentity,
    ExternalIdentityProvider,
    build_external_provider,
)
from sales_graph.auth.principal import Principal
from sales_graph.auth.tokens import TokenIssuer
from sales_graph.db.engine import Database
from sales_graph.db.repositories import users
from sales_graph.errors import Unauthorized
from sales_graph.settings import AuthSettings


class Authenticator:
    def __init__(
        self,
        tokens: TokenIssuer,
        db: Database,
        *,
        api_keys: ApiKeyVerifier,
        external: ExternalIdentityProvider | None = None,
    ) -> None:
        self.tokens = tokens
        self.api_keys = api_keys
        self.external = external
        self._db = db

    async def aclose(self) -> None:
        if self.external is not None:
            await self.external.aclose()

    async def authenticate(self, headers: Headers) -> Principal | None:
        """None for an anonymous request; :class:`Unauthorized` for any bad credential."""
        authorization = headers.getlist("authorization")
        api_keys = headers.getlist("x-api-key")
        if len(authorization) > 1 or len(api_keys) > 1:
            raise Unauthorized("Send each credential header once")
        principal = await self._bearer(authorization[0]) if authorization else None
        if not api_keys:
            return principal
        key_principal = await self.api_keys.verify(api_keys[0])
        if principal is None:
            return key_principal
        return dataclasses.replace(
            principal,
            client_id=key_principal.client_id,
            api_key_prefix=key_principal.api_key_prefix,
        )

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
            exc.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            raise

    async def _verify(self, token: str) -> Principal:
        compact = read_compact(token)
        if self.external is not None and unverified_issuer(compact) == self.external.issuer:
            return await self._user_for(await self.external.verify(compact))
        return self.tokens.verify(token)

    async def _user_for(self, identity: ExternalIdentity) -> Principal:
        """The provider's user is ours by email: the one attribute both directories share."""
        if identity.email is None:
            raise Unauthorized("The token names no verified email address")
        async with self._db.session() as session:
            user = await users.get_by_email(session, identity.email)
        if user is None or not user.is_active:
            raise Unauthorized("No active user has this token's email address")
        return Principal(
            subject=str(user.id),
            user_id=user.id,
            role=identity.role,
            scopes=identity.scopes,
            client_id=identity.client_id,
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
