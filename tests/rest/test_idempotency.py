"""Idempotency-Key on POST: one effect per key and body, per principal."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from sales_graph.db.models import IdempotencyKey, User
from sales_graph.db.repositories import idempotency as key_repo
from sales_graph.services.idempotency import KEPT_FOR
from sales_graph.timeutil import utcnow
from tests.rest.conftest import Rest
from tests.rest.test_contract import CREATE_LEAD


async def _post(rest: Rest, user: User, key: str, body: dict[str, Any]) -> httpx.Response:
    headers = {**rest.headers(user), "Idempotency-Key": key}
    return await rest.gateway.client.post("/api/v1/leads", json=body, headers=headers)


async def _lead_count(rest: Rest) -> int:
    page = await rest.ok(rest.gateway.org.admin, "GET", "/api/v1/leads?limit=1")
    total: int = page["pagination"]["total"]
    return total


async def test_same_key_and_body_replays_without_a_second_effect(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    first = await _post(rest, admin, "key-1", CREATE_LEAD)
    assert first.status_code == 201, first.text
    again = await _post(rest, admin, "key-1", CREATE_LEAD)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _lead_count(rest) == 1


async def test_same_key_other_body_is_422(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    assert (await _post(rest, admin, "key-2", CREATE_LEAD)).status_code == 201
    other = await _post(rest, admin, "key-2", {**CREATE_LEAD, "email": "jane@example.com"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _lead_count(rest) == 1


async def test_keys_are_per_principal(rest: Rest) -> None:
    org = rest.gateway.org
    assert (await _post(rest, org.admin, "key-3", CREATE_LEAD)).status_code == 201
    other = {**CREATE_LEAD, "email": "jane@example.com"}
    assert (await _post(rest, org.m2, "key-3", other)).status_code == 201
    assert await _lead_count(rest) == 2


async def test_a_failed_call_does_not_use_up_the_key(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    bad = await _post(rest, admin, "key-4", {**CREATE_LEAD, "email": "not-an-email"})
    assert bad.status_code == 400
    good = await _post(rest, admin, "key-4", CREATE_LEAD)
    assert good.status_code == 201


async def test_malformed_key_is_400(rest: Rest) -> None:
    response = await _post(rest, rest.gateway.org.admin, "spaces are not allowed", CREATE_LEAD)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]["fields"]


async def test_concurrent_calls_with_one_key_have_one_effect(rest: Rest) -> None:
    admin = rest.gateway.org.admin
    responses = await asyncio.gather(*(_post(rest, admin, "key-5", CREATE_LEAD) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    # The first wins; the others wait on its key and see it in flight (409) or replay it.
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert len({r.json().get("id") for r in responses if r.status_code == 201}) == 1
    assert await _lead_count(rest) == 1


def _key(key: str, expires_at: datetime) -> IdempotencyKey:
    return IdempotencyKey(
        principal="partner-x",
        key=key,
        method="POST",
        path="/api/v1/leads",
        request_hash="0" * 64,
        state="done",
        expires_at=expires_at,
    )


async def test_expired_keys_are_purged_by_the_next_keyed_request(rest: Rest) -> None:
    now = utcnow()
    async with rest.gateway.runtime.db.session() as session:
        session.add_all([_key("old", now - timedelta(seconds=1)), _key("fresh", now + KEPT_FOR)])
    assert (await _post(rest, rest.gateway.org.admin, "key-6", CREATE_LEAD)).status_code == 201
    async with rest.gateway.runtime.db.session() as session:
        assert await key_repo.get(session, "partner-x", "old") is None
        assert await key_repo.get(session, "partner-x", "fresh") is not None


async def test_purge_deletes_only_expired_keys(rest: Rest) -> None:
    now = utcnow()
    async with rest.gateway.runtime.db.session() as session:
        session.add_all(
            [
                _key("a", now - timedelta(hours=25)),
                _key("b", now),
                _key("c", now + timedelta(seconds=1)),
            ]
        )
    async with rest.gateway.runtime.db.session() as session:
        assert await key_repo.purge_expired(session, now) == 2
    async with rest.gateway.runtime.db.session() as session:
        assert await key_repo.purge_expired(session, now) == 0
        assert await key_repo.get(session, "partner-x", "c") is not None


async def test_a_stored_answer_does_not_replay_to_a_changed_authority(rest: Rest) -> None:
    """The caller is read as they are now: after a demotion the same key and body run anew,
    and are refused, rather than replaying what the manager was once allowed."""
    org = rest.gateway.org
    body = {
        "period": "Q3_2027",
        "territory_id": str(org.t1.id),
        "forecast_type": "commit",
        "amount": 1000,
    }
    headers = {**rest.headers(org.m1), "Idempotency-Key": "submit-1"}
    first = await rest.gateway.client.post("/api/v1/forecasts", json=body, headers=headers)
    assert first.status_code == 201, first.text
    async with rest.gateway.runtime.db.session() as session:
        manager = await session.get(User, org.m1.id)
        assert manager is not None
        manager.role = "sales_rep"
        session.add(manager)
    again = await rest.gateway.client.post("/api/v1/forecasts", json=body, headers=headers)
    assert again.status_code == 403, again.text
    assert "Idempotent-Replayed" not in again.headers
