"""A stored value that cannot be served nulls its field (with an error there), never the page."""

from __future__ import annotations

from sqlalchemy import text

from sales_graph import jsonlimits
from tests.graphql.conftest import Gateway, gateway  # noqa: F401

CREATE = "mutation($input: CreateLeadInput!) { createLead(input: $input) { id } }"
PAGE = "{ leads(limit: 50, orderBy: CREATED_AT_ASC) { items { email metadata } } }"


def nested(levels: int) -> str:
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


async def _write_raw(gateway: Gateway, lead_id: str, document: str) -> None:  # noqa: F811
    """Past every entrance: what a migration, a script or an older version could have left."""
    cast = "CAST(:doc AS jsonb)" if gateway.dialect == "postgresql" else ":doc"
    async with gateway.runtime.db.session() as session:
        connection = await session.connection()
        await connection.execute(
            text(f"UPDATE leads SET lead_metadata = {cast} WHERE id = :id"),  # noqa: S608
            {
                "doc": document,
                "id": lead_id if gateway.dialect == "postgresql" else lead_id.replace("-", ""),
            },
        )


async def test_an_unreadable_metadata_is_null_with_an_error_at_its_path(
    gateway: Gateway,  # noqa: F811
) -> None:
    admin = gateway.org.admin
    ids = []
    for n in range(3):
        data = await gateway.data(
            admin, CREATE, input={"email": f"l{n}@example.com", "metadata": {"n": n}}
        )
        ids.append(data["createLead"]["id"])
    # Deeper than a response may nest it, and deeper than the JSON decoder reads at all.
    await _write_raw(gateway, ids[0], nested(jsonlimits.READABLE_DEPTH + 200))
    await _write_raw(gateway, ids[2], nested(2000))

    response = await gateway.post(admin, PAGE)

    assert response.status_code == 200, response.text
    body = response.json()
    items = body["data"]["leads"]["items"]
    assert [item["email"] for item in items] == [
        "l0@example.com",
        "l1@example.com",
        "l2@example.com",
    ]
    assert [item["metadata"] for item in items] == [None, {"n": 1}, None]
    errors = sorted(body["errors"], key=lambda e: e["path"])
    assert [e["path"] for e in errors] == [
        ["leads", "items", 0, "metadata"],
        ["leads", "items", 2, "metadata"],
    ]
    assert {e["extensions"]["code"] for e in errors} == {"INTERNAL_ERROR"}
    assert all(e["extensions"]["details"] == {"unreadable": True} for e in errors)

    rest = await gateway.client.get(
        f"/api/v1/leads/{ids[0]}", headers={"Authorization": f"Bearer {gateway.token(admin)}"}
    )
    assert rest.status_code == 200, rest.text
    assert rest.json()["metadata"] is None
    assert rest.json()["email"] == "l0@example.com"
    listed = await gateway.client.get(
        "/api/v1/leads", headers={"Authorization": f"Bearer {gateway.token(admin)}"}
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["data"]) == 3
