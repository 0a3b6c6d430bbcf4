"""JWTs we issue and verify (joserfc)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from sales_graph.auth.keys import ALGORITHM, SigningKeys
from sales_graph.auth.principal import Principal
from sales_graph.domain import Role
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
        header = {"alg": ALGORITHM, "kid": self.keys.active_kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.keys.key_set)

    def verify(self, token: str) -> Principal:
        try:
            decoded = jwt.decode(token, self.keys.key_set, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized("Invalid or expired token") from exc
        claims = decoded.claims
        roles = [r for r in claims.get("roles") or [] if r in Role._value2member_map_]
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise Unauthorized("Invalid token subject") from exc
        return Principal(
            subject=str(claims["sub"]),
            user_id=user_id,
            role=Role(roles[0]) if roles else None,
            scopes=frozenset(str(claims.get("scope") or "").split()),
        )
