"""The embedded footprint (SQLite, the in-process bus): the same fan-out and dispatcher, in the
gateway's process."""

from __future__ import annotations

from pathlib import Path

from sales_graph.app import create_app
from sales_graph.settings import EventSettings
from tests.events.conftest import until
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.webhooks.conftest import TEST_WEBHOOKS, HookGateway, Receiver


async def test_embedded_gateway_delivers_webhooks(
    fresh_sqlite: str, tmp_path: Path, hooks: Receiver
) -> None:
    org = await seeded_org(fresh_sqlite)
    app = create_app(
        gateway_settings(
            tmp_path,
            fresh_sqlite,
            events=EventSettings(in_process=True, relay_poll_interval_s=0.1),
            webhooks=TEST_WEBHOOKS,
        )
    )
    async with app_client(app) as client:
        gateway = HookGateway(client, app, org, "sqlite")
        hook = await gateway.hook(hooks.url, "lead.created")
        lead_id = await gateway.create_lead(hook.key, "embedded@example.com")
        await until(lambda: hooks.got(1))
        (received,) = hooks.requests
        event = hooks.verify(hook.secret, received)
        assert event["event_type"] == "lead.created"
        assert event["payload"]["lead_id"] == lead_id

        async def recorded() -> bool:
            # The dispatcher records a round's outcomes once its requests are answered.
            (logged,) = await gateway.deliveries(hook.key, hook.id)
            return logged["status"] == "delivered"

        await until(recorded)
