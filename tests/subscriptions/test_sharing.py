"""Subscribers of one audience (the same principal, operation and variables) share one read and
one execution per event (docs/real-time.md, "What is shared"); nothing merges callers whose
answers could differ, and visibility is still evaluated when the event is delivered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from graphql import parse
from sales_graph.domain import Role
from sales_graph.domain.principal import Principal
from sales_graph.schema.delivery import Audience, operation_key
from tests.subscriptions.conftest import OPPORTUNITY_CHANGED, UPDATE, LiveFactory, LiveGateway, Ws

MEMBERSHIP = "territory_members"


@contextmanager
def statements(gateway: LiveGateway) -> Iterator[list[str]]:
    """The SQL statements the gateway's engine runs meanwhile."""
    seen: list[str] = []
    engine = gateway.runtime.db.engine.sync_engine

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def scope_reads(seen: list[str]) -> int:
    """A rep's scope reads their territory memberships (services/access.py scope_for)."""
    return sum(1 for statement in seen if MEMBERSHIP in statement and "SELECT" in statement)


async def updated(gateway: LiveGateway, subscribers: list[Ws], deal: str, amount: int) -> None:
    """``amount`` set on ``deal`` by its owner (r1), and seen by every subscriber."""
    await gateway.data(gateway.org.r1, UPDATE, id=deal, input={"amount": amount})
    for ws in subscribers:
        change = (await ws.next("s"))["opportunityChanged"]
        assert (change["change"], change["opportunity"]["amount"]) == ("UPDATED", float(amount))


async def test_one_read_per_event_for_subscribers_of_one_principal(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        async with (
            gateway.ws(org.r1) as first,
            gateway.ws(org.r1) as second,
            gateway.ws(org.r1) as third,
        ):
            subscribers = [first, second, third]
            for ws in subscribers:
                await ws.acked()
                await ws.subscribe("s", OPPORTUNITY_CHANGED)
            await gateway.until_listening(3)
            deal = await gateway.create_opportunity(org.r1, "Shared")
            for ws in subscribers:
                assert (await ws.next("s"))["opportunityChanged"]["change"] == "CREATED"
            # The mutation reads r1's scope once; the three deliveries once between them.
            with statements(gateway) as seen:
                await updated(gateway, subscribers, deal, 2000)
            assert scope_reads(seen) == 2, seen

            # Another variable: an audience of its own, with a read of its own.
            await third.send({"id": "s", "type": "complete"})
            await gateway.until_listening(2)
            await third.subscribe("s", OPPORTUNITY_CHANGED, stage="DISCOVERY")
            await gateway.until_listening(3)
            with statements(gateway) as seen:
                await updated(gateway, subscribers, deal, 3000)
            assert scope_reads(seen) == 3, seen


async def test_principals_with_different_scopes_are_never_merged(live: LiveFactory) -> None:
    """API keys of two clients acting for the same rep, one without ``users:read``: the same
    document answers each as a query would, for the same event."""
    from sales_graph.auth.admin import create_api_key, create_client

    async with live() as gateway:
        org = gateway.org
        settings = gateway.runtime.settings
        keys = []
        for name, scopes in (
            ("wide", "opportunities:read accounts:read users:read"),
            ("narrow", "opportunities:read accounts:read"),
        ):
            client = await create_client(
                settings, name=name, user_email=org.r1.email, scopes=scopes
            )
            key = await create_api_key(
                settings, name=name, scopes=scopes, client_id=client.client_id
            )
            keys.append({"X-API-Key": key.api_key})
        async with (
            gateway.ws(payload=keys[0]) as with_users,
            gateway.ws(payload=keys[1]) as without,
        ):
            for ws in (with_users, without):
                await ws.acked()
                await ws.subscribe("s", OPPORTUNITY_CHANGED)
            await gateway.until_listening(2)
            await gateway.create_opportunity(org.r1, "Scoped")

            seen = (await with_users.next("s"))["opportunityChanged"]["opportunity"]
            assert seen["owner"] == {"id": str(org.r1.id), "name": org.r1.name}
            message = await without.receive()
            assert message["type"] == "next", message
            assert message["payload"]["data"]["opportunityChanged"]["opportunity"]["owner"] is None
            assert message["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_subscribers_of_a_rep_moved_out_all_stop_receiving(live: LiveFactory) -> None:
    from sales_graph.db.models import Lead

    qualify = "mutation($id: ID!) { qualifyLead(id: $id) { id } }"
    members = """mutation($id: ID!, $members: [ID!]) {
      updateTerritory(id: $id, input: {memberIds: $members}) { id } }"""
    lead_changed = "subscription { leadChanged { change lead { id } } }"
    async with live() as gateway:
        org = gateway.org
        leads = {
            name: Lead(
                email=f"{name}@example.org",
                email_normalized=f"{name}@example.org",
                territory_id=org.t1.id,
                assigned_to_id=org.r1.id if name == "mine" else None,
            )
            for name in ("first", "second", "mine")
        }
        async with gateway.runtime.db.session() as session:
            session.add_all(leads.values())
        ids = {name: str(lead.id) for name, lead in leads.items()}
        async with gateway.ws(org.r1) as one, gateway.ws(org.r1) as other:
            for ws in (one, other):
                await ws.acked()
                await ws.subscribe("l", lead_changed)
            await gateway.until_listening(2)
            await gateway.data(org.m1, qualify, id=ids["first"])
            for ws in (one, other):
                seen = (await ws.next("l"))["leadChanged"]
                assert seen["lead"]["id"] == ids["first"]

            await gateway.data(
                org.admin, members, id=str(org.t1.id), members=[str(org.r2.id), str(org.r3.id)]
            )
            await gateway.data(org.m1, qualify, id=ids["second"])
            await gateway.data(org.m1, qualify, id=ids["mine"])
            for ws in (one, other):
                seen = (await ws.next("l"))["leadChanged"]
                assert (seen["change"], seen["lead"]["id"]) == ("QUALIFIED", ids["mine"])


def _key(text: str, **variables: Any) -> object:
    document = parse(text)
    operation = document.definitions[-1]
    fragments = {d.name.value: d for d in document.definitions[:-1]}  # type: ignore[attr-defined]
    return operation_key(operation, fragments, variables)  # type: ignore[arg-type]


def test_the_operation_key_tells_apart_what_could_answer_differently() -> None:
    text = "subscription($o: ID) { opportunityChanged(ownerId: $o) { change } }"
    assert _key(text, o="a") == _key(
        "subscription ($o: ID) {\n  opportunityChanged(ownerId: $o) {\n change }  # same\n}",
        o="a",
    )
    assert _key(text, o="a") != _key(text, o="b")
    assert _key(text, o=1) != _key(text, o=True)
    assert _key(text, o={"x": [1]}) == _key(text, o={"x": [1]})
    assert _key(text, o={"x": [1]}) != _key(text, o={"x": [2]})
    assert _key(text, o="a") != _key(
        "subscription($o: ID) { opportunityChanged(ownerId: $o) { change eventId } }", o="a"
    )
    fragment = (
        "fragment F on OpportunityChanged { %s } subscription { opportunityChanged { ...F } }"
    )
    assert _key(fragment % "change") != _key(fragment % "eventId")


@pytest.mark.parametrize(
    "other",
    [
        {"role": Role.SALES_MANAGER},
        {"scopes": frozenset({"opportunities:read"})},
        {"client_id": "other"},
        {"api_key_prefix": "sgk_other"},
        {"scoped": False},
        {"user_id": uuid.UUID(int=2), "subject": str(uuid.UUID(int=2))},
    ],
)
def test_principals_that_differ_in_anything_are_other_audiences(other: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "subject": str(uuid.UUID(int=1)),
        "user_id": uuid.UUID(int=1),
        "role": Role.SALES_REP,
        "scopes": frozenset({"opportunities:read", "users:read"}),
        "client_id": "crm",
        "api_key_prefix": "sgk_one",
        "scoped": True,
    }
    assert Audience(Principal(**fields), "op") == Audience(Principal(**fields), "op")
    assert Audience(Principal(**fields), "op") != Audience(Principal(**(fields | other)), "op")


def test_credentials_are_rechecked_at_jittered_times() -> None:
    """1,000 connections opened together are not all checked again in the same second, and
    each is checked at least every ``RECHECK_S``."""
    from sales_graph.web.live import recheck_wait

    waits = [recheck_wait(60.0) for _ in range(200)]
    assert all(30.0 <= wait <= 60.0 for wait in waits)
    assert len({int(wait) for wait in waits}) > 10


async def test_nothing_is_delivered_to_a_connection_ending_or_expired() -> None:
    """Even an answer shared with others: a connection whose token's exp has passed ends with
    4401 at its next event, whether or not its watch has woken yet."""
    import time

    from sales_graph.schema.live import CloseCode, Connection

    principal = Principal(subject="client:crm")
    current = Connection(runtime=None, request=None, principal=principal)  # type: ignore[arg-type]
    current.expires_at = time.time() + 60
    assert current.valid_principal() is principal

    expired = Connection(runtime=None, request=None, principal=principal)  # type: ignore[arg-type]
    expired.expires_at = time.time() - 1
    assert expired.valid_principal() is None
    assert expired.ending.result() == (CloseCode.UNAUTHORIZED, "The token expired")

    ending = Connection(runtime=None, request=None, principal=principal)  # type: ignore[arg-type]
    ending.end(CloseCode.SLOW_CONSUMER, "Slow consumer")
    assert ending.valid_principal() is None
    assert ending.ending.result() == (CloseCode.SLOW_CONSUMER, "Slow consumer")
