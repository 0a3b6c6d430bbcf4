"""Subscriptions over GraphQL over SSE ("distinct connections" mode) with an httpx stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.subscriptions.conftest import OPPORTUNITY_CHANGED, LiveFactory


@dataclass
class Sse:
    """The messages of an event stream: ``(event, data)``; comment lines are counted."""

    lines: AsyncIterator[str]
    comments: int = 0
    _event: str = ""
    _data: list[str] = field(default_factory=list)

    async def message(self, deadline_s: float = 20) -> tuple[str, Any]:
        async with asyncio.timeout(deadline_s):
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event:"):
                    self._event = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    self._data.append(line.removeprefix("data:").strip())
                elif line == "" and self._event:
                    data = "\n".join(self._data)
                    event, self._event, self._data = self._event, "", []
                    return event, orjson.loads(data) if data else None
        raise AssertionError("the stream ended")

    async def comment(self, deadline_s: float = 20) -> None:
        seen = self.comments
        async with asyncio.timeout(deadline_s):
            async for line in self.lines:
                assert not line.startswith("event:"), line
                if line.startswith(":"):
                    self.comments += 1
                if self.comments > seen:
                    return


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}


async def test_events_over_sse(live: LiveFactory) -> None:
    async with live() as gateway:
        org = gateway.org
        body = {"query": OPPORTUNITY_CHANGED}
        async with gateway.client.stream(
            "POST", "/graphql", json=body, headers=_headers(gateway.token(org.r1))
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            sse = Sse(response.aiter_lines())
            await gateway.until_listening(1)
            deal = await gateway.create_opportunity(org.r1, "Streamed")
            event, data = await sse.message()
            assert event == "next"
            change = data["data"]["opportunityChanged"]
            assert change["change"] == "CREATED"
            assert change["opportunity"]["id"] == deal
            assert change["opportunity"]["owner"]["name"] == org.r1.name
        await gateway.until_listening(0)


async def test_sse_heartbeat_and_expiry(live_embedded: LiveFactory) -> None:
    async with live_embedded(heartbeat_s=0.2) as gateway:
        token = gateway.runtime.tokens.issue(
            str(gateway.org.r1.id), roles=[gateway.org.r1.role], ttl_s=2
        )
        body = {"query": OPPORTUNITY_CHANGED}
        async with gateway.client.stream(
            "POST", "/graphql", json=body, headers=_headers(token)
        ) as response:
            sse = Sse(response.aiter_lines())
            await sse.comment()
            event, data = await sse.message()
            assert event == "next"
            error = data["errors"][0]
            assert error["extensions"] == {
                "code": "UNAUTHORIZED",
                "close_code": 4401,
                "request_id": response.headers["X-Request-ID"],
            }
            assert error["message"] == "The token expired"
            assert await sse.message() == ("complete", None)


async def test_sse_with_a_token_past_its_exp_is_refused_before_the_stream(
    live_embedded: LiveFactory,
) -> None:
    """Within the verifier's leeway a request still runs, but a stream would end at once: a
    401 with the envelope instead, as a WebSocket's connection_init gets 4401."""
    async with live_embedded() as gateway:
        r1 = gateway.org.r1
        token = gateway.runtime.tokens.issue(str(r1.id), roles=[r1.role], ttl_s=-5)
        refused = await gateway.client.post(
            "/graphql", json={"query": OPPORTUNITY_CHANGED}, headers=_headers(token)
        )
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "UNAUTHORIZED"
        assert refused.json()["error"]["message"] == "The token expired"
        assert gateway.listeners() == 0


async def test_sse_needs_credentials_and_a_subscription(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        anonymous = await gateway.client.post(
            "/graphql", json={"query": OPPORTUNITY_CHANGED}, headers={"Accept": "text/event-stream"}
        )
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
        assert "WWW-Authenticate" in anonymous.headers
        # A query asking for an event stream is answered as any other POST.
        query = await gateway.client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={
                **_headers(gateway.token(gateway.org.r1)),
                "Accept": "text/event-stream, application/json",
            },
        )
        assert query.status_code == 200
        assert query.json()["data"]["me"]["id"] == str(gateway.org.r1.id)
        # A subscription as a plain request: no stream to deliver on.
        plain = await gateway.client.post(
            "/graphql",
            json={"query": OPPORTUNITY_CHANGED},
            headers={"Authorization": f"Bearer {gateway.token(gateway.org.r1)}"},
        )
        assert plain.status_code == 200
        assert "data" not in plain.json()
        assert plain.json()["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
        # A subscription the caller may not have: the reason, then complete.
        async with gateway.client.stream(
            "POST",
            "/graphql",
            json={"query": 'subscription { forecastUpdated(period: "Q9_2026") { amount } }'},
            headers=_headers(gateway.token(gateway.org.r1)),
        ) as response:
            sse = Sse(response.aiter_lines())
            event, data = await sse.message()
            assert event == "next"
            assert data["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
            assert await sse.message() == ("complete", None)


SUBSCRIPTION = "subscription { opportunityChanged { change } }"


async def test_a_malformed_request_is_a_400_before_the_stream(live_embedded: LiveFactory) -> None:
    async with live_embedded() as gateway:
        token = gateway.token(gateway.org.r1)
        for body in (
            {"query": SUBSCRIPTION, "variables": "x"},
            {"query": SUBSCRIPTION, "variables": [1]},
            {"query": SUBSCRIPTION, "variables": 5},
            {"query": SUBSCRIPTION, "operationName": 5},
            {"query": SUBSCRIPTION, "extensions": [1]},
            {"query": 5},
            {"variables": {}},
        ):
            answers = []
            for accept in ("text/event-stream", "application/json"):
                response = await gateway.client.post(
                    "/graphql",
                    content=orjson.dumps(body),
                    headers={
                        **_headers(token),
                        "Accept": accept,
                        "content-type": "application/json",
                    },
                )
                assert response.status_code == 400, (body, accept, response.text)
                assert response.headers["content-type"].startswith("application/json")
                error = response.json()["error"]
                assert error["code"] == "VALIDATION_ERROR"
                assert error["request_id"] == response.headers["X-Request-ID"]
                answers.append(error["message"])
            # The event stream's answer is the plain request's, word for word.
            assert answers[0] == answers[1], body


async def test_request_errors_come_in_the_stream(live_embedded: LiveFactory) -> None:
    """Whatever GraphQL reports before executing (a document that does not parse, does not
    validate, has no such operation, a variable that does not coerce) is one ``next`` with the
    errors and no data, then ``complete`` (GraphQL over SSE, distinct connections mode)."""
    async with live_embedded() as gateway:
        token = gateway.token(gateway.org.r1)
        for body in (
            {"query": "subscription {"},
            {"query": "subscription { opportunityChanged { nope } }"},
            {"query": "subscription A { opportunityChanged { change } }", "operationName": "B"},
            {
                "query": "subscription($s: OpportunityStage) { opportunityChanged(stage: $s) "
                "{ change } }",
                "variables": {"s": "NOT_A_STAGE"},
            },
        ):
            async with gateway.client.stream(
                "POST", "/graphql", json=body, headers=_headers(token)
            ) as response:
                assert response.status_code == 200, body
                assert response.headers["content-type"].startswith("text/event-stream")
                sse = Sse(response.aiter_lines())
                event, data = await sse.message()
                assert event == "next", body
                assert "data" not in data, data
                assert data["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR", data
                assert (
                    data["errors"][0]["extensions"]["request_id"]
                    == (response.headers["X-Request-ID"])
                )
                assert await sse.message() == ("complete", None)
