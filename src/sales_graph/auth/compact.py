"""Strict checks of a compact JWS before and around the signature check (joserfc).

A JWT library verifies what it is asked to verify; the attacks on JWTs are about what it is
*not* asked: ``alg: none``, HS256 keyed with a public key, a token naming its own key
(``jwk``/``jku``/``x5u``/``x5c``), ``crit`` extensions we do not understand, a missing ``kid``
that makes a library try every key. So the header is read and judged here first, the key is
chosen by us from ``kid`` and must fit ``alg``, and only then does joserfc check the signature
with exactly that key and that algorithm.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from sales_graph.errors import Unauthorized

MAX_TOKEN_LENGTH = 8192
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+\Z")
# A token must not tell us which key to trust.
_KEY_CARRYING_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c"})
# Extensions that change how the token is processed; we implement none of them.
_UNSUPPORTED_HEADERS = frozenset({"crit", "b64", "zip", "enc"})
_ACCEPTED_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class CompactToken:
    """A parsed token. ``claims`` are untrusted until :func:`verify_signature` passed."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def alg(self) -> str:
        return str(self.header["alg"])


def _reject(message: str) -> Unauthorized:
    return Unauthorized(message)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _json_object(segment: str) -> dict[str, Any]:
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    value = json.loads(raw, object_pairs_hook=_no_duplicates)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def read_compact(token: str) -> CompactToken:
    """Parses and judges the header; raises :class:`Unauthorized` for anything unusual."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _reject("Token too long")
    parts = token.split(".")
    if len(parts) != 3 or not parts[2]:
        raise _reject("Malformed token")
    try:
        header, claims = _json_object(parts[0]), _json_object(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise _reject("Malformed token") from exc
    if _KEY_CARRYING_HEADERS & header.keys():
        raise _reject("Tokens carrying their own key are not accepted")
    if _UNSUPPORTED_HEADERS & header.keys():
        raise _reject(
            "Unsupported token header: " + ", ".join(sorted(_UNSUPPORTED_HEADERS & header.keys()))
        )
    if not isinstance(header.get("alg"), str):
        raise _reject("Token header lacks 'alg'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _reject("Token header lacks 'kid'")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES):
        raise _reject("Unsupported token type")
    return CompactToken(token, header, claims)


def check_algorithm(token: CompactToken, algorithms: Collection[str]) -> None:
    if token.alg not in algorithms:
        raise _reject(f"Signing algorithm '{token.alg}' is not accepted")


def _key_fits(key: Key, alg: str) -> bool:
    if key.alg is not None and key.alg != alg:
        return False
    if alg == "ES256":
        return isinstance(key, ECKey) and key.get("crv") == "P-256"
    if alg == "RS256":
        return isinstance(key, RSAKey) and key.public_key.key_size >= _MIN_RSA_BITS
    return False


def verify_signature(token: CompactToken, key: Key) -> None:
    """The signature with exactly this key and the token's (already accepted) algorithm."""
    if not _key_fits(key, token.alg):
        raise _reject("Signing key does not fit the token's algorithm")
    try:
        jws.deserialize_compact(token.raw, key, algorithms=[token.alg])
    except (JoseError, ValueError, TypeError) as exc:
        raise _reject("Invalid token signature") from exc


def validate_claims(token: CompactToken, registry: JWTClaimsRegistry) -> None:
    try:
        registry.validate(token.claims)
    except ExpiredTokenError as exc:
        raise _reject("Token expired") from exc
    except JoseError as exc:
        raise _reject(f"Token rejected: {exc.description}") from exc
    except (ValueError, TypeError) as exc:
        raise _reject("Token rejected: invalid claim") from exc


def unverified_issuer(token: CompactToken) -> str | None:
    """Only to choose which verifier to use; that verifier then checks ``iss`` for real."""
    issuer = token.claims.get("iss")
    return issuer if isinstance(issuer, str) else None
