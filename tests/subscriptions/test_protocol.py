"""graphql-transport-ws against a real server, for messages and requests that are not what they
should be: a message the protocol does not describe closes the socket with 4400 (with a close
frame and its reason), a malformed request is an ``error`` of its operation only, worded as
``POST /graphql`` words it, and errors carry the request id of the upgrade request. A bearer
token past its ``exp`` is refused at ``connection_init``, before any ``connection_ack``."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from tests.subscriptions.conftest import OPPORTUNITY_CHANGED, LiveFactory, LiveGateway, Ws

SUBSCRIPTION = "subscription { opportunityChanged { change } }"


async def _http_reason(gateway: LiveGateway, body: dict[str, Any]) -> str:
    """What ``POST /graphql`` answers a request with ``body``: a 400 VALIDATION_ERROR."""
    token = gateway.token(gateway.org.r1)
    response = await gateway.client.post(
        "/graphql",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    message: str = error["message"]
    return message


async def _closed_at_once(ws: Ws) -> tuple[int, str]:
    """The close frame that is the server's next message (nothing else comes first)."""
    with pytest.raises(ConnectionClosed) as closed:
        await _no_message(ws)
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def _no_message(ws: Ws) -> None:
    message = await ws.receive()
    pytest.fail(f"a message before the close: {message}")


@pytest.mark.parametrize(
    "payload",
    [
        {"query": SUBSCRIPTION, "variables": "x"},
        {"query": SUBSCRIPTION, "variables": [1]},
        {"query": SUBSCRIPTION, "variables": 5},
        {"query": SUBSCRIPTION, "operationName": 5},
        {"query": SUBSCRIPTION, "extensions": "x"},
    ],
)
async def test_malformed_parameters_are_an_error_of_their_operation(
    live_embedded: LiveFactory, payload: dict[str, Any]
) -> None:
    async with live_embedded() as gateway:
        expected = await _http_reason(gateway, payload)
        async with gateway.ws(gateway.org.r1) as ws:
            await ws.acked()
            await ws.subscribe("running", OPPORTUNITY_CHANGED)
            await gateway.until_listening(1)
            await ws.send({"id": "bad", "type": "subscribe", "payload": payload})
            error = await ws.receive()
            assert (error["type"], error["id"]) == ("error", "bad"), error
            (only,) = error["payload"]
            assert only["message"] == expected
            assert only["extensions"]["code"] == "VALIDATION_ERROR"
            # The socket and its other subscription go on.
            await ws.send({"type": "ping"})
            assert await ws.receive() == {"type": "pong"}
            assert gateway.listeners() == 1
            deal = await gateway.create_opportunity(gateway.org.r1, "Still delivered")
            got = (await ws.next("running"))["opportunityChanged"]
            assert got["opportunity"]["id"] == deal


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            {"id": "a", "type": "subscribe", "payload": "boom"},
            "Invalid message: subscribe needs a payload, an object",
        ),
        (
            {"id": 5, "type": "subscribe", "payload": {"query": SUBSCRIPTION}},
            "Invalid message: subscribe needs an id, a non-empty string",
        ),
        (
            {"id": "", "type": "subscribe", "payload": {"query": SUBSCRIPTION}},
            "Invalid message: subscribe needs an id, a non-empty string",
        ),
        (
            {"id": "x" * 129, "type": "subscribe", "payload": {"query": SUBSCRIPTION}},
            "Invalid message: subscribe needs an id of at most 128 characters",
        ),
        (
            {"id": "a", "type": "subscribe", "payload": {"query": 5}},
            "Invalid message: subscribe needs a payload with a query, a string",
        ),
        (
            {"id": "a", "type": "subscribe", "payload": {}},
            "Invalid message: subscribe needs a payload with a query, a string",
        ),
        ({"id": 5, "type": "complete"}, "Invalid message: complete needs a string id"),
        ([1], "Invalid message: not a JSON object"),
        ("subscribe", "Invalid message: not a JSON object"),
    ],
)
async def test_an_invalid_message_closes_the_socket_with_4400(
    live_embedded: LiveFactory, message: Any, reason: str
) -> None:
    async with live_embedded() as gateway, gateway.ws(gateway.org.r1) as ws:
        await ws.acked()
        await ws.subscribe("running", OPPORTUNITY_CHANGED)
        await gateway.until_listening(1)
        await ws.connection.send(orjson.dumps(message).decode())
        # A close frame with the reason, not a dropped connection (1006).
        assert await _closed_at_once(ws) == (4400, reason)
        # Its subscriptions end with it.
        await gateway.until_listening(0)


async def test_an_id_of_128_characters_is_taken(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway, gateway.ws(gateway.org.r1) as ws:
        await ws.acked()
        longest = "é" * 128  # characters, not bytes
        await ws.subscribe(longest, OPPORTUNITY_CHANGED)
        await gateway.until_listening(1)
        deal = await gateway.create_opportunity(gateway.org.r1, "Longest id")
        assert (await ws.next(longest))["opportunityChanged"]["opportunity"]["id"] == deal


def _padded_subscribe(id: str, size: int) -> str:
    """A ``subscribe`` of ``size`` bytes, padded by an unused variable that holds a character
    of two bytes in UTF-8 (bytes count, not characters)."""
    message = {
        "id": id,
        "type": "subscribe",
        "payload": {"query": SUBSCRIPTION, "variables": {"pad": "é"}},
    }
    short = len(orjson.dumps(message))
    message["payload"]["variables"] = {"pad": "é" + "x" * (size - short)}  # type: ignore[index]
    text = orjson.dumps(message).decode()
    assert len(text.encode()) == size
    return text


async def _ping_unless_closed(ws: Ws) -> None:
    """A ping, whose pong would come if the message before it had been taken."""
    with contextlib.suppress(ConnectionClosed):
        await ws.send({"type": "ping"})


async def test_a_message_larger_than_a_request_body_closes_with_1009(
    live_embedded: LiveFactory,
) -> None:
    """uvicorn as ``sales-graph serve`` runs it takes WebSocket messages up to the request
    body's limit (SALES_GRAPH_HTTP__MAX_BODY_BYTES, 1 MiB), not its own 16 MiB: a larger one
    closes the socket with 1009 ("message too big", RFC 6455) before the app sees it."""
    limit = 1024 * 1024
    async with live_embedded() as gateway, gateway.ws(gateway.org.r1) as ws:
        assert gateway.runtime.settings.http.max_body_bytes == limit
        await ws.acked()
        await ws.subscribe("running", OPPORTUNITY_CHANGED)
        # At the limit: taken (a subscription of its own).
        await ws.connection.send(_padded_subscribe("at the limit", limit))
        await gateway.until_listening(2)
        await ws.connection.send(_padded_subscribe("over it", limit + 1))
        await _ping_unless_closed(ws)
        code, reason = await _closed_at_once(ws)
        assert code == 1009, reason
        await gateway.until_listening(0)


async def test_a_server_that_takes_larger_messages_still_gets_1009(
    live_embedded: LiveFactory,
) -> None:
    """Under a server that hands larger messages over (uvicorn run as ``uvicorn --factory
    sales_graph.app:create_app``, with its 16 MiB), the gateway closes with 1009 itself."""
    async with (
        live_embedded(server={"ws_max_size": 16 * 1024 * 1024}) as gateway,
        gateway.ws(gateway.org.r1) as ws,
    ):
        await ws.acked()
        await ws.subscribe("running", OPPORTUNITY_CHANGED)
        await ws.connection.send(_padded_subscribe("at the limit", 1024 * 1024))
        await gateway.until_listening(2)
        await ws.connection.send(_padded_subscribe("over it", 1024 * 1024 + 1))
        await _ping_unless_closed(ws)
        assert await _closed_at_once(ws) == (1009, "Message too big: more than 1048576 bytes")
        await gateway.until_listening(0)


async def test_errors_carry_the_upgrade_requests_id(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        async with gateway.ws(gateway.org.r1) as ws:
            request_id = ws.connection.response.headers["X-Request-ID"]
            assert request_id
            await ws.acked()
            await ws.subscribe("q", "{ me { id } }")
            refused = await ws.receive()
            assert refused["type"] == "error", refused
            assert refused["payload"][0]["extensions"]["request_id"] == request_id
            await ws.subscribe("v", "subscription($stage: OpportunityStage) { x }", stage="NONE")
            invalid = await ws.receive()
            assert invalid["type"] == "error", invalid
            extensions = invalid["payload"][0]["extensions"]
            assert (extensions["code"], extensions["request_id"]) == (
                "VALIDATION_ERROR",
                request_id,
            )
            # No such operation: the caller's mistake, not an internal error.
            named = {"query": "subscription A { opportunityChanged { change } }"}
            await ws.send(
                {"id": "u", "type": "subscribe", "payload": {**named, "operationName": "B"}}
            )
            unknown = await ws.receive()
            assert unknown["type"] == "error", unknown
            assert unknown["payload"][0]["message"] == 'Unknown operation named "B".'
            assert unknown["payload"][0]["extensions"]["code"] == "VALIDATION_ERROR"
        # A plain id the client sends is the connection's (as for a request).
        async with gateway.ws(gateway.org.r1, headers={"X-Request-ID": "client-ws-1"}) as ws:
            assert ws.connection.response.headers["X-Request-ID"] == "client-ws-1"
            await ws.acked()
            await ws.send({"id": "m", "type": "subscribe", "payload": {"query": "{ me { id } }"}})
            refused = await ws.receive()
            assert refused["payload"][0]["extensions"]["request_id"] == "client-ws-1"


async def test_a_token_past_its_exp_is_refused_before_the_ack(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        r1 = gateway.org.r1
        # Expired 5 s ago: within the verifier's leeway, which a request still gets.
        token = gateway.runtime.tokens.issue(str(r1.id), roles=[r1.role], ttl_s=-5)
        response = await gateway.client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["me"]["id"] == str(r1.id)

        async with gateway.ws(payload={"Authorization": f"Bearer {token}"}) as ws:
            assert await _closed_at_once(ws) == (4401, "The token expired")
        # A token with time left is acknowledged.
        fresh = gateway.runtime.tokens.issue(str(r1.id), roles=[r1.role], ttl_s=60)
        async with gateway.ws(payload={"Authorization": f"Bearer {fresh}"}) as ws:
            await ws.acked()
