"""Principals and their access scope; scope names; secret hashing (no I/O except one session)."""

from __future__ import annotations

import uuid

import pytest

from sales_graph.auth.hashing import hash_client_secret, verify_client_secret
from sales_graph.domain import Role
from sales_graph.domain.permissions import KNOWN_SCOPES, ScopeError, format_scopes, parse_scopes
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Forbidden
from sales_graph.services.access import scope_for
from tests.graphql.conftest import Gateway

PARTNER = Principal.partner("sgc_1", frozenset({"leads:read"}))


def test_partner_needs_the_scope_and_users_do_not() -> None:
    partner = AccessScope(PARTNER, unrestricted=True, is_partner=True, scopes=PARTNER.scopes)
    partner.require_scope("leads:read")
    with pytest.raises(Forbidden) as raised:
        partner.require_scope("leads:write")
    assert raised.value.details == {"required_scope": "leads:write"}

    user = Principal("u", user_id=uuid.uuid4(), role=Role.SALES_REP)
    AccessScope(user).require_scope("leads:write")


@pytest.mark.parametrize("fresh_database", ["sqlite"], indirect=True)
async def test_scope_for_a_partner_is_unrestricted_and_scoped(gateway: Gateway) -> None:
    async with gateway.runtime.db.session() as session:
        scope = await scope_for(session, PARTNER)
    assert scope.is_partner
    assert scope.unrestricted
    assert scope.scopes == {"leads:read"}
    assert scope.actor_id is None
    assert PARTNER.subject == "client:sgc_1"


def test_scope_names() -> None:
    assert parse_scopes("leads:read  leads:write") == {"leads:read", "leads:write"}
    assert parse_scopes("") == frozenset()
    with pytest.raises(ScopeError):
        parse_scopes("leads:read admin")
    with pytest.raises(ScopeError):
        parse_scopes('leads:read "quoted"')
    assert format_scopes(set(KNOWN_SCOPES)).split()[0] == "leads:read"
    assert len(KNOWN_SCOPES) == 14


def test_client_secret_hash_is_salted_and_checked() -> None:
    one, two = hash_client_secret("s3cret"), hash_client_secret("s3cret")
    assert one != two
    assert one.startswith("scrypt$")
    assert verify_client_secret("s3cret", one)
    assert not verify_client_secret("s3cret!", one)
    assert not verify_client_secret("s3cret", None)
    assert not verify_client_secret("s3cret", "scrypt$1$1$1$$")
    assert not verify_client_secret("s3cret", "md5$abc")
