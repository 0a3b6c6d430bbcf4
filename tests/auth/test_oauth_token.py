"""``POST /oauth/token``: the client credentials grant and OAuth's own error bodies."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from sales_graph.auth.admin import AdminError, CreatedClient, create_client
from sales_graph.db.models import User
from sales_graph.domain.principal import PARTNER_SUBJECT_PREFIX
from tests.auth.conftest import ME, bearer, graphql, payload_of
from tests.graphql.conftest import Gateway

FORM = {"content-type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def token(gateway: Gateway, data: dict[str, str], **headers: str) -> httpx.Response:
    return await gateway.client.post("/oauth/token", data=data, headers=headers)


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert response.headers["cache-control"] == "no-store"
    return body


@pytest.fixture
async def user_client(gateway: Gateway) -> CreatedClient:
    """A front end's client: its tokens act as the rep r1."""
    return await create_client(
        gateway.runtime.settings,
        name="pipeline board",
        user_email=gateway.org.r1.email,
        scopes="leads:read opportunities:read",
    )


@pytest.fixture
async def partner_client(gateway: Gateway) -> CreatedClient:
    return await create_client(
        gateway.runtime.settings,
        name="lead source",
        user_email=None,
        scopes="leads:read leads:write",
    )


async def test_basic_authentication_gets_a_user_token(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    response = await token(
        gateway,
        {"grant_type": "client_credentials"},
        **basic(user_client.client_id, user_client.client_secret),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == gateway.runtime.settings.auth.access_token_ttl_s
    assert body["scope"] == "leads:read opportunities:read"
    claims = payload_of(body["access_token"])
    assert claims["sub"] == str(gateway.org.r1.id)
    assert claims["roles"] == ["sales_rep"]
    assert claims["scope"] == "leads:read opportunities:read"
    assert claims["client_id"] == user_client.client_id

    me = await graphql(gateway, ME, headers=bearer(body["access_token"]))
    assert me.json()["data"]["me"] == {"id": str(gateway.org.r1.id), "role": "SALES_REP"}


async def test_form_authentication_gets_a_partner_token_with_the_asked_scope(
    gateway: Gateway, partner_client: CreatedClient
) -> None:
    response = await token(
        gateway,
        {
            "grant_type": "client_credentials",
            "client_id": partner_client.client_id,
            "client_secret": partner_client.client_secret,
            "scope": "leads:read",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "leads:read"
    claims = payload_of(body["access_token"])
    assert claims["sub"] == PARTNER_SUBJECT_PREFIX + partner_client.client_id
    assert claims["roles"] == []

    principal = gateway.runtime.tokens.verify(body["access_token"])
    assert principal.is_partner
    assert principal.client_id == partner_client.client_id
    assert principal.scopes == {"leads:read"}
    # A partner sees across the organisation (its scopes are checked per operation).
    leads = await graphql(gateway, "{ leads { totalCount } }", headers=bearer(body["access_token"]))
    assert leads.json() == {"data": {"leads": {"totalCount": 0}}}


async def test_basic_credentials_are_form_urlencoded_first(
    gateway: Gateway, partner_client: CreatedClient
) -> None:
    """RFC 6749 2.3.1: a client may encode id and secret before Basic; '-' and '_' survive."""
    from urllib.parse import quote_plus

    headers = basic(quote_plus(partner_client.client_id), quote_plus(partner_client.client_secret))
    response = await token(gateway, {"grant_type": "client_credentials"}, **headers)
    assert response.status_code == 200, response.text


async def test_wrong_secret_with_basic_is_401_with_a_challenge(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    response = await token(
        gateway, {"grant_type": "client_credentials"}, **basic(user_client.client_id, "wrong")
    )
    oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_wrong_secret_in_the_form_is_400(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    response = await token(
        gateway,
        {
            "grant_type": "client_credentials",
            "client_id": user_client.client_id,
            "client_secret": "wrong",
        },
    )
    oauth_error(response, 400, "invalid_client")
    assert "www-authenticate" not in response.headers


async def test_unknown_client_is_invalid_client(gateway: Gateway) -> None:
    response = await token(
        gateway, {"grant_type": "client_credentials"}, **basic("sgc_0000000000000000", "x")
    )
    oauth_error(response, 401, "invalid_client")


async def test_no_client_authentication_is_invalid_client(gateway: Gateway) -> None:
    response = await token(gateway, {"grant_type": "client_credentials"})
    oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


REQUEST_ERRORS: list[tuple[dict[str, str], str]] = [
    ({}, "invalid_request"),
    ({"grant_type": ""}, "invalid_request"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "scope": "quotas:write"}, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": "leads:read admin"}, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": 'leads:read "x"'}, "invalid_scope"),
]


async def test_request_errors(gateway: Gateway, user_client: CreatedClient) -> None:
    """One gateway for all cases; each gets its 400 and OAuth error code."""
    credentials = basic(user_client.client_id, user_client.client_secret)
    for form, error in REQUEST_ERRORS:
        oauth_error(await token(gateway, form, **credentials), 400, error)


async def test_two_authentication_methods_at_once_are_refused(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    response = await token(
        gateway,
        {"grant_type": "client_credentials", "client_secret": user_client.client_secret},
        **basic(user_client.client_id, user_client.client_secret),
    )
    oauth_error(response, 400, "invalid_request")


MALFORMED_BODIES: dict[str, tuple[bytes, str]] = {
    "json": (b'{"grant_type": "client_credentials"}', "application/json"),
    "no type": (b"grant_type=client_credentials", ""),
    "repeated": (b"grant_type=client_credentials&grant_type=password", FORM["content-type"]),
    "empty pairs": (b"grant_type=client_credentials&&&", FORM["content-type"]),
    "too large": (b"grant_type=client_credentials&" + b"x=y&" * 2000, FORM["content-type"]),
    "not ascii": ("grant_type=client_credentials&scope=é".encode(), FORM["content-type"]),
}


async def test_malformed_bodies_are_invalid_request(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    credentials = basic(user_client.client_id, user_client.client_secret)
    for name, (content, content_type) in MALFORMED_BODIES.items():
        headers = {"content-type": content_type} | credentials
        response = await gateway.client.post("/oauth/token", content=content, headers=headers)
        assert response.json().get("error") == "invalid_request", name
        oauth_error(response, 400, "invalid_request")


async def test_client_of_an_inactive_user_is_unauthorized_client(
    gateway: Gateway, user_client: CreatedClient
) -> None:
    async with gateway.runtime.db.session() as session:
        user = await session.get(User, gateway.org.r1.id)
        assert user is not None
        user.is_active = False
    response = await token(
        gateway,
        {"grant_type": "client_credentials"},
        **basic(user_client.client_id, user_client.client_secret),
    )
    oauth_error(response, 400, "unauthorized_client")


async def test_get_is_405_in_the_envelope(gateway: Gateway) -> None:
    response = await gateway.client.get("/oauth/token")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]


async def test_clients_need_known_scopes_and_an_existing_user(gateway: Gateway) -> None:
    settings = gateway.runtime.settings
    with pytest.raises(AdminError, match="unknown scope"):
        await create_client(settings, name="x", user_email=None, scopes="leads:read everything")
    with pytest.raises(AdminError, match="no active user"):
        await create_client(
            settings, name="x", user_email="nobody@example.com", scopes="leads:read"
        )
    with pytest.raises(AdminError, match="at least one scope"):
        await create_client(settings, name="x", user_email=None, scopes="")


async def test_a_revoked_client_gets_no_token_and_its_keys_are_refused(
    gateway: Gateway, partner_client: CreatedClient
) -> None:
    from sales_graph.auth.admin import create_api_key, revoke_client

    settings = gateway.runtime.settings
    key = await create_api_key(
        settings, name="k", scopes="leads:read", client_id=partner_client.client_id
    )
    assert (await graphql(gateway, ME, headers={"X-API-Key": key.api_key})).status_code == 200
    await revoke_client(settings, partner_client.client_id)
    oauth_error(
        await token(
            gateway,
            {"grant_type": "client_credentials"},
            **basic(partner_client.client_id, partner_client.client_secret),
        ),
        401,
        "invalid_client",
    )
    refused = await graphql(gateway, ME, headers={"X-API-Key": key.api_key})
    assert refused.status_code == 401, refused.text
    with pytest.raises(AdminError, match="no active client"):
        await revoke_client(settings, partner_client.client_id)
