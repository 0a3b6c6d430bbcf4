"""API keys in ``X-API-Key``: created once, hashed, scoped, revocable, with last-used time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.datastructures import Headers

from sales_graph.auth.admin import AdminError, create_api_key, create_client, revoke
from sales_graph.auth.api_keys import split_api_key
from sales_graph.auth.hashing import hash_api_key_secret
from sales_graph.db.models import ApiKey
from sales_graph.db.repositories import api_clients
from sales_graph.timeutil import utcnow
from tests.auth.conftest import ME, assert_unauthorized, bearer, graphql
from tests.graphql.conftest import Gateway

LEADS = "{ leads { totalCount } }"


def api_key(value: str) -> dict[str, str]:
    return {"X-API-Key": value}


async def _key_row(gateway: Gateway, prefix: str) -> ApiKey:
    async with gateway.runtime.db.session() as session:
        found = await api_clients.key_with_client(session, prefix)
    assert found is not None
    return found[0]


async def test_a_key_authenticates_a_partner_and_records_its_use(gateway: Gateway) -> None:
    created = await create_api_key(
        gateway.runtime.settings, name="webinar tool", scopes="leads:write leads:read"
    )
    assert created.api_key.startswith(created.prefix + "_")
    assert created.scopes == "leads:read leads:write"
    stored = await _key_row(gateway, created.prefix)
    # Only the hash of the secret part is kept.
    parts = split_api_key(created.api_key)
    assert parts is not None
    assert stored.key_hash == hash_api_key_secret(parts[1])
    assert parts[1] not in stored.key_hash
    assert stored.last_used_at is None

    response = await graphql(gateway, LEADS, headers=api_key(created.api_key))
    assert response.json() == {"data": {"leads": {"totalCount": 0}}}
    first_use = (await _key_row(gateway, created.prefix)).last_used_at
    assert first_use is not None
    assert abs((utcnow() - first_use).total_seconds()) < 30

    principal = await gateway.runtime.authenticator.authenticate(Headers(api_key(created.api_key)))
    assert principal is not None
    assert principal.is_partner
    assert principal.client_id == created.client_id
    assert principal.api_key_prefix == created.prefix
    assert principal.scopes == {"leads:read", "leads:write"}


async def test_last_used_is_written_at_most_once_per_interval(gateway: Gateway) -> None:
    created = await create_api_key(gateway.runtime.settings, name="k", scopes="leads:read")
    await graphql(gateway, LEADS, headers=api_key(created.api_key))
    first_use = (await _key_row(gateway, created.prefix)).last_used_at
    await graphql(gateway, LEADS, headers=api_key(created.api_key))
    assert (await _key_row(gateway, created.prefix)).last_used_at == first_use

    # As if the last recorded use were two minutes old: the next use is written.
    async with gateway.runtime.db.session() as session:
        row = await session.get(ApiKey, (await _key_row(gateway, created.prefix)).id)
        assert row is not None
        assert first_use is not None
        row.last_used_at = first_use - timedelta(minutes=2)
    await graphql(gateway, LEADS, headers=api_key(created.api_key))
    later = (await _key_row(gateway, created.prefix)).last_used_at
    assert later is not None
    assert later >= first_use


async def test_a_revoked_key_is_unauthorized(gateway: Gateway) -> None:
    created = await create_api_key(gateway.runtime.settings, name="k", scopes="leads:read")
    assert (await graphql(gateway, LEADS, headers=api_key(created.api_key))).status_code == 200
    await revoke(gateway.runtime.settings, created.prefix)
    error = assert_unauthorized(await graphql(gateway, LEADS, headers=api_key(created.api_key)))
    assert error["message"] == "API key revoked"
    with pytest.raises(AdminError, match="no active API key"):
        await revoke(gateway.runtime.settings, created.prefix)


async def test_an_expired_key_is_unauthorized(gateway: Gateway) -> None:
    created = await create_api_key(
        gateway.runtime.settings, name="k", scopes="leads:read", expires_in_days=1
    )
    assert created.expires_at is not None
    async with gateway.runtime.db.session() as session:
        row = await session.get(ApiKey, (await _key_row(gateway, created.prefix)).id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    error = assert_unauthorized(await graphql(gateway, LEADS, headers=api_key(created.api_key)))
    assert error["message"] == "API key expired"


@pytest.mark.parametrize(
    "value",
    [
        "sgk_0123456789ab_" + "A" * 43,  # well formed, unknown
        "",
        "sgk_",
        "not-a-key",
        "sgk_0123456789ab_" + "A" * 42,
        "sgk_0123456789AB_" + "A" * 43,
        "Bearer sgk_0123456789ab_" + "A" * 43,
    ],
    ids=["unknown", "empty", "marker only", "garbage", "short", "upper-case prefix", "scheme"],
)
async def test_unknown_and_malformed_keys_are_unauthorized(gateway: Gateway, value: str) -> None:
    assert_unauthorized(await graphql(gateway, LEADS, headers=api_key(value)))


async def test_right_prefix_wrong_secret_is_unauthorized(gateway: Gateway) -> None:
    created = await create_api_key(gateway.runtime.settings, name="k", scopes="leads:read")
    forged = created.prefix + "_" + "B" * 43
    error = assert_unauthorized(await graphql(gateway, LEADS, headers=api_key(forged)))
    assert error["message"] == "Invalid API key"


async def test_both_credentials_must_be_valid(gateway: Gateway) -> None:
    created = await create_api_key(gateway.runtime.settings, name="k", scopes="leads:read")
    user_token = gateway.token(gateway.org.m1)
    bad_key = created.prefix + "_" + "B" * 43

    assert_unauthorized(await graphql(gateway, ME, headers=bearer(user_token) | api_key(bad_key)))
    assert_unauthorized(
        await graphql(gateway, ME, headers=bearer(user_token + "x") | api_key(created.api_key))
    )

    both = bearer(user_token) | api_key(created.api_key)
    response = await graphql(gateway, ME, headers=both)
    assert response.json()["data"]["me"]["id"] == str(gateway.org.m1.id)
    principal = await gateway.runtime.authenticator.authenticate(Headers(both))
    assert principal is not None
    assert principal.user_id == gateway.org.m1.id
    assert principal.client_id == created.client_id
    assert principal.api_key_prefix == created.prefix


async def test_a_key_of_an_existing_client_stays_within_its_scopes(gateway: Gateway) -> None:
    settings = gateway.runtime.settings
    client = await create_client(settings, name="crm sync", user_email=None, scopes="leads:read")
    with pytest.raises(AdminError, match="does not hold"):
        await create_api_key(
            settings, name="k", scopes="leads:read leads:write", client_id=client.client_id
        )
    created = await create_api_key(
        settings, name="k", scopes="leads:read", client_id=client.client_id
    )
    assert created.client_id == client.client_id
    with pytest.raises(AdminError, match="no active client"):
        await create_api_key(settings, name="k", scopes="leads:read", client_id="sgc_nope")
    with pytest.raises(AdminError, match="prefix"):
        await revoke(settings, "nope")
