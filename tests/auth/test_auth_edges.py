"""Every 401 says how to authenticate (RFC 9110 section 15.5.2, RFC 6750 section 3, RFC 6749
section 5.2), and a malformed client credential is the client's error, not ours."""

from __future__ import annotations

import base64

import httpx
import pytest

from sales_graph.auth.admin import CreatedClient, create_client
from sales_graph.auth.challenge import ANONYMOUS, INVALID_API_KEY
from tests.auth.conftest import assert_unauthorized, bearer
from tests.graphql.conftest import Gateway

ME = b'{"query": "{ me { id } }"}'
QUALIFY = b'{"query": "mutation { qualifyLead(id: \\"1\\") { status } }"}'
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = b"grant_type=client_credentials"
KEY = "sgk_0123456789ab_" + "a" * 43
INVALID_TOKEN = 'Bearer error="invalid_token"'


@pytest.fixture
async def partner(gateway: Gateway) -> CreatedClient:
    return await create_client(
        gateway.runtime.settings, name="lead source", user_email=None, scopes="leads:read"
    )


async def test_anonymous_requests_for_protected_things_get_the_bare_challenge(
    gateway: Gateway,
) -> None:
    """No credentials: the schemes and realm, no error attributes (RFC 6750 section 3.1)."""
    client = gateway.client
    answers = [
        await client.get("/api/v1/leads"),
        await client.post("/api/v1/leads", content=b'{"email": 5}', headers=JSON),
        await client.put(f"/api/v1/opportunities/{gateway.org.r1.id}/stage", content=b"x"),
        await client.post("/graphql", content=ME, headers=JSON),
        await client.get("/graphql", params={"query": "{ me { id } }"}),
        await client.post("/graphql", content=QUALIFY, headers=JSON),
    ]
    for response in answers:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == ANONYMOUS
        assert "error=" not in response.headers["www-authenticate"]
    for rest in answers[:3]:
        assert assert_unauthorized(rest)["details"] == {}
    for graphql in answers[3:]:
        assert graphql.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("path", ["/api/v1/leads", "/graphql", "/docs", "/openapi.json"])
async def test_refused_credentials_get_their_scheme_s_error(gateway: Gateway, path: str) -> None:
    cases: list[tuple[list[tuple[str, str]], str]] = [
        ([("Authorization", "Bearer not.a.token")], INVALID_TOKEN),
        (
            [("Authorization", "Bearer " + gateway.token(gateway.org.r1)[:-4] + "AAAA")],
            INVALID_TOKEN,
        ),
        ([("Authorization", "Basic dXNlcjpwdw==")], 'Bearer error="invalid_request"'),
        ([("X-API-Key", KEY)], INVALID_API_KEY),
        ([("X-API-Key", "not-a-key")], INVALID_API_KEY),
    ]
    for headers, challenge in cases:
        response = await gateway.client.get(path, headers=headers)
        assert_unauthorized(response)
        assert response.headers["www-authenticate"] == challenge, headers
    for name, value in (("Authorization", "Bearer a"), ("X-API-Key", KEY)):
        twice = await gateway.client.get(path, headers=[(name, value), (name, value)])
        assert_unauthorized(twice)
        assert twice.headers["www-authenticate"].startswith("Bearer "), name


async def test_public_documents_need_no_credentials(gateway: Gateway) -> None:
    for path in ("/docs", "/openapi.json", "/.well-known/jwks.json", "/healthz"):
        response = await gateway.client.get(path)
        assert response.status_code == 200, path
        assert "www-authenticate" not in response.headers


def basic(raw: bytes) -> tuple[bytes, bytes]:
    return b"authorization", b"Basic " + raw


async def test_the_token_endpoint_challenges_failed_basic_authentication(
    gateway: Gateway, partner: CreatedClient
) -> None:
    """RFC 6749 section 5.2: invalid_client is a 401 with WWW-Authenticate after Basic."""
    wrong = base64.b64encode(f"{partner.client_id}:wrong".encode())
    refused: list[list[tuple[bytes, bytes]]] = [
        [basic(wrong)],
        [basic(b"\xe9\xe9")],  # was a 500: non-ASCII where base64 is expected
        [basic(base64.b64encode(b"\xff\xfe:x"))],
        [basic(b"not base64!")],
        [(b"authorization", b"Bearer x")],
        [],
    ]
    for headers in refused:
        response = await gateway.client.post(
            "/oauth/token",
            content=GRANT,
            headers=[(b"content-type", FORM["Content-Type"].encode()), *headers],
        )
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"] == 'Basic realm="sales-graph", charset="UTF-8"'
        assert response.headers["cache-control"] == "no-store"
    # Credentials in the form are not an HTTP authentication scheme: 400, no challenge.
    form = GRANT + f"&client_id={partner.client_id}&client_secret=wrong".encode()
    in_form = await gateway.client.post("/oauth/token", content=form, headers=FORM)
    assert in_form.status_code == 400
    assert in_form.json()["error"] == "invalid_client"
    assert "www-authenticate" not in in_form.headers
    right = base64.b64encode(f"{partner.client_id}:{partner.client_secret}".encode())
    issued = await gateway.client.post(
        "/oauth/token",
        content=GRANT,
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), basic(right)],
    )
    assert issued.status_code == 200, issued.text


async def test_the_token_endpoint_media_type_is_case_insensitive(
    gateway: Gateway, partner: CreatedClient
) -> None:
    auth = httpx.BasicAuth(partner.client_id, partner.client_secret)
    for media in (
        "Application/X-WWW-Form-URLEncoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ):
        response = await gateway.client.post(
            "/oauth/token", content=GRANT, headers={"Content-Type": media}, auth=auth
        )
        assert response.status_code == 200, (media, response.text)
    token = response.json()["access_token"]
    me = await gateway.client.post(
        "/graphql", content=b'{"query": "{ health { status } }"}', headers={**JSON, **bearer(token)}
    )
    assert me.status_code == 200
