"""createTerritory and updateTerritory: who may, what is checked, what changes."""

from __future__ import annotations

from tests.graphql.conftest import Gateway
from tests.graphql.test_leads import CREATE, lead_input

CREATE_TERRITORY = """
mutation($input: CreateTerritoryInput!) {
  createTerritory(input: $input) {
    id name isActive priority version
    owner { id } members { id } rules { position country employeeCountMin annualRevenueMax }
  }
}"""
UPDATE_TERRITORY = """
mutation($id: ID!, $input: UpdateTerritoryInput!) {
  updateTerritory(id: $id, input: $input) {
    id name isActive version owner { id } members { id } rules { country industry }
  }
}"""


def _new(gateway: Gateway, **overrides: object) -> dict[str, object]:
    org = gateway.org
    return {
        "name": "Germany Enterprise",
        "ownerId": str(org.m1.id),
        "memberIds": [str(org.r2.id), str(org.r1.id)],
        "rules": [{"country": "de", "employeeCountMin": 1000}, {"annualRevenueMax": 5e6}],
        "priority": 5,
        **overrides,
    }


async def test_admin_creates_a_territory_that_takes_matching_leads(gateway: Gateway) -> None:
    org = gateway.org
    data = await gateway.data(org.admin, CREATE_TERRITORY, input=_new(gateway))
    territory = data["createTerritory"]
    assert territory["owner"]["id"] == str(org.m1.id)
    assert [m["id"] for m in territory["members"]] == [str(org.r2.id), str(org.r1.id)]
    assert territory["rules"] == [
        {"position": 0, "country": "DE", "employeeCountMin": 1000, "annualRevenueMax": None},
        {"position": 1, "country": None, "employeeCountMin": None, "annualRevenueMax": 5e6},
    ]
    lead = await gateway.data(
        org.admin, CREATE, input=lead_input(1, country="DE", employeeCount=5000)
    )
    assert lead["createLead"]["territory"]["id"] == territory["id"]
    # Round robin starts with the first member.
    assert lead["createLead"]["assignedTo"]["id"] == str(org.r2.id)
    listed = await gateway.data(org.r1, "{ territories(isActive: true) { name } }")
    assert next(t["name"] for t in listed["territories"]) == "Germany Enterprise"


async def test_territory_input_is_checked(gateway: Gateway) -> None:
    org = gateway.org
    cases = [
        ({"ownerId": str(org.r1.id)}, "VALIDATION_ERROR", {"ownerId"}),
        ({"memberIds": [str(org.r1.id), str(org.r1.id)]}, "VALIDATION_ERROR", {"memberIds"}),
        ({"rules": [{"employeeCountMin": 10, "employeeCountMax": 5}]}, "VALIDATION_ERROR", None),
        ({"name": ""}, "VALIDATION_ERROR", {"name"}),
        ({"name": "T1 United States"}, "CONFLICT", None),
    ]
    for overrides, code, fields in cases:
        error = await gateway.error(org.admin, CREATE_TERRITORY, input=_new(gateway, **overrides))
        assert error["extensions"]["code"] == code, (overrides, error)
        if fields:
            assert set(error["extensions"]["details"]["fields"]) == fields


async def test_only_admins_create_and_owners_update(gateway: Gateway) -> None:
    org = gateway.org
    error = await gateway.error(org.m1, CREATE_TERRITORY, input=_new(gateway))
    assert error["extensions"]["code"] == "FORBIDDEN"
    renamed = await gateway.data(
        org.m1, UPDATE_TERRITORY, id=str(org.t1.id), input={"name": "US", "isActive": True}
    )
    assert renamed["updateTerritory"]["name"] == "US"
    assert renamed["updateTerritory"]["version"] == 2
    other = await gateway.error(org.m2, UPDATE_TERRITORY, id=str(org.t1.id), input={"name": "x"})
    assert other["extensions"]["code"] == "FORBIDDEN"
    by_rep = await gateway.error(org.r1, UPDATE_TERRITORY, id=str(org.t1.id), input={"name": "x"})
    assert by_rep["extensions"]["code"] == "FORBIDDEN"
    # The owner decides visibility: a manager cannot hand the territory over.
    handover = await gateway.error(
        org.m1, UPDATE_TERRITORY, id=str(org.t1.id), input={"ownerId": str(org.m2.id)}
    )
    assert handover["extensions"]["code"] == "FORBIDDEN"
    # Nor reroute the organisation's new leads into it.
    for routing in ({"priority": 0}, {"rules": [{}]}, {"isActive": False}):
        rerouted = await gateway.error(org.m1, UPDATE_TERRITORY, id=str(org.t1.id), input=routing)
        assert rerouted["extensions"]["code"] == "FORBIDDEN", routing


async def test_members_and_rules_are_replaced(gateway: Gateway) -> None:
    org = gateway.org
    data = await gateway.data(
        org.admin,
        UPDATE_TERRITORY,
        id=str(org.t1.id),
        input={
            "memberIds": [str(org.r3.id)],
            "rules": [{"industry": "Technology"}],
            "ownerId": str(org.m2.id),
        },
    )
    territory = data["updateTerritory"]
    assert territory["members"] == [{"id": str(org.r3.id)}]
    assert territory["rules"] == [{"country": None, "industry": "Technology"}]
    assert territory["owner"]["id"] == str(org.m2.id)


async def test_a_failed_update_changes_nothing(gateway: Gateway) -> None:
    org = gateway.org
    error = await gateway.error(
        org.admin,
        UPDATE_TERRITORY,
        id=str(org.t1.id),
        input={"ownerId": str(org.m2.id), "name": "T2 Everywhere else"},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    after = await gateway.data(
        org.admin,
        "query($id: ID!) { territory(id: $id) { name version owner { id } } }",
        id=str(org.t1.id),
    )
    assert after["territory"] == {
        "name": "T1 United States",
        "version": 1,
        "owner": {"id": str(org.m1.id)},
    }
