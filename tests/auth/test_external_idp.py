"""Tokens of an external identity provider, its JWKS served over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sales_graph.db.models import User
from tests.auth.conftest import ME, assert_unauthorized, bearer, graphql, open_gateway, sign_rs256
from tests.gateways import live_server
from tests.graphql.conftest import Gateway

ISSUER = "https://idp.example.test/realms/sales"
AUDIENCE = "sales-graph-api"


def _rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class FakeIdP:
    """Publishes ``keys`` at ``/jwks`` and counts how often it is asked."""

    keys: list[RSAKey] = field(default_factory=lambda: [_rsa_key("idp-1")])
    requests: int = 0
    url: str = ""

    def app(self) -> Starlette:
        async def jwks(_request: Request) -> Response:
            self.requests += 1
            return JSONResponse({"keys": [key.as_dict(private=False) for key in self.keys]})

        return Starlette(routes=[Route("/jwks", jwks)])

    def token(self, user: User, *, key: RSAKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": [AUDIENCE, "account"],
            "sub": f"idp|{user.email}",
            "azp": "pipeline-board",
            "iat": now,
            "exp": now + 300,
            "email": user.email.upper(),
            "email_verified": True,
            "realm_access": {"roles": ["offline_access", "sales_manager"]},
            # Our own roles claim name, which must NOT be used for this issuer.
            "roles": ["admin"],
        }
        body.update(claims)
        return sign_rs256({"alg": "RS256", "kid": str(key.kid), "typ": "JWT"}, body, key)


@dataclass
class World:
    idp: FakeIdP
    gateway: Gateway


@pytest.fixture
async def world(fresh_database: str, tmp_path: Path) -> AsyncIterator[World]:
    idp = FakeIdP()
    async with live_server(idp.app()) as http:
        idp.url = str(http.base_url.join("/jwks"))
        async with open_gateway(
            fresh_database,
            tmp_path,
            external_jwks_url=idp.url,
            external_issuer=ISSUER,
            external_audience=AUDIENCE,
            external_roles_claim="realm_access.roles",
        ) as gateway:
            yield World(idp, gateway)


async def test_external_token_is_accepted_with_roles_from_the_configured_claim(
    world: World,
) -> None:
    gateway, idp = world.gateway, world.idp
    token = idp.token(gateway.org.r2)
    response = await graphql(gateway, ME, headers=bearer(token))
    # Mapped to our user by email; the provider's role (sales_manager) is bounded by what
    # our directory holds for r2 now (sales_rep).
    assert response.json()["data"]["me"]["id"] == str(gateway.org.r2.id)
    principal = await gateway.runtime.authenticator.authenticate(Headers(bearer(token)))
    assert principal is not None
    assert principal.user_id == gateway.org.r2.id
    assert principal.role is not None
    assert principal.role.value == "sales_rep"
    manager = idp.token(gateway.org.m1, realm_access={"roles": ["sales_rep"]})
    weaker = await gateway.runtime.authenticator.authenticate(Headers(bearer(manager)))
    assert weaker is not None
    assert weaker.role is not None
    assert weaker.role.value == "sales_rep"
    assert principal.client_id == "pipeline-board"
    assert idp.requests == 1
    # Cached: a second call does not fetch again.
    await graphql(gateway, ME, headers=bearer(token))
    assert idp.requests == 1


async def test_unknown_kid_refreshes_once_then_fails(world: World) -> None:
    gateway, idp = world.gateway, world.idp
    assert (
        await graphql(gateway, ME, headers=bearer(idp.token(gateway.org.m1)))
    ).status_code == 200
    assert idp.requests == 1

    stranger = idp.token(gateway.org.m1, key=_rsa_key("not-published"))
    error = assert_unauthorized(await graphql(gateway, ME, headers=bearer(stranger)))
    assert error["message"] == "Unknown signing key"
    assert idp.requests == 2
    # Within the refresh interval another unknown kid does not reach the provider again.
    assert_unauthorized(await graphql(gateway, ME, headers=bearer(stranger)))
    assert idp.requests == 2


async def test_a_key_the_provider_rotated_in_is_found_by_one_refresh(world: World) -> None:
    gateway, idp = world.gateway, world.idp
    assert (
        await graphql(gateway, ME, headers=bearer(idp.token(gateway.org.m1)))
    ).status_code == 200
    new_key = _rsa_key("idp-2")
    idp.keys.append(new_key)
    response = await graphql(gateway, ME, headers=bearer(idp.token(gateway.org.m1, key=new_key)))
    assert response.json()["data"]["me"]["id"] == str(gateway.org.m1.id)
    assert idp.requests == 2


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "'aud'"),
        ({"exp": int(time.time()) - 3600}, "Token expired"),
        ({"email": "nobody@example.com"}, "No active user"),
        ({"email_verified": False}, "no verified email"),
        ({"email": None}, "no verified email"),
    ],
)
async def test_external_token_rejections(world: World, claims: dict[str, Any], reason: str) -> None:
    token = world.idp.token(world.gateway.org.m1, **claims)
    error = assert_unauthorized(await graphql(world.gateway, ME, headers=bearer(token)))
    assert reason in error["message"]


async def test_external_token_must_not_use_hs256_or_embed_a_key(world: World) -> None:
    idp, gateway = world.idp, world.gateway
    signed = idp.token(gateway.org.m1)
    header = {"alg": "RS256", "kid": "idp-1", "jwk": idp.keys[0].as_dict(private=False)}
    from tests.auth.conftest import payload_of

    embedded = sign_rs256(header, payload_of(signed), idp.keys[0])
    error = assert_unauthorized(await graphql(gateway, ME, headers=bearer(embedded)))
    assert "own key" in error["message"]


async def test_a_role_outside_ours_leaves_the_user_without_access(world: World) -> None:
    """Authenticated, but no role of ours: FORBIDDEN on what needs a role."""
    token = world.idp.token(world.gateway.org.m1, realm_access={"roles": ["viewer"]})
    response = await graphql(world.gateway, ME, headers=bearer(token))
    assert response.status_code == 200
    # ``me`` only needs a user; a list needs a role.
    leads = await graphql(world.gateway, "{ leads { totalCount } }", headers=bearer(token))
    assert leads.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_our_own_tokens_still_work_beside_the_provider(world: World) -> None:
    token = world.gateway.token(world.gateway.org.admin)
    response = await graphql(world.gateway, ME, headers=bearer(token))
    assert response.json()["data"]["me"]["id"] == str(world.gateway.org.admin.id)
    assert world.idp.requests == 0
