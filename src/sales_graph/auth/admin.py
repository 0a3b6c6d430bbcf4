"""Operator tasks behind ``sales-graph client|apikey|keys``: what ``ops.py`` is for the rest.

Each opens its own database (or key file) from the settings, does one thing, and returns what
the CLI prints. Secrets are in the return value exactly once; nothing here logs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.auth.api_keys import is_prefix
from sales_graph.auth.clients import issue_api_key, register_client, revoke_api_key
from sales_graph.auth.keys import SigningKeys
from sales_graph.db.engine import Database
from sales_graph.db.models import ApiClient, ApiKey
from sales_graph.db.repositories import api_clients, users
from sales_graph.domain.permissions import ScopeError, format_scopes, parse_scopes
from sales_graph.domain.scope import AccessScope
from sales_graph.settings import Settings
from sales_graph.timeutil import utcnow


class AdminError(Exception):
    """A mistake in the operator's input; the CLI prints it and exits with status 1."""


@dataclass(frozen=True, slots=True)
class CreatedClient:
    client_id: str
    client_secret: str
    scopes: str
    user_email: str | None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    api_key: str
    prefix: str
    client_id: str
    scopes: str
    expires_at: datetime | None


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    db = Database(settings.effective_database_url)
    try:
        async with db.session() as session:
            yield session
    finally:
        await db.dispose()


def _scopes(text: str) -> frozenset[str]:
    try:
        scopes = parse_scopes(text)
    except ScopeError as exc:
        raise AdminError(str(exc)) from exc
    if not scopes:
        raise AdminError("name at least one scope (--scopes)")
    return scopes


# A key lives at most ten years: beyond that a date is no longer a lifetime.
MAX_KEY_DAYS = 3650


async def create_client(
    settings: Settings, *, name: str, user_email: str | None, scopes: str
) -> CreatedClient:
    """An OAuth client; with ``user_email`` its tokens act as that user (a front end)."""
    granted = _scopes(scopes)
    async with _session(settings) as session:
        system = AccessScope.as_system("command line")
        user = await users.get_by_email(session, system, user_email) if user_email else None
        if user_email and (user is None or not user.is_active):
            raise AdminError(f"no active user with email {user_email}")
        registered = await register_client(session, name=name, scopes=granted, user=user)
    return CreatedClient(
        registered.client.client_id,
        registered.secret,
        format_scopes(granted),
        user.email if user else None,
    )


async def create_api_key(
    settings: Settings,
    *,
    name: str,
    scopes: str,
    expires_in_days: int | None = None,
    client_id: str | None = None,
) -> CreatedApiKey:
    """A key of an existing client (within its scopes), or of a new partner client."""
    granted = _scopes(scopes)
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_KEY_DAYS:
        raise AdminError(f"--expires-in-days must be 1 to {MAX_KEY_DAYS}")
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    async with _session(settings) as session:
        client = await api_clients.get_client(session, client_id) if client_id else None
        if client_id and (client is None or client.revoked_at is not None):
            raise AdminError(f"no active client {client_id}")
        if client is not None and not granted <= set(client.scopes):
            extra = format_scopes(granted - set(client.scopes))
            raise AdminError(f"client {client_id} does not hold: {extra}")
        issued = await issue_api_key(
            session, name=name, scopes=granted, expires_at=expires_at, client=client
        )
    return CreatedApiKey(
        issued.plaintext,
        issued.key.prefix,
        issued.client.client_id,
        format_scopes(granted),
        expires_at,
    )


async def revoke(settings: Settings, prefix: str) -> None:
    """Revokes the key whose prefix (``sgk_`` and 12 hex digits) is given."""
    prefix = prefix.strip()[:16]
    if not is_prefix(prefix):
        raise AdminError("give the key's prefix: sgk_ and 12 hex digits")
    async with _session(settings) as session:
        if not await revoke_api_key(session, prefix):
            raise AdminError(f"no active API key with prefix {prefix}")


async def revoke_client(settings: Settings, client_id: str) -> None:
    """Revokes an OAuth client: no new tokens, and its tokens already issued and its API keys
    are refused at once (authentication reads the client at every request)."""
    client_id = client_id.strip()
    async with _session(settings) as session:
        if not await api_clients.revoke_client(session, client_id, utcnow()):
            raise AdminError(f"no active client {client_id}")


@dataclass(frozen=True, slots=True)
class ClientRow:
    client_id: str
    name: str
    scopes: str
    acts_as_user: bool
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, c: ApiClient) -> ClientRow:
        scopes = format_scopes(frozenset(c.scopes))
        return cls(c.client_id, c.name, scopes, c.user_id is not None, c.created_at, c.revoked_at)


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    prefix: str
    name: str
    client_id: str
    scopes: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey, c: ApiClient) -> ApiKeyRow:
        """A key; revoked when it or its client is."""
        scopes = format_scopes(frozenset(k.scopes))
        revoked_at = k.revoked_at or c.revoked_at
        return cls(
            k.prefix,
            k.name,
            c.client_id,
            scopes,
            k.created_at,
            k.expires_at,
            revoked_at,
            k.last_used_at,
        )


async def list_clients(settings: Settings) -> list[ClientRow]:
    """Every OAuth client, without secrets."""
    async with _session(settings) as session:
        return [ClientRow.of(client) for client in await api_clients.list_clients(session)]


async def list_api_keys(settings: Settings) -> list[ApiKeyRow]:
    """Every API key by its prefix, without secrets."""
    async with _session(settings) as session:
        return [ApiKeyRow.of(key, client) for key, client in await api_clients.list_keys(session)]


def rotate_signing_keys(settings: Settings) -> list[str]:
    """Adds a signing key; the previous one keeps verifying. Returns the kids, newest last.

    Running servers notice the rewritten file (see ``SigningKeys.reload_if_changed``).
    Rotate at most once per token lifetime: a second rotation drops the oldest key.
    """
    path = settings.effective_signing_keys_file
    keys = SigningKeys.load_or_create(path)
    keys.rotate()
    keys.save(path)
    return [str(key.kid) for key in keys.key_set.keys]
