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


CREATE = (
    "mutation($url: String!) { createWebhookEndpoint(input: {url: $url, "
    'eventTypes: ["lead.created"]}) { secret } }'
)
UPDATE = (
    "mutation($id: ID!, $url: String!) { updateWebhookEndpoint(id: $id, input: {url: $url})"
    " { url } }"
)


def _malformed(base: str) -> list[tuple[str, str]]:
    """URLs of an allowed host (``base``: the receiver's) that are not as RFC 3986 writes them,
    with what the refusal says: each would be sent other than as registered, or not at all."""
    port = base.split(":")[2].split("/")[0]
    return [
        # A "%" that does not begin two hex digits.
        (f"{base}/good/%zz/%?x=%g1", "percent-encoding"),
        (f"{base}/good/%u0041", "percent-encoding"),
        (f"{base}?x=%41%2", "percent-encoding"),
        (f"{base}%", "percent-encoding"),
        # Whitespace and control characters, which urlsplit drops (CR, LF, TAB) or we would
        # percent-encode when sending; leading and trailing ones are trimmed as from any text.
        (f"{base}/a b", "whitespace or control characters"),
        (f"{base}?x=a\r\nX-Evil: 1", "whitespace or control characters"),
        (f"{base}/a\nb", "whitespace or control characters"),
        (f"{base}/a\tb", "whitespace or control characters"),
        (f"http://127.0.0.1\t:{port}/hooks", "whitespace or control characters"),
        (f"{base}/a\x01b", "whitespace or control characters"),
        (f"{base}/a\x1fb", "whitespace or control characters"),
        (f"{base}/a\x7fb", "whitespace or control characters"),
        (f"{base}/a\x85b", "whitespace or control characters"),
        (f"{base}/a\u00a0b", "whitespace or control characters"),
        (f"{base}?x=\u2028&y=1", "whitespace or control characters"),
        # A fragment, even an empty one; port 0 (a port is 1 to 65535).
        (f"{base}#", "fragment"),
        (f"{base}?x=1#", "fragment"),
        ("http://127.0.0.1:0/hooks", "port"),
        ("http://127.0.0.1:00/hooks", "port"),
    ]


async def test_malformed_urls_are_refused_on_url(gateway: HookGateway, hooks: Receiver) -> None:
    """Registering (REST and GraphQL) and changing the URL (PUT and GraphQL) refuse a URL that
    is not as RFC 3986 writes it with a 400 VALIDATION_ERROR on ``url``, as they refuse a
    target they will not call, and store nothing (docs/real-time.md, "Where an endpoint may
    point")."""
    key = await gateway.api_key(MANAGE)
    endpoint_id, _ = await gateway.register(key, hooks.url, "lead.created")
    path = f"/api/v1/webhooks/endpoints/{endpoint_id}"
    for url, reason in _malformed(hooks.url):
        created = await gateway.post_endpoint(key, url, "lead.created")
        changed = await gateway.rest(key, "PUT", path, json={"url": url})
        for response in (created, changed):
            assert response.status_code == 400, (url, response.text)
            error = response.json()["error"]
            assert error["code"] == "VALIDATION_ERROR", (url, error)
            assert list(error["details"]["fields"]) == ["url"], (url, error)
            assert reason in error["details"]["fields"]["url"], (url, error)
        for body in (
            await gateway.graphql(key, CREATE, url=url),
            await gateway.graphql(key, UPDATE, id=endpoint_id, url=url),
        ):
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "VALIDATION_ERROR", (url, error)
            assert reason in error["extensions"]["details"]["fields"]["url"], (url, error)
    listed = await gateway.rest(key, "GET", "/api/v1/webhooks/endpoints")
    assert [(e["id"], e["url"]) for e in listed.json()["data"]] == [(endpoint_id, hooks.url)]


async def test_well_formed_urls_are_stored_as_written(
    gateway: HookGateway, hooks: Receiver
) -> None:
    """Percent-encodings of either case, a port of 65535, an empty query and non-ASCII text
    of the path (sent percent-encoded as UTF-8) are accepted and stored as they were sent."""
    key = await gateway.api_key(MANAGE)
    for url in (
        f"{hooks.url}/%41%2f%C3%A9?x=%25&y=a%20b",
        f"{hooks.url}/caf\u00e9?",
        "http://127.0.0.1:65535/hooks",
    ):
        response = await gateway.post_endpoint(key, url, "lead.created")
        assert response.status_code == 201, (url, response.text)
        assert response.json()["endpoint"]["url"] == url


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


async def test_a_body_is_refused_where_an_operation_takes_none(
    gateway: HookGateway, hooks: Receiver
) -> None:
    """DELETE (and a replay's POST) takes no body: one is a 400 VALIDATION_ERROR, unknown
    fields named as a POST's or PUT's are, and nothing is deleted; no body, or an empty JSON
    object (which names nothing), is what it takes (docs/rest.md, "Requests")."""
    key = await gateway.api_key(MANAGE)
    endpoint_id, _ = await gateway.register(key, hooks.url, "lead.created")
    path = f"/api/v1/webhooks/endpoints/{endpoint_id}"
    json = {"Content-Type": "application/json"}
    for content, headers, fields in (
        (b'{"enabled": false}', json, {"enabled": "unknown body field"}),
        (
            b'{"url": "x", "force": true}',
            json,
            dict.fromkeys(("force", "url"), "unknown body field"),
        ),
        (b"[]", json, {"body": "not allowed: the operation takes no body"}),
        (b"null", json, {"body": "not allowed: the operation takes no body"}),
        (b"{", json, {"body": "not allowed: the operation takes no body"}),
        (b" ", {}, {"body": "not allowed: the operation takes no body"}),
        (b"enabled=false", {}, {"body": "not allowed: the operation takes no body"}),
    ):
        response = await gateway.client.request(
            "DELETE", path, content=content, headers={"X-API-Key": key, **headers}
        )
        assert response.status_code == 400, (content, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR", (content, error)
        assert error["details"]["fields"] == fields, (content, error)
    assert (await gateway.rest(key, "GET", path)).status_code == 200

    replay = "/api/v1/webhooks/deliveries/999999999/replay"
    refused = await gateway.rest(key, "POST", replay, json={"id": "x"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["fields"] == {"id": "unknown body field"}
    unknown = await gateway.rest(key, "POST", replay, json={})
    assert unknown.status_code == 404, unknown.text
    listed = await gateway.rest(key, "GET", "/api/v1/webhooks/endpoints", content=b'{"all": 1}')
    assert listed.status_code == 400, listed.text
    assert listed.json()["error"]["details"]["fields"] == {"all": "unknown body field"}

    deleted = await gateway.rest(key, "DELETE", path, json={})
    assert deleted.status_code == 204, deleted.text
    endpoint_id, _ = await gateway.register(key, hooks.url, "lead.created")
    deleted = await gateway.rest(key, "DELETE", f"/api/v1/webhooks/endpoints/{endpoint_id}")
    assert deleted.status_code == 204, deleted.text
