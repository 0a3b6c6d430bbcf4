"""OAuth clients and API keys as a service: register, authenticate, grant, issue, revoke.

Callers hand in a session and commit (the token endpoint, ``auth.admin``); no HTTP here.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.auth.api_keys import generate_api_key
from sales_graph.auth.hashing import hash_client_secret, verify_client_secret
from sales_graph.db.models import ApiClient, ApiKey, User
from sales_graph.db.repositories import api_clients, users
from sales_graph.domain.scope import AccessScope
from sales_graph.timeutil import utcnow

CLIENT_ID_MARKER = "sgc_"


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client: ApiClient
    # Shown once; only its hash is stored.
    secret: str


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: ApiKey
    client: ApiClient
    # Shown once; only the hash of its secret part is stored.
    plaintext: str


async def register_client(
    session: AsyncSession, *, name: str, scopes: frozenset[str], user: User | None
) -> RegisteredClient:
    secret = secrets.token_urlsafe(32)
    # scrypt is deliberately slow; keep it off the event loop.
    secret_hash = await asyncio.to_thread(hash_client_secret, secret)
    client = ApiClient(
        name=name,
        client_id=CLIENT_ID_MARKER + secrets.token_hex(8),
        client_secret_hash=secret_hash,
        user_id=user.id if user else None,
        scopes=sorted(scopes),
    )
    return RegisteredClient(await api_clients.add_client(session, client), secret)


async def authenticate_client(
    session: AsyncSession, client_id: str, secret: str
) -> ApiClient | None:
    """The client when the secret is right and it is not revoked. An id that does not exist
    costs no hash: guessed ids cannot make us spend scrypt (ids are 64 random bits, so how long
    the answer takes tells nothing worth knowing)."""
    client = await api_clients.get_client(session, client_id)
    if client is None:
        return None
    matches = await asyncio.to_thread(verify_client_secret, secret, client.client_secret_hash)
    if not matches or client.revoked_at is not None:
        return None
    return client


async def issue_api_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: frozenset[str],
    expires_at: datetime | None,
    client: ApiClient | None,
) -> IssuedApiKey:
    """A key of ``client``, or of a new partner client of its own (no secret, no user)."""
    if client is None:
        client = await api_clients.add_client(
            session,
            ApiClient(
                name=name,
                client_id=CLIENT_ID_MARKER + secrets.token_hex(8),
                scopes=sorted(scopes),
            ),
        )
    generated = generate_api_key()
    key = ApiKey(
        client_id=client.id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.secret_hash,
        scopes=sorted(scopes),
        expires_at=expires_at,
    )
    return IssuedApiKey(await api_clients.add_key(session, key), client, generated.key)


async def revoke_api_key(session: AsyncSession, prefix: str) -> bool:
    return await api_clients.revoke_key(session, prefix, utcnow())


async def client_user(session: AsyncSession, client: ApiClient) -> User | None:
    """The user a client acts for (None for a partner's client), read as the system: the token
    endpoint needs the user's role and active flag before anyone is authenticated."""
    if client.user_id is None:
        return None
    return await users.get(session, AccessScope.as_system("token issuance"), client.user_id)
