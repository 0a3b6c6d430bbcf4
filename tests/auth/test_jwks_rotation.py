"""``/.well-known/jwks.json`` and key rotation: old tokens keep working through a roll-over."""

from __future__ import annotations

import pytest

from sales_graph.auth.admin import rotate_signing_keys
from sales_graph.auth.keys import SigningKeys
from tests.auth.conftest import ME, assert_unauthorized, bearer, graphql
from tests.graphql.conftest import Gateway

_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


async def _jwks(gateway: Gateway) -> list[dict[str, str]]:
    response = await gateway.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys: list[dict[str, str]] = response.json()["keys"]
    for key in keys:
        assert not _PRIVATE_MEMBERS & key.keys()
        assert key["kty"] == "EC"
        assert key["alg"] == "ES256"
    return keys


async def test_jwks_lists_the_active_public_key_without_credentials(gateway: Gateway) -> None:
    keys = await _jwks(gateway)
    assert [key["kid"] for key in keys] == [gateway.runtime.tokens.keys.active_kid]


async def test_rotation_keeps_the_previous_key_valid(gateway: Gateway) -> None:
    old_kid = gateway.runtime.tokens.keys.active_kid
    old_token = gateway.token(gateway.org.m1)

    kids = rotate_signing_keys(gateway.runtime.settings)

    assert kids[0] == old_kid
    assert len(kids) == 2
    # The running gateway notices the rewritten key file without a restart.
    assert [key["kid"] for key in await _jwks(gateway)] == kids
    old = await graphql(gateway, ME, headers=bearer(old_token))
    assert old.json()["data"]["me"]["id"] == str(gateway.org.m1.id)

    new_token = gateway.token(gateway.org.m1)
    assert new_token.split(".")[0] != old_token.split(".")[0]
    assert gateway.runtime.tokens.keys.active_kid == kids[1]
    new = await graphql(gateway, ME, headers=bearer(new_token))
    assert new.json()["data"]["me"]["id"] == str(gateway.org.m1.id)


async def test_a_second_rotation_retires_the_oldest_key(gateway: Gateway) -> None:
    first_token = gateway.token(gateway.org.m1)
    rotate_signing_keys(gateway.runtime.settings)
    kids = rotate_signing_keys(gateway.runtime.settings)
    assert [key["kid"] for key in await _jwks(gateway)] == kids
    assert_unauthorized(await graphql(gateway, ME, headers=bearer(first_token)))


@pytest.mark.parametrize("fresh_database", ["sqlite"], indirect=True)
async def test_a_token_of_a_key_rotated_by_another_process_is_accepted(gateway: Gateway) -> None:
    """Another worker rotated and signs with the new key: we find it on disk by its kid."""
    other = SigningKeys.load_or_create(gateway.runtime.settings.effective_signing_keys_file)
    other.rotate()
    other.save(gateway.runtime.settings.effective_signing_keys_file)
    from sales_graph.auth.tokens import TokenIssuer

    issuer = gateway.runtime.tokens
    token = TokenIssuer(other, issuer=issuer.issuer, audience=issuer.audience, ttl_s=60).issue(
        str(gateway.org.r2.id), roles=["sales_rep"]
    )
    response = await graphql(gateway, ME, headers=bearer(token))
    assert response.json()["data"]["me"]["id"] == str(gateway.org.r2.id)
