"""The OAuth scope names a client (or an API key) can hold, in one place.

A user's own token holds every scope (their role decides); a partner client, and a client
bound to a user, hold the scopes they were granted, and ``AccessScope.require_scope`` checks
them. Each kind of record is read under one scope: ``db.visibility`` asks for it with the
record's visibility clause, so no read of that kind can skip it.
"""

from __future__ import annotations

import re

SCOPES: tuple[str, ...] = (
    "leads:read",
    "leads:write",
    "accounts:read",
    "opportunities:read",
    "opportunities:write",
    "territories:read",
    "territories:write",
    "forecasts:read",
    "forecasts:write",
    "quotas:read",
    "quotas:write",
    "users:read",
    "commissions:read",
    "webhooks:manage",
)
KNOWN_SCOPES: frozenset[str] = frozenset(SCOPES)

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+\Z")


class ScopeError(ValueError):
    """A scope string that is malformed or names a scope we do not define."""


def parse_scopes(text: str, *, known: frozenset[str] = KNOWN_SCOPES) -> frozenset[str]:
    """The scopes of a space-separated list; every one must be well formed and known."""
    tokens = text.split(" ")
    if any(not _SCOPE_TOKEN.match(token) for token in tokens if token):
        raise ScopeError("malformed scope list")
    scopes = frozenset(token for token in tokens if token)
    unknown = sorted(scopes - known)
    if unknown:
        raise ScopeError("unknown scope: " + " ".join(unknown))
    return scopes


def format_scopes(scopes: frozenset[str] | set[str]) -> str:
    """Scopes in a stable order (ours first, as listed), for tokens and responses."""
    order = {name: i for i, name in enumerate(SCOPES)}
    return " ".join(sorted(scopes, key=lambda s: (order.get(s, len(order)), s)))
