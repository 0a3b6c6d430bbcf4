"""Registering endpoints: who may, what they may receive, where they may point (SSRF), who
sees them, and deleting them (docs/real-time.md, "Outbound webhooks")."""

from __future__ import annotations

import uuid

import pytest

from sales_graph.services.webhooks import blocked_address
from tests.webhooks.conftest import HookGateway, Receiver, endpoint_routes

MANAGE = "leads:read webhooks:manage"


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 - an address checked, not bound
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),  # reserved
        # IPv4 inside IPv6, judged as the IPv4 it reaches: NAT64 (169.254.169.254, 10.0.0.1),
        # IPv4-compatible, 6to4.
        ("64:ff9b::a9fe:a9fe", True),
        ("64:ff9b:1::a00:1", True),
        ("::a9fe:a9fe", True),
        ("::127.0.0.2", True),
        ("2002:a9fe:a9fe::", True),
        ("64:ff9b::101:101", False),  # 1.1.1.1 through NAT64
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_addresses_that_are_not_public_are_blocked(address: str, blocked: bool) -> None:
    assert blocked_address(address, []) is blocked
    assert blocked_address(address, ["0.0.0.0/0", "::/0"]) is False


async def test_private_targets_are_refused(gateway: HookGateway) -> None:
    key = await gateway.api_key(MANAGE)
    strict = gateway.runtime.settings.webhooks.model_copy(update={"allowed_networks": []})
    gateway.runtime.settings.webhooks = strict
    for url in (
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://10.0.0.5/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://0x7f000001/hooks",
        "ftp://example.com/hooks",
        "http://user:pw@example.com/hooks",
        "http://no-such-host.invalid/hooks",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[::10.0.0.1]/hooks",
        # Not ASCII: httpx cannot send it (IDNA is xn--...), and ① is 1 to a resolver.
        "https://\u2460.\u2460.\u2460.\u2460/hooks",
        "http://\u2460\u2461\u2466.0.0.1/hooks",
    ):
        response = await gateway.post_endpoint(key, url, "lead.created")
        assert response.status_code == 400, (url, response.text)
        assert "url" in response.json()["error"]["details"]["fields"], response.text


async def test_https_is_required_unless_the_setting_says_otherwise(
    gateway: HookGateway, hooks: Receiver
) -> None:
    key = await gateway.api_key(MANAGE)
    gateway.runtime.settings.webhooks = gateway.runtime.settings.webhooks.model_copy(
        update={"require_https": True}
    )
    response = await gateway.post_endpoint(key, hooks.url, "lead.created")
    assert response.status_code == 400, response.text


async def test_scopes_decide_who_registers_what(gateway: HookGateway, hooks: Receiver) -> None:
    no_manage = await gateway.api_key("leads:read")
    response = await gateway.post_endpoint(no_manage, hooks.url, "lead.created")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["details"] == {"required_scope": "webhooks:manage"}

    manage_only = await gateway.api_key("webhooks:manage")
    response = await gateway.post_endpoint(manage_only, hooks.url, "opportunity.closed_won")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["details"]["event_type"] == "opportunity.closed_won"

    response = await gateway.post_endpoint(manage_only, hooks.url, "no.such_event")
    assert response.status_code == 400, response.text


async def test_a_user_has_no_endpoints(gateway: HookGateway, hooks: Receiver) -> None:
    admin = gateway.org.admin
    data = await gateway.data(admin, "{ webhookEndpoints { id } }")
    assert data == {"webhookEndpoints": []}
    error = await gateway.error(
        admin,
        "mutation($url: String!) { createWebhookEndpoint(input: {url: $url, "
        'eventTypes: ["lead.created"]}) { secret } }',
        url=hooks.url,
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_partner_sees_and_manages_only_its_own_endpoints(
    gateway: HookGateway, hooks: Receiver
) -> None:
    mine = await gateway.api_key(MANAGE)
    theirs = await gateway.api_key(MANAGE)
    endpoint_id, _ = await gateway.register(mine, hooks.url, "lead.created")

    listed = await gateway.rest(theirs, "GET", "/api/v1/webhooks/endpoints")
    assert listed.json() == {"data": []}
    for method, path, body in endpoint_routes(endpoint_id):
        response = await gateway.rest(theirs, method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)

    own = await gateway.rest(mine, "GET", "/api/v1/webhooks/endpoints")
    (listed_endpoint,) = own.json()["data"]
    assert listed_endpoint["id"] == endpoint_id
    assert listed_endpoint["event_types"] == ["lead.created"]
    assert "secret" not in listed_endpoint

    changed = await gateway.rest(
        mine,
        "PUT",
        f"/api/v1/webhooks/endpoints/{endpoint_id}",
        json={"event_types": ["lead.created", "lead.qualified"], "enabled": False},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["event_types"] == ["lead.created", "lead.qualified"]


def test_every_topic_we_publish_is_fanned_out() -> None:
    from sales_graph.events.catalog import EVENTS
    from sales_graph.events.subscriptions import WEBHOOK_FAN_OUT
    from sales_graph.services.webhooks import EVENT_SCOPES

    assert {s.topic for s in WEBHOOK_FAN_OUT} == {kind.topic for kind in EVENTS.values()}
    assert set(EVENT_SCOPES) == set(EVENTS)


def test_the_default_retries_span_about_a_day() -> None:
    from sales_graph.services.webhooks import schedule
    from sales_graph.settings import WebhookSettings

    waits = schedule(WebhookSettings())
    assert len(waits) == 14
    assert waits[:3] == [10, 20, 40]
    assert max(waits) == 6 * 3600
    assert 20 * 3600 < sum(waits) < 26 * 3600


def test_an_attempt_connects_to_the_checked_address() -> None:
    from sales_graph.services.webhooks import pinned

    target = pinned("https://partner.example.com:8443/hooks?x=1", "93.184.216.34")
    assert (target.tls, target.address, target.port) == (True, "93.184.216.34", 8443)
    assert target.host_header == "partner.example.com:8443"
    assert target.server_name == "partner.example.com"
    assert target.target == "/hooks?x=1"
    v6 = pinned("http://[2606:4700::1]/h%20x/ü y?q=a b#", "2606:4700::1")
    assert (v6.tls, v6.port, v6.host_header) == (False, 80, "[2606:4700::1]")
    # Nothing of the URL can end the request line or add a header.
    assert v6.target == "/h%20x/%C3%BC%20y?q=a%20b"
    assert pinned("http://h.example/", "1.1.1.1").target == "/"
    assert pinned("http://h.example", "1.1.1.1").target == "/"
    assert pinned("http://h.example/a\r\nX-Evil: 1", "1.1.1.1").target == "/aX-Evil:%201"


async def test_a_deleted_endpoint_is_gone_and_frees_its_place(
    gateway: HookGateway, hooks: Receiver
) -> None:
    """A client at the limit, every endpoint disabled, is still at the limit; deleting one
    frees its place, and its id is NOT_FOUND from then on (docs/real-time.md)."""
    gateway.runtime.settings.webhooks = gateway.runtime.settings.webhooks.model_copy(
        update={"max_endpoints_per_client": 2}
    )
    key = await gateway.api_key(MANAGE)
    first, _ = await gateway.register(key, hooks.url + "?first", "lead.created")
    second, _ = await gateway.register(key, hooks.url + "?second", "lead.created")
    for endpoint_id in (first, second):
        response = await gateway.rest(
            key, "PUT", f"/api/v1/webhooks/endpoints/{endpoint_id}", json={"enabled": False}
        )
        assert response.status_code == 200, response.text
    full = await gateway.post_endpoint(key, hooks.url + "?third", "lead.created")
    assert full.status_code == 409, full.text
    assert full.json()["error"]["details"] == {"max_endpoints": 2}

    # An unknown id is NOT_FOUND (another client's endpoint too: the test of ownership above);
    # a key without webhooks:manage is refused before anything is looked up.
    unknown = await gateway.rest(key, "DELETE", f"/api/v1/webhooks/endpoints/{uuid.uuid4()}")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    no_manage = await gateway.api_key("leads:read")
    refused = await gateway.rest(no_manage, "DELETE", f"/api/v1/webhooks/endpoints/{first}")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["details"] == {"required_scope": "webhooks:manage"}

    deleted = await gateway.rest(key, "DELETE", f"/api/v1/webhooks/endpoints/{first}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert "content-type" not in deleted.headers
    for method, path, body in endpoint_routes(first):
        response = await gateway.rest(key, method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    listed = await gateway.rest(key, "GET", "/api/v1/webhooks/endpoints")
    assert [e["id"] for e in listed.json()["data"]] == [second]

    again = await gateway.post_endpoint(key, hooks.url + "?third", "lead.created")
    assert again.status_code == 201, again.text
    full = await gateway.post_endpoint(key, hooks.url + "?fourth", "lead.created")
    assert full.status_code == 409, full.text


async def test_an_endpoint_is_deleted_over_graphql(gateway: HookGateway, hooks: Receiver) -> None:
    delete = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"
    key = await gateway.api_key(MANAGE)
    endpoint_id, _ = await gateway.register(key, hooks.url, "lead.created")

    error = await gateway.error(gateway.org.admin, delete, id=endpoint_id)
    assert error["extensions"]["code"] == "FORBIDDEN"
    other = await gateway.graphql(await gateway.api_key(MANAGE), delete, id=endpoint_id)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND", other

    assert await gateway.graphql(key, delete, id=endpoint_id) == {
        "data": {"deleteWebhookEndpoint": endpoint_id}
    }
    read = await gateway.graphql(
        key, "query($id: ID!) { webhookEndpoint(id: $id) { id } }", id=endpoint_id
    )
    assert read["errors"][0]["extensions"]["code"] == "NOT_FOUND", read
    again = await gateway.graphql(key, delete, id=endpoint_id)
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND", again
    assert await gateway.graphql(key, "{ webhookEndpoints { id } }") == {
        "data": {"webhookEndpoints": []}
    }
