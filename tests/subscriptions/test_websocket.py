"""Subscriptions over graphql-transport-ws against a real server, fed by the in-process bus
and by Kafka: authentication at connection time, payloads of the graph's types, and the
visibility of each event evaluated when it is delivered."""

from __future__ import annotations

from websockets.asyncio.client import connect

from tests.subscriptions.conftest import (
    OPPORTUNITY_CHANGED,
    PROTOCOL,
    REASSIGN,
    UPDATE,
    LiveFactory,
    Ws,
)

LEAD_CHANGED = """subscription($assignee: Assignee) {
  leadChanged(assignee: $assignee) { change lead { id email status assignedTo { id } } }
}"""
CREATE_LEAD = """mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }"""


async def test_opportunity_changes_reach_who_sees_them(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        async with gateway.ws(org.r1) as rep, gateway.ws(org.m2) as other_manager:
            await rep.acked()
            await other_manager.acked()
            await rep.subscribe("1", OPPORTUNITY_CHANGED)
            await other_manager.subscribe("1", OPPORTUNITY_CHANGED)
            await gateway.until_listening(2)

            deal = await gateway.create_opportunity(org.r1, "Rep's deal")
            created = (await rep.next("1"))["opportunityChanged"]
            assert created["change"] == "CREATED"
            assert created["opportunity"] == {
                "id": deal,
                "name": "Rep's deal",
                "amount": 1000.0,
                "stage": "DISCOVERY",
                "owner": {"id": str(org.r1.id), "name": org.r1.name},
                "account": {"name": "Rep's deal account"},
            }
            assert created["eventId"]
            assert created["occurredAt"]

            # m2 does not see r1's deal: the next thing m2 gets is their own rep's deal,
            # whose event came after r1's had reached both listeners.
            theirs = await gateway.create_opportunity(org.r4, "r4's deal")
            seen = (await other_manager.next("1"))["opportunityChanged"]
            assert (seen["change"], seen["opportunity"]["id"]) == ("CREATED", theirs)
            assert seen["opportunity"]["owner"]["name"] == org.r4.name


async def test_visibility_is_evaluated_at_delivery(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        async with gateway.ws(org.r1) as rep:
            await rep.acked()
            await rep.subscribe("s", OPPORTUNITY_CHANGED)
            await gateway.until_listening(1)
            first = await gateway.create_opportunity(org.r1, "First")
            second = await gateway.create_opportunity(org.r1, "Second")
            created = [(await rep.next("s"))["opportunityChanged"] for _ in range(2)]
            assert [c["change"] for c in created] == ["CREATED", "CREATED"]
            await gateway.data(org.r1, UPDATE, id=first, input={"amount": 2000})
            updated = (await rep.next("s"))["opportunityChanged"]
            assert (updated["change"], updated["opportunity"]["amount"]) == ("UPDATED", 2000.0)

            # Reassigned to r2: r1 no longer sees it, so r1 gets nothing of that change ...
            await gateway.data(org.m1, REASSIGN, id=first, owner=str(org.r2.id))
            # ... and the next event r1 gets is the next change of a deal still theirs.
            await gateway.data(org.r1, UPDATE, id=second, input={"amount": 3000})
            later = (await rep.next("s"))["opportunityChanged"]
            assert later["opportunity"]["id"] == second
            assert later["opportunity"]["amount"] == 3000.0


async def test_filters_apply_to_the_record_when_delivered(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        async with gateway.ws(org.m1) as manager:
            await manager.acked()
            await manager.subscribe("r2", OPPORTUNITY_CHANGED, owner=str(org.r2.id))
            await gateway.until_listening(1)
            await gateway.create_opportunity(org.r1, "Not r2's")
            mine = await gateway.create_opportunity(org.r2, "r2's")
            got = (await manager.next("r2"))["opportunityChanged"]
            assert got["opportunity"]["id"] == mine
            assert got["opportunity"]["owner"]["id"] == str(org.r2.id)


async def test_lead_changes_assigned_to_me(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        async with gateway.ws(org.r4) as rep:
            await rep.acked()
            await rep.subscribe("mine", LEAD_CHANGED, assignee="ME")
            await gateway.until_listening(1)
            # Outside the US: T2, whose only member is r4.
            lead = await gateway.data(
                org.admin,
                CREATE_LEAD,
                input={"email": "ana@example.org", "firstName": "Ana", "country": "PT"},
            )
            lead_id = lead["createLead"]["id"]
            changes = [(await rep.next("mine"))["leadChanged"] for _ in range(2)]
            assert {c["change"] for c in changes} == {"CREATED", "ASSIGNED"}
            assert all(c["lead"]["id"] == lead_id for c in changes)
            assert changes[0]["lead"]["assignedTo"] == {"id": str(org.r4.id)}


async def test_connection_needs_valid_credentials(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        async with gateway.ws(payload={}) as anonymous:
            code, reason = await anonymous.closed()
            assert code == 4401
            assert "credentials" in reason
        async with gateway.ws(payload={"Authorization": "Bearer not-a-token"}) as bad:
            assert (await bad.closed())[0] == 4401
        token = gateway.token(gateway.org.r1)
        # Under "headers" in the payload, or the upgrade request's own header.
        async with gateway.ws(payload={"headers": {"authorization": f"Bearer {token}"}}) as ok:
            await ok.acked()
        async with gateway.ws(payload={}, headers={"Authorization": f"Bearer {token}"}) as ok:
            await ok.acked()


async def test_scopes_and_operations(live_embedded: LiveFactory) -> None:
    from sales_graph.auth.admin import create_api_key

    async with live_embedded() as gateway:
        key = await create_api_key(gateway.runtime.settings, name="leads only", scopes="leads:read")
        async with gateway.ws(payload={"X-API-Key": key.api_key}) as partner:
            await partner.acked()
            await partner.subscribe("o", OPPORTUNITY_CHANGED)
            refused = await partner.receive()
            assert (refused["type"], refused["id"]) == ("error", "o"), refused
            assert refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
            await partner.subscribe("q", "{ me { id } }")
            query = await partner.receive()
            assert query["type"] == "error", query
            assert "Only subscriptions" in query["payload"][0]["message"]
            await partner.subscribe("l", LEAD_CHANGED)
            await gateway.until_listening(1)


async def test_only_graphql_transport_ws(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        async with connect(gateway.ws_url, subprotocols=["graphql-ws"]) as legacy:  # type: ignore[list-item]
            assert await Ws(legacy).closed() == (4406, "Subprotocol not acceptable")
        async with connect(gateway.ws_url, subprotocols=[PROTOCOL]) as early:  # type: ignore[list-item]
            ws = Ws(early)
            await ws.subscribe("early", OPPORTUNITY_CHANGED)
            assert await ws.closed() == (4401, "Unauthorized")


async def test_a_rep_moved_out_of_a_territory_stops_receiving_its_events(
    live: LiveFactory,
) -> None:
    from sales_graph.db.models import Lead

    qualify = "mutation($id: ID!) { qualifyLead(id: $id) { id } }"
    members = """mutation($id: ID!, $members: [ID!]) {
      updateTerritory(id: $id, input: {memberIds: $members}) { id } }"""
    async with live() as gateway:
        org = gateway.org
        # Two unassigned leads of T1, which r1 sees while a member of T1, and one of r1's own.
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
        async with gateway.ws(org.r1) as rep:
            await rep.acked()
            await rep.subscribe("l", LEAD_CHANGED)
            await gateway.until_listening(1)
            await gateway.data(org.m1, qualify, id=ids["first"])
            seen = (await rep.next("l"))["leadChanged"]
            assert (seen["change"], seen["lead"]["id"]) == ("QUALIFIED", ids["first"])

            await gateway.data(
                org.admin, members, id=str(org.t1.id), members=[str(org.r2.id), str(org.r3.id)]
            )
            await gateway.data(org.m1, qualify, id=ids["second"])
            await gateway.data(org.m1, qualify, id=ids["mine"])
            # Out of T1, r1 no longer sees the second lead: the next event r1 gets is the one
            # of their own lead, which came after it.
            seen = (await rep.next("l"))["leadChanged"]
            assert (seen["change"], seen["lead"]["id"]) == ("QUALIFIED", ids["mine"])
