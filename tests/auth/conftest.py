"""A gateway with adjustable auth settings, hand-made tokens, and the 401 envelope check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, Key, RSAKey

from sales_graph.app import create_app
from sales_graph.db.models import User
from sales_graph.settings import AuthSettings, RateLimitSettings
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

ME = "{ me { id role } }"


@asynccontextmanager
async def open_gateway(database_url: str, tmp_path: Path, **auth: Any) -> AsyncIterator[Gateway]:
    """Like ``tests.graphql``'s gateway, with ``AuthSettings`` fields overridden."""
    org = await seeded_org(database_url)
    # Rate limits as configured: the throttling of failed authentications is under test here.
    settings = gateway_settings(
        tmp_path, database_url, auth=AuthSettings(**auth), rate_limit=RateLimitSettings()
    )
    app = create_app(settings)
    async with app_client(app) as client:
        yield Gateway(client, app, org, database_url.split(":")[0].split("+")[0])


@pytest.fixture
async def gateway(fresh_database: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with open_gateway(fresh_database, tmp_path) as gw:
        yield gw


# ---------------------------------------------------------------- tokens made by hand


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{segment(header)}.{segment(claims)}"


def sign_es256(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    """A valid ES256 signature over whatever header we like (JOSE's raw r||s form)."""
    assert isinstance(key, ECKey)
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    signing_input = unsigned(header, claims)
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def sign_rs256(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    assert isinstance(key, RSAKey)
    private = key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    signing_input = unsigned(header, claims)
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = unsigned(header, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def claims_for(gateway: Gateway, user: User, **overrides: Any) -> dict[str, Any]:
    """What our issuer would put in a user's token; ``None`` values drop the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": gateway.runtime.tokens.issuer,
        "aud": gateway.runtime.tokens.audience,
        "sub": str(user.id),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "roles": [user.role],
        "scope": "",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def our_key(gateway: Gateway) -> Key:
    return gateway.runtime.tokens.keys.key_set.keys[-1]


def our_header(gateway: Gateway, **overrides: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "ES256", "kid": gateway.runtime.tokens.keys.active_kid}
    header.update(overrides)
    return {k: v for k, v in header.items() if v is not None}


# ---------------------------------------------------------------- requests and checks


async def graphql(
    gateway: Gateway, query: str = ME, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await gateway.client.post("/graphql", json={"query": query}, headers=headers or {})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response) -> dict[str, Any]:
    """The spec's envelope with UNAUTHORIZED, and a challenge saying how to authenticate."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["code"] == "UNAUTHORIZED"
    assert error["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"]
    return error
