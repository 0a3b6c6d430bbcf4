"""Tokens of an external identity provider (OIDC/OAuth2), verified against its JWKS.

The key set is fetched over HTTP and kept for ``max_age_s``. A ``kid`` we do not know usually
means the provider rotated its keys, so it refreshes the set once; an attacker sending random
``kid`` values must not turn us into a load generator against the provider, so such refreshes
happen at most once per ``miss_refresh_interval_s``. When the provider is down, the keys we
already have keep working.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey, import_key
from joserfc.jwt import JWTClaimsRegistry

from sales_graph.auth.compact import (
    CompactToken,
    check_algorithm,
    validate_claims,
    verify_signature,
)
from sales_graph.domain import Role
from sales_graph.errors import ServiceUnavailable, Unauthorized
from sales_graph.logs import get_logger

EXTERNAL_ALGORITHMS = ("RS256", "ES256")
_MAX_JWKS_BYTES = 512 * 1024
# When a token carries several of our roles, the strongest one applies.
_ROLE_ORDER = (Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP)

_log = get_logger("sales_graph.auth.external")


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    subject: str
    email: str | None
    role: Role | None
    scopes: frozenset[str]
    client_id: str | None


@dataclass(eq=False)
class RemoteKeySet:
    url: str
    http: httpx.AsyncClient
    _: KW_ONLY
    max_age_s: float
    miss_refresh_interval_s: float
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, Key] = field(default_factory=dict, init=False)
    _next_refresh_at: float | None = field(default=None, init=False)  # None: never loaded
    _last_miss_refresh_at: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(self, kid: str) -> Key | None:
        if self._next_refresh_at is None or self.clock() >= self._next_refresh_at:
            async with self._lock:
                if self._next_refresh_at is None or self.clock() >= self._next_refresh_at:
                    await self._refresh()
        if kid not in self._keys:
            async with self._lock:
                now = self.clock()
                last = self._last_miss_refresh_at
                if kid not in self._keys and (
                    last is None or now - last >= self.miss_refresh_interval_s
                ):
                    self._last_miss_refresh_at = now
                    await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        try:
            self._keys = await self._fetch()
            self._next_refresh_at = self.clock() + self.max_age_s
            _log.info("auth.external_jwks_loaded", url=self.url, kids=sorted(self._keys))
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # Keep what we have; try again after the miss interval, not on every request.
            self._next_refresh_at = self.clock() + self.miss_refresh_interval_s
            _log.warning("auth.external_jwks_failed", url=self.url, error=repr(exc))
            if not self._keys:
                raise ServiceUnavailable("The identity provider's keys are unavailable") from exc

    async def _fetch(self) -> dict[str, Key]:
        response = await self.http.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS document too large")
        document: Any = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str, Key] = {}
        for entry in document["keys"]:
            key = _signing_key(entry)
            if key is not None and key.kid is not None:
                keys[key.kid] = key
        return keys


def _signing_key(entry: object) -> Key | None:
    """Public RSA/EC signature keys with a ``kid``; anything else in the set is ignored."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
        return None
    if entry.get("kty") not in ("RSA", "EC") or entry.get("use", "sig") != "sig":
        return None
    public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    try:
        key = import_key(public)
    except (JoseError, ValueError, TypeError):
        return None
    return key if isinstance(key, (RSAKey, ECKey)) else None


def _claim_at(claims: dict[str, Any], path: str) -> object:
    """A claim by name, or by dotted path (``realm_access.roles`` in Keycloak)."""
    if path in claims:
        return claims[path]
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


class ExternalIdentityProvider:
    def __init__(
        self,
        keys: RemoteKeySet,
        *,
        issuer: str,
        audience: str,
        roles_claim: str,
        email_claim: str = "email",
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self._roles_claim = roles_claim
        self._email_claim = email_claim
        self._claims = JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        )

    async def aclose(self) -> None:
        await self.keys.aclose()

    async def verify(self, token: CompactToken) -> ExternalIdentity:
        check_algorithm(token, EXTERNAL_ALGORITHMS)
        key = await self.keys.get(token.kid)
        if key is None:
            raise Unauthorized("Unknown signing key")
        verify_signature(token, key)
        validate_claims(token, self._claims)
        claims = token.claims
        granted = set(_strings(_claim_at(claims, self._roles_claim)))
        role = next((r for r in _ROLE_ORDER if r.value in granted), None)
        email = claims.get(self._email_claim)
        # A provider that says the address is unverified does not get to name our user by it.
        if not isinstance(email, str) or claims.get("email_verified") is False:
            email = None
        client_id = claims.get("client_id") or claims.get("azp")
        return ExternalIdentity(
            subject=str(claims["sub"]),
            email=email.strip().lower() if email else None,
            role=role,
            scopes=frozenset(_strings(claims.get("scope")) or _strings(claims.get("scp"))),
            client_id=client_id if isinstance(client_id, str) else None,
        )


def build_external_provider(
    *,
    jwks_url: str,
    issuer: str,
    audience: str,
    roles_claim: str,
    email_claim: str,
    timeout_s: float,
    max_age_s: float,
    miss_refresh_interval_s: float,
) -> ExternalIdentityProvider:
    """The provider with the HTTP client it owns (``aclose`` releases it)."""
    url = httpx.URL(jwks_url)  # a typo in the URL fails at start-up, not on the first token
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"auth.external_jwks_url is not an HTTP(S) URL: {jwks_url}")
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)
    keys = RemoteKeySet(
        jwks_url, http, max_age_s=max_age_s, miss_refresh_interval_s=miss_refresh_interval_s
    )
    return ExternalIdentityProvider(
        keys, issuer=issuer, audience=audience, roles_claim=roles_claim, email_claim=email_claim
    )
