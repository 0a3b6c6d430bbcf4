"""API keys of partner systems (``X-API-Key``): their format, and checking one per request.

A key reads ``sgk_<12 hex>_<43 url-safe chars>``. The part up to the second underscore is the
prefix: stored in clear, unique, it finds the row and names the key in logs and in
``sales-graph apikey revoke``. The rest is 256 random bits, stored only as SHA-256.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sales_graph.auth.challenge import INVALID_API_KEY
from sales_graph.auth.hashing import hash_api_key_secret, verify_api_key_secret
from sales_graph.db.engine import Database
from sales_graph.db.repositories import api_clients
from sales_graph.domain.principal import Principal
from sales_graph.errors import Unauthorized
from sales_graph.logs import get_logger
from sales_graph.timeutil import utcnow

KEY_MARKER = "sgk_"
_KEY = re.compile(r"^(sgk_[0-9a-f]{12})_([A-Za-z0-9_-]{43})\Z")
_PREFIX = re.compile(r"^sgk_[0-9a-f]{12}\Z")
_CHALLENGE = {"WWW-Authenticate": INVALID_API_KEY}

_log = get_logger("sales_graph.auth.api_keys")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key: str
    prefix: str
    secret_hash: str


def generate_api_key() -> GeneratedKey:
    prefix = KEY_MARKER + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return GeneratedKey(f"{prefix}_{secret}", prefix, hash_api_key_secret(secret))


def split_api_key(value: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key, else None."""
    match = _KEY.match(value)
    return (match.group(1), match.group(2)) if match else None


def is_prefix(value: str) -> bool:
    return bool(_PREFIX.match(value))


def _invalid(message: str = "Invalid API key") -> Unauthorized:
    return Unauthorized(message, headers=dict(_CHALLENGE))


class ApiKeyVerifier:
    """Built once per process (``Runtime``); every check reads the row, so revocation is
    immediate. The last-used time is written at most once per ``last_used_interval_s``."""

    def __init__(
        self,
        db: Database,
        *,
        last_used_interval_s: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._interval = timedelta(seconds=last_used_interval_s)
        self._clock = clock

    async def verify(self, value: str) -> Principal:
        parts = split_api_key(value.strip())
        if parts is None:
            raise _invalid("Malformed API key")
        prefix, secret = parts
        now = self._clock()
        async with self._db.session() as session:
            found = await api_clients.key_with_client(session, prefix)
            # The hash is computed for unknown prefixes too: the answer takes as long.
            matches = verify_api_key_secret(secret, found[0].key_hash if found else "")
            if found is None or not matches:
                _log.info("auth.api_key_rejected", prefix=prefix, reason="unknown")
                raise _invalid()
            key, client = found
            if key.revoked_at is not None or client.revoked_at is not None:
                _log.info("auth.api_key_rejected", prefix=prefix, reason="revoked")
                raise _invalid("API key revoked")
            if key.expires_at is not None and key.expires_at <= now:
                _log.info("auth.api_key_rejected", prefix=prefix, reason="expired")
                raise _invalid("API key expired")
            if key.last_used_at is None or key.last_used_at <= now - self._interval:
                await api_clients.touch_key(
                    session, key.id, now, unless_used_after=now - self._interval
                )
        # A key never grants more than its client holds now.
        scopes = frozenset(key.scopes) & frozenset(client.scopes)
        return Principal.partner(client.client_id, scopes, api_key_prefix=key.prefix)
