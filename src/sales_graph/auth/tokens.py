"""JWTs we issue and verify (joserfc, behind the strict checks of ``auth.compact``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from joserfc import jwt

from sales_graph.auth.compact import (
    check_algorithm,
    read_compact,
    validate_claims,
    verify_signature,
)
from sales_graph.auth.keys import ALGORITHM, SigningKeys
from sales_graph.domain import Role
from sales_graph.domain.principal import PARTNER_SUBJECT_PREFIX, Principal
from sales_graph.errors import Unauthorized


class TokenIssuer:
    def __init__(self, keys: SigningKeys, *, issuer: str, audience: str, ttl_s: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._claims = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )

    def issue(
        self,
        subject: str,
        *,
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        ttl_s: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + (ttl_s or self.ttl_s),
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            "scope": " ".join(scopes),
            **(extra or {}),
        }
        self.keys.reload_if_changed()
        header = {"alg": ALGORITHM, "kid": self.keys.active_kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.keys.key_set)

    def verify(self, token: str) -> Principal:
        """Our own tokens only: ES256, a ``kid`` of our key set, our ``iss`` and ``aud``."""
        compact = read_compact(token)
        check_algorithm(compact, (ALGORITHM,))
        key = self.keys.find(compact.kid)
        if key is None:
            raise Unauthorized("Unknown signing key")
        verify_signature(compact, key)
        validate_claims(compact, self._claims)
        return principal_from_claims(compact.claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """``sub`` is a user id, or ``client:<client_id>`` for a partner client."""
    subject = claims.get("sub")
    scope = claims.get("scope")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    client_id = claims.get("client_id")
    client_id = client_id if isinstance(client_id, str) and client_id else None
    if isinstance(subject, str) and subject.startswith(PARTNER_SUBJECT_PREFIX):
        partner = subject.removeprefix(PARTNER_SUBJECT_PREFIX)
        if not partner:
            raise Unauthorized("Invalid token subject")
        return Principal.partner(partner, scopes)
    try:
        user_id = uuid.UUID(str(subject))
    except ValueError as exc:
        raise Unauthorized("Invalid token subject") from exc
    raw_roles = claims.get("roles")
    roles = (
        [r for r in raw_roles if isinstance(r, str) and r in Role._value2member_map_]
        if isinstance(raw_roles, list)
        else []
    )
    # A user's token obtained through a client carries that client's scopes, which then apply.
    return Principal(
        subject=str(subject),
        user_id=user_id,
        role=Role(roles[0]) if roles else None,
        scopes=scopes,
        client_id=client_id,
        scoped=client_id is not None,
    )
