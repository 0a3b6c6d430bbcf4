"""The gateway of tests/graphql, with its connectors pointed at simulators on loopback ports."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sales_graph.app import create_app
from sales_graph.db.models import Account
from sales_graph.settings import UpstreamSettings
from sales_graph.simulators import SYSTEMS, RunningSimulators, serve_simulators
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

KEYS = {system: f"fed-{system}-key" for system in SYSTEMS}
DEADLINE_S = 1.0
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cw=="


@pytest.fixture
async def sims() -> AsyncIterator[RunningSimulators]:
    running = await serve_simulators(api_keys=KEYS)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def upstream_overrides() -> dict[str, dict[str, Any]]:
    """Per-system settings a test module changes by overriding this fixture."""
    return {}


def upstream_settings(
    sims: RunningSimulators, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, UpstreamSettings]:
    """Each system at its simulator (the values of ``sims.env()``), with test-sized waits."""
    env = sims.env()
    groups: dict[str, UpstreamSettings] = {}
    for system in SYSTEMS:
        prefix = f"SALES_GRAPH_{system.upper()}__"
        values: dict[str, Any] = {
            "base_url": env[prefix + "BASE_URL"],
            "api_key": SecretStr(env[prefix + "API_KEY"]),
            "connect_timeout_s": DEADLINE_S,
            "read_timeout_s": DEADLINE_S,
            "deadline_s": DEADLINE_S,
            "retry_base_backoff_s": 0.01,
            "retry_max_backoff_s": 0.05,
        }
        if system == "customer_experience":
            values["webhook_secret"] = SecretStr(WEBHOOK_SECRET)
        values.update((overrides or {}).get(system, {}))
        groups[system] = UpstreamSettings.model_validate(values)
    return groups


@pytest.fixture
async def gateway(
    fresh_database: str,
    tmp_path: Path,
    sims: RunningSimulators,
    upstream_overrides: dict[str, dict[str, Any]],
) -> AsyncIterator[Gateway]:
    org = await seeded_org(fresh_database)
    settings = gateway_settings(
        tmp_path, fresh_database, **upstream_settings(sims, upstream_overrides)
    )
    app = create_app(settings)
    async with app_client(app) as client:
        yield Gateway(client, app, org, fresh_database.split(":")[0].split("+")[0])


async def make_accounts(gateway: Gateway, count: int) -> list[str]:
    """``count`` accounts of r1 in T1, named Account 00, 01, ...; their ids in name order."""
    org = gateway.org
    rows = [
        Account(
            name=f"Account {n:02d}",
            name_normalized=f"account {n:02d}",
            owner_id=org.r1.id,
            territory_id=org.t1.id,
        )
        for n in range(count)
    ]
    async with gateway.runtime.db.session() as session:
        session.add_all(rows)
    return [str(row.id) for row in rows]


def signed_headers(
    body: bytes,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    secret: str = WEBHOOK_SECRET,
) -> dict[str, str]:
    """The headers of a Standard Webhooks delivery of ``body``, signed here by the spec's
    recipe (not by the library the gateway verifies with)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }
