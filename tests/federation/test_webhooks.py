"""Customer Experience webhooks: Standard Webhooks signatures, tolerance, replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest

from sales_graph.db.models import Account
from sales_graph.errors import Unauthorized
from sales_graph.simulators import RunningSimulators
from tests.federation.conftest import WEBHOOK_SECRET, make_accounts
from tests.graphql.conftest import Gateway

PATH = "/webhooks/customer-experience"


def _signed(
    payload: dict[str, Any],
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    secret: str = WEBHOOK_SECRET,
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }
    return body, headers


def _signals(account_id: str, **signals: Any) -> dict[str, Any]:
    return {
        "type": "account.signals_updated",
        "timestamp": "2026-02-01T09:00:00Z",
        "data": {"account_id": account_id, **signals},
    }


async def _post(gateway: Gateway, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await gateway.client.post(PATH, content=body, headers=headers)


async def _stored(gateway: Gateway, account_id: str) -> Account:
    async with gateway.runtime.db.session() as session:
        row = await session.get(Account, uuid.UUID(account_id))
    assert row is not None
    return row


async def test_a_signed_delivery_updates_the_accounts_signals(gateway: Gateway) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    body, headers = _signed(
        _signals(account_id, health_score=42, nps=-10, open_critical_tickets=2, escalations=1)
    )

    response = await _post(gateway, body, headers)

    assert response.status_code == 204, response.text
    row = await _stored(gateway, account_id)
    assert (row.health_score, row.nps, row.open_critical_tickets, row.escalations) == (
        42,
        -10,
        2,
        1,
    )
    assert row.signals_updated_at is not None


async def test_a_bad_signature_is_401_and_changes_nothing(gateway: Gateway) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    body, headers = _signed(
        _signals(account_id, health_score=5), secret="whsec_" + base64.b64encode(b"x").decode()
    )
    response = await _post(gateway, body, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"

    body, headers = _signed(_signals(account_id, health_score=5))
    tampered = body.replace(b"5", b"6")
    assert (await _post(gateway, tampered, headers)).status_code == 401
    unsigned = {k: v for k, v in headers.items() if k != "webhook-signature"}
    assert (await _post(gateway, body, unsigned)).status_code == 401
    assert (await _stored(gateway, account_id)).health_score is None


async def test_a_replayed_delivery_is_acknowledged_and_ignored(gateway: Gateway) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    body, headers = _signed(_signals(account_id, health_score=70))
    assert (await _post(gateway, body, headers)).status_code == 204
    async with gateway.runtime.db.session() as session:
        row = await session.get(Account, uuid.UUID(account_id))
        assert row is not None
        row.health_score = 11
        session.add(row)

    assert (await _post(gateway, body, headers)).status_code == 204

    assert (await _stored(gateway, account_id)).health_score == 11


async def test_an_old_timestamp_is_refused(gateway: Gateway) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    body, headers = _signed(
        _signals(account_id, health_score=80), timestamp=int(time.time()) - 6 * 60
    )
    response = await _post(gateway, body, headers)
    assert response.status_code == 401
    assert "tolerance" in response.json()["error"]["message"]
    assert (await _stored(gateway, account_id)).health_score is None


async def test_an_older_report_does_not_overwrite_a_newer_one(gateway: Gateway) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    now = int(time.time())
    newer = _signed(_signals(account_id, nps=30), timestamp=now)
    older = _signed(_signals(account_id, nps=-30), timestamp=now - 60)
    assert (await _post(gateway, *newer)).status_code == 204
    assert (await _post(gateway, *older)).status_code == 204
    assert (await _stored(gateway, account_id)).nps == 30


async def test_a_signed_but_malformed_delivery_is_a_validation_error(gateway: Gateway) -> None:
    body, headers = _signed({"type": "account.signals_updated", "data": {"account_id": "x"}})
    response = await _post(gateway, body, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    # The id was not used up: the corrected delivery is applied.
    (account_id,) = await make_accounts(gateway, 1)
    body, headers = _signed(_signals(account_id, escalations=3), webhook_id=headers["webhook-id"])
    assert (await _post(gateway, body, headers)).status_code == 204
    assert (await _stored(gateway, account_id)).escalations == 3


async def test_without_redis_seen_ids_are_kept_in_process_until_they_expire() -> None:
    from sales_graph.web.webhooks import SeenDeliveries

    now = [0.0]
    seen = SeenDeliveries(None, prefix="t:", clock=lambda: now[0])
    assert await seen.first_time("a")
    assert not await seen.first_time("a")
    await seen.forget("a")
    assert await seen.first_time("a")
    now[0] += 601
    assert await seen.first_time("a")


def test_during_a_rotation_both_secrets_verify() -> None:
    from sales_graph.web.webhooks import verify

    old, new = WEBHOOK_SECRET, "whsec_" + base64.b64encode(b"the-next-secret").decode()
    for secret in (old, new):
        body, headers = _signed(_signals("acc"), secret=secret)
        webhook_id, _ = verify(f"{old} {new}", headers, body)
        assert webhook_id == headers["webhook-id"]
    body, headers = _signed(_signals("acc"), secret=new)
    with pytest.raises(Unauthorized):
        verify(old, headers, body)


async def test_a_delivery_drops_the_cached_health(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    (account_id,) = await make_accounts(gateway, 1)
    query = "query($id: ID!) { account(id: $id) { health { score } } }"
    await gateway.data(gateway.org.admin, query, id=account_id)
    await gateway.data(gateway.org.admin, query, id=account_id)
    health_calls = [r for r in sims["customer_experience"].requests if r.path.endswith("/health")]
    assert len(health_calls) == 1  # the second read came from the cache
    body, headers = _signed(_signals(account_id, health_score=12))
    assert (await _post(gateway, body, headers)).status_code == 204
    await gateway.data(gateway.org.admin, query, id=account_id)
    health_calls = [r for r in sims["customer_experience"].requests if r.path.endswith("/health")]
    assert len(health_calls) == 2
