"""updateLead, qualifyLead, disqualifyLead and assignTerritory: rules, roles and records."""

from __future__ import annotations

from typing import Any

from tests.graphql.conftest import Gateway
from tests.graphql.test_leads import CREATE, lead_input

UPDATE = """
mutation($id: ID!, $input: UpdateLeadInput!) {
  updateLead(id: $id, input: $input) { id status title email version }
}"""
QUALIFY = "mutation($id: ID!) { qualifyLead(id: $id) { status version } }"
DISQUALIFY = """
mutation($id: ID!, $reason: String!) {
  disqualifyLead(id: $id, reason: $reason) { status disqualifiedReason }
}"""
ASSIGN = """
mutation($input: AssignTerritoryInput!) {
  assignTerritory(input: $input) {
    assignedAt reason method
    lead { id territory { id } assignedTo { id } }
    territory { id }
    assignedTo { id }
    assignedBy { id }
  }
}"""


async def _us_lead(gateway: Gateway, n: int = 1) -> dict[str, Any]:
    data = await gateway.data(gateway.org.admin, CREATE, input=lead_input(n, country="US"))
    lead: dict[str, Any] = data["createLead"]
    return lead


async def test_rep_updates_and_qualifies_own_lead(gateway: Gateway) -> None:
    lead = await _us_lead(gateway)
    owner = next(r for r in gateway.org.t1_reps if str(r.id) == lead["assignedTo"]["id"])
    updated = await gateway.data(
        owner, UPDATE, id=lead["id"], input={"title": "CTO", "status": "WORKING"}
    )
    assert updated["updateLead"]["title"] == "CTO"
    assert updated["updateLead"]["status"] == "WORKING"
    assert updated["updateLead"]["version"] == 3  # created 1, assigned 2, updated 3
    qualified = await gateway.data(owner, QUALIFY, id=lead["id"])
    assert qualified["qualifyLead"]["status"] == "QUALIFIED"


async def test_stale_version_is_a_conflict(gateway: Gateway) -> None:
    lead = await _us_lead(gateway)
    error = await gateway.error(
        gateway.org.admin, UPDATE, id=lead["id"], input={"title": "x", "expectedVersion": 1}
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["details"]["current_version"] == 2


async def test_status_rules(gateway: Gateway) -> None:
    lead = await _us_lead(gateway)
    admin = gateway.org.admin
    direct = await gateway.error(admin, UPDATE, id=lead["id"], input={"status": "QUALIFIED"})
    assert direct["extensions"]["code"] == "VALIDATION_ERROR"
    assert "status" in direct["extensions"]["details"]["fields"]
    blank = await gateway.error(admin, DISQUALIFY, id=lead["id"], reason="  ")
    assert blank["extensions"]["details"]["fields"] == {"reason": blank["message"]}
    done = await gateway.data(admin, DISQUALIFY, id=lead["id"], reason="No budget")
    assert done["disqualifyLead"] == {"status": "DISQUALIFIED", "disqualifiedReason": "No budget"}
    again = await gateway.error(admin, QUALIFY, id=lead["id"])
    assert again["extensions"]["code"] == "VALIDATION_ERROR"
    assert again["extensions"]["details"] == {
        "current_status": "disqualified",
        "requested_status": "qualified",
        "allowed_statuses": ["working"],
    }


async def test_duplicate_email_on_update_is_a_conflict(gateway: Gateway) -> None:
    first = await _us_lead(gateway, 1)
    second = await _us_lead(gateway, 2)
    error = await gateway.error(
        gateway.org.admin, UPDATE, id=second["id"], input={"email": "LEAD1@example.com"}
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["details"]["existing_lead_id"] == first["id"]


async def test_assignee_is_not_an_updatable_field(gateway: Gateway) -> None:
    lead = await _us_lead(gateway)
    error = await gateway.error(
        gateway.org.admin, UPDATE, id=lead["id"], input={"assignedTo": str(gateway.org.r4.id)}
    )
    assert error["extensions"]["code"] == "VALIDATION_ERROR"


async def test_another_rep_cannot_see_or_change_the_lead(gateway: Gateway) -> None:
    lead = await _us_lead(gateway)
    stranger = gateway.org.r4
    error = await gateway.error(stranger, QUALIFY, id=lead["id"])
    assert error["extensions"]["code"] == "NOT_FOUND"
    teammate = next(r for r in gateway.org.t1_reps if str(r.id) != lead["assignedTo"]["id"])
    # A teammate sees only unassigned leads of the territory, not this one.
    error = await gateway.error(teammate, QUALIFY, id=lead["id"])
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_manager_assigns_by_hand_with_reason_and_record(gateway: Gateway) -> None:
    org = gateway.org
    lead = await _us_lead(gateway)
    data = await gateway.data(
        org.m1,
        ASSIGN,
        input={
            "leadId": lead["id"],
            "territoryId": str(org.t2.id),
            "reason": "Geographic match",
        },
    )
    assignment = data["assignTerritory"]
    assert assignment["reason"] == "Geographic match"
    assert assignment["method"] == "manual"
    assert assignment["territory"]["id"] == str(org.t2.id)
    assert assignment["assignedTo"]["id"] == str(org.r4.id)
    assert assignment["assignedBy"]["id"] == str(org.m1.id)
    assert assignment["assignedAt"].endswith("Z")
    history = await gateway.data(
        org.admin,
        "query($id: ID!) { lead(id: $id) { assignments { method reason assignedBy { id } } } }",
        id=lead["id"],
    )
    assert [a["method"] for a in history["lead"]["assignments"]] == ["round_robin", "manual"]


async def test_assign_to_a_named_member_and_refusals(gateway: Gateway) -> None:
    org = gateway.org
    lead = await _us_lead(gateway)
    named = await gateway.data(
        org.admin,
        ASSIGN,
        input={
            "leadId": lead["id"],
            "territoryId": str(org.t1.id),
            "reason": "Named account",
            "assignedTo": str(org.r3.id),
        },
    )
    assert named["assignTerritory"]["assignedTo"]["id"] == str(org.r3.id)
    not_member = await gateway.error(
        org.admin,
        ASSIGN,
        input={
            "leadId": lead["id"],
            "territoryId": str(org.t1.id),
            "reason": "x",
            "assignedTo": str(org.r4.id),
        },
    )
    assert not_member["extensions"]["code"] == "VALIDATION_ERROR"
    assert set(not_member["extensions"]["details"]["fields"]) == {"assignedTo"}
    by_rep = await gateway.error(
        org.r3,
        ASSIGN,
        input={"leadId": lead["id"], "territoryId": str(org.t1.id), "reason": "mine"},
    )
    assert by_rep["extensions"]["code"] == "FORBIDDEN"
    unknown = await gateway.error(
        org.admin,
        ASSIGN,
        input={
            "leadId": lead["id"],
            "territoryId": "00000000-0000-0000-0000-000000000009",
            "reason": "x",
        },
    )
    assert unknown["extensions"]["code"] == "NOT_FOUND"


async def test_each_mutation_field_stands_alone(gateway: Gateway) -> None:
    """Mutation fields run in order; a failing one does not undo the one before it."""
    org = gateway.org
    lead = await _us_lead(gateway)
    body = await gateway.gql(
        org.admin,
        """mutation($id: ID!, $bad: ID!) {
          ok: updateLead(id: $id, input: {title: "Kept"}) { title }
          bad: assignTerritory(input: {leadId: $id, territoryId: $bad, reason: "r"}) { method }
        }""",
        id=lead["id"],
        bad="00000000-0000-0000-0000-000000000009",
    )
    # Both fields are non-null, so the failure nulls `data`; the first change is kept.
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["bad"]
    history = await gateway.data(
        org.admin,
        "query($id: ID!) { lead(id: $id) { title assignments { method } } }",
        id=lead["id"],
    )
    assert history["lead"]["title"] == "Kept"
    assert [a["method"] for a in history["lead"]["assignments"]] == ["round_robin"]
