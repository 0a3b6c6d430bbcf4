"""ETag on an opportunity; If-Match on its stage change: a stale version is 412."""

from __future__ import annotations

from sales_graph.db.models import Account
from tests.rest.conftest import Rest
from tests.rest.test_contract import UPDATE_STAGE, create_opportunity, new_lead


async def _opportunity(rest: Rest, account: Account) -> str:
    org = rest.gateway.org
    request = create_opportunity(str(account.id), (await new_lead(rest))["id"], str(org.r1.id))
    created = await rest.ok(org.admin, "POST", "/api/v1/opportunities", request, status=201)
    opportunity_id: str = created["id"]
    return opportunity_id


async def test_if_match(rest: Rest, account: Account) -> None:
    admin = rest.gateway.org.admin
    opportunity_id = await _opportunity(rest, account)
    read = await rest.call(admin, "GET", f"/api/v1/opportunities/{opportunity_id}")
    etag = read.headers["ETag"]
    assert etag == f'"{read.json()["version"]}"'

    path = f"/api/v1/opportunities/{opportunity_id}/stage"
    headers = {**rest.headers(admin), "If-Match": etag}
    changed = await rest.gateway.client.put(path, json=UPDATE_STAGE, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag

    stale = await rest.gateway.client.put(path, json={"stage": "negotiation"}, headers=headers)
    assert stale.status_code == 412
    error = stale.json()["error"]
    assert error["code"] == "PRECONDITION_FAILED"
    assert error["details"]["current_version"] == int(changed.headers["ETag"].strip('"'))
    after = await rest.ok(admin, "GET", f"/api/v1/opportunities/{opportunity_id}")
    assert after["stage"] == "proposal"


async def test_malformed_if_match_is_400(rest: Rest, account: Account) -> None:
    admin = rest.gateway.org.admin
    opportunity_id = await _opportunity(rest, account)
    response = await rest.gateway.client.put(
        f"/api/v1/opportunities/{opportunity_id}/stage",
        json=UPDATE_STAGE,
        headers={**rest.headers(admin), "If-Match": "yesterday"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {
        "If-Match": 'must be the ETag of the last read, such as "3", or *'
    }
