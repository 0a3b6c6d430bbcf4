"""Forged and broken bearer tokens: each is a 401 in the spec's envelope, never a 500.

The tokens are built by hand (base64url JSON and a signature we compute) so that no library
can refuse to make them; where a case is about a header or a claim, the signature is valid,
made with our own key, so that only the check under test can stop it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import ECKey

from sales_graph.auth.keys import SigningKeys
from tests.auth.conftest import (
    ME,
    assert_unauthorized,
    b64url,
    bearer,
    claims_for,
    graphql,
    our_header,
    our_key,
    payload_of,
    segment,
    sign_es256,
    sign_hs256,
    unsigned,
)
from tests.graphql.conftest import Gateway

Forge = Callable[[Gateway], str]


def _attacker_key(kid: str = "attacker") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256"})


def _ours(**header: object) -> Forge:
    """Signed with our key; the header (and only the header) is unusual."""
    return lambda gw: sign_es256(
        our_header(gw, **header), claims_for(gw, gw.org.admin), our_key(gw)
    )


def _claims(**claims: object) -> Forge:
    """Signed with our key; the claims (and only the claims) are wrong."""
    return lambda gw: sign_es256(
        our_header(gw), claims_for(gw, gw.org.admin, **claims), our_key(gw)
    )


def _alg_none(gw: Gateway) -> str:
    return (
        unsigned(
            {"alg": "none", "kid": gw.runtime.tokens.keys.active_kid}, claims_for(gw, gw.org.admin)
        )
        + "."
    )


def _alg_none_with_signature(gw: Gateway) -> str:
    return _alg_none(gw) + b64url(b"x" * 64)


def _hs256_with_public_key(gw: Gateway) -> str:
    """The classic key confusion: our public key (PEM) used as an HMAC secret."""
    public = our_key(gw).public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
    header = {"alg": "HS256", "kid": gw.runtime.tokens.keys.active_kid, "typ": "JWT"}
    return sign_hs256(header, claims_for(gw, gw.org.admin), public)


def _embedded_jwk(gw: Gateway) -> str:
    attacker = _attacker_key(gw.runtime.tokens.keys.active_kid)
    header = our_header(gw, jwk=attacker.as_dict(private=False))
    return sign_es256(header, claims_for(gw, gw.org.admin), attacker)


def _remote_key(name: str) -> Forge:
    def forge(gw: Gateway) -> str:
        attacker = _attacker_key()
        url = "http://127.0.0.1:9/keys.json"
        value: object = [b64url(b"not a certificate")] if name == "x5c" else url
        header = {"alg": "ES256", "kid": "attacker", name: value}
        return sign_es256(header, claims_for(gw, gw.org.admin), attacker)

    return forge


def _unknown_kid_attacker(gw: Gateway) -> str:
    return sign_es256(
        {"alg": "ES256", "kid": "attacker"}, claims_for(gw, gw.org.admin), _attacker_key()
    )


def _tampered(gw: Gateway) -> str:
    """A real token of a rep, its payload rewritten to make them admin."""
    header, _payload, signature = gw.token(gw.org.r1).split(".")
    claims = payload_of(gw.token(gw.org.r1)) | {"roles": ["admin"]}
    return f"{header}.{segment(claims)}.{signature}"


def _wrong_key_same_kid(gw: Gateway) -> str:
    return sign_es256(our_header(gw), claims_for(gw, gw.org.admin), _attacker_key())


NOW = int(time.time())

# name -> (how to make it, what the refusal says)
FORGERIES: dict[str, tuple[Forge, str]] = {
    "alg none": (_alg_none, "Malformed token"),
    "alg none with a signature": (_alg_none_with_signature, "'none' is not accepted"),
    "alg NONE": (_ours(alg="NONE"), "'NONE' is not accepted"),
    "HS256 keyed with our public key": (_hs256_with_public_key, "'HS256' is not accepted"),
    "RS256 claimed for an EC key": (_ours(alg="RS256"), "'RS256' is not accepted"),
    "embedded jwk": (_embedded_jwk, "carrying their own key"),
    "jku": (_remote_key("jku"), "carrying their own key"),
    "x5u": (_remote_key("x5u"), "carrying their own key"),
    "x5c": (_remote_key("x5c"), "carrying their own key"),
    "unknown crit": (_ours(crit=["urn:example:ext"], **{"urn:example:ext": True}), "crit"),
    "b64 false": (_ours(b64=False, crit=["b64"]), "b64"),
    "no kid": (_ours(kid=None), "lacks 'kid'"),
    "unknown kid": (_ours(kid="no-such-key"), "Unknown signing key"),
    "unknown kid, attacker key": (_unknown_kid_attacker, "Unknown signing key"),
    "our kid, attacker key": (_wrong_key_same_kid, "Invalid token signature"),
    "wrong iss": (_claims(iss="https://evil.example"), "'iss'"),
    "wrong aud": (_claims(aud="someone-else"), "'aud'"),
    "no aud": (_claims(aud=None), "Missing claim: 'aud'"),
    "missing exp": (_claims(exp=None), "Missing claim: 'exp'"),
    "expired": (_claims(exp=NOW - 3600, iat=NOW - 7200, nbf=NOW - 7200), "Token expired"),
    "nbf in the future": (_claims(nbf=NOW + 3600), "not yet valid"),
    "exp not a number": (_claims(exp="tomorrow"), "'exp'"),
    "sub not a user": (_claims(sub="root"), "Invalid token subject"),
    "tampered signature": (_tampered, "Invalid token signature"),
    "typ not a JWT": (_ours(typ="JWE"), "Unsupported token type"),
}


def _refusal(response: httpx.Response) -> str:
    """The refusal's message, after checking it is a 401 in the envelope."""
    error = assert_unauthorized(response)
    assert response.headers["www-authenticate"].startswith("Bearer error=")
    return str(error["message"])


async def test_forged_tokens_are_unauthorized(gateway: Gateway) -> None:
    """One gateway for all cases (they never reach the database); every miss is listed."""
    misses = {}
    for name, (forge, reason) in FORGERIES.items():
        response = await graphql(gateway, headers=bearer(forge(gateway)))
        if response.status_code != 401 or reason not in response.json()["error"]["message"]:
            misses[name] = (response.status_code, response.text[:200])
            continue
        assert _refusal(response)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert misses == {}


async def test_the_forging_helpers_make_tokens_we_accept(gateway: Gateway) -> None:
    """Control: with nothing wrong, a hand-made token works, so the rejections above are real."""
    token = sign_es256(
        our_header(gateway, typ="JWT"), claims_for(gateway, gateway.org.m1), our_key(gateway)
    )
    response = await graphql(gateway, headers=bearer(token))
    assert response.json()["data"]["me"] == {"id": str(gateway.org.m1.id), "role": "SALES_MANAGER"}


MALFORMED = [
    "",
    "x",
    "a.b",
    "a.b.c",
    "a.b.c.d",
    "...",
    "e30.e30.",
    "e30.e30.e30",
    segment({"alg": "ES256", "kid": "k", "kid ": 1}) + ".bm90IGpzb24.c2ln",
    "W10.e30.c2ln",  # header is a JSON array
    b64url(b'{"alg":"ES256","alg":"none","kid":"k"}') + ".e30.c2ln",  # duplicate member
    b64url(b"\xff\xfe") + ".e30.c2ln",
    "eyJhbGciOiJFUzI1NiJ9!.e30.c2ln",
    "a" * 20_000,
    segment({"alg": ["ES256"], "kid": "k"}) + ".e30.c2ln",
    segment({"alg": "ES256", "kid": 7}) + ".e30.c2ln",
    segment({"alg": "ES256", "kid": "k"}) + "." + b64url(b"[1]") + ".c2ln",
]


async def test_malformed_tokens_are_unauthorized(gateway: Gateway) -> None:
    misses = {}
    for i, token in enumerate(MALFORMED):
        response = await graphql(gateway, headers=bearer(token))
        if response.status_code != 401:
            misses[i] = (response.status_code, response.text[:200])
            continue
        assert _refusal(response)
    assert misses == {}


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer  "])
async def test_authorization_other_than_bearer_is_unauthorized(
    gateway: Gateway, value: str
) -> None:
    assert _refusal(await graphql(gateway, headers={"Authorization": value}))


ANONYMOUS_OPERATIONS = [
    ME,
    "{ health { status } me { id } }",
    "{ ...F } fragment F on Query { leads { totalCount } }",
    "{ ... on Query { health { status } } territories { id } }",
    'mutation { disqualifyLead(id: "00000000-0000-0000-0000-000000000000", reason: "x") { id } }',
]


@pytest.mark.parametrize("query", ANONYMOUS_OPERATIONS)
async def test_anonymous_graphql_operation_is_unauthorized(gateway: Gateway, query: str) -> None:
    """No credentials and any protected root field (through fragments too), or a mutation:
    401 before anything runs, the error coded UNAUTHORIZED with the request id."""
    response = await graphql(gateway, query)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHORIZED"
    assert error["extensions"]["request_id"] == response.headers["x-request-id"]


async def test_anonymous_public_fields_answer(gateway: Gateway) -> None:
    response = await graphql(gateway, "{ health { status } ... on Query { __typename } }")
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


async def test_a_valid_token_of_ours_still_works(gateway: Gateway) -> None:
    response = await graphql(gateway, headers=bearer(gateway.token(gateway.org.r1)))
    assert response.json()["data"]["me"]["id"] == str(gateway.org.r1.id)


def test_signing_keys_ignore_a_half_written_file(tmp_path: object) -> None:
    """A reload never swaps in a broken set: the keys in memory keep signing."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "keys.json"
    keys = SigningKeys.load_or_create(path)
    kid = keys.active_kid
    path.write_text('{"keys": [')
    assert keys.find("other") is None
    assert keys.active_kid == kid
