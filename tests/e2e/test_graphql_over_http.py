"""GraphQL over HTTP media types over real HTTP: what graphql-http's server audit checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sales_graph.app import create_app
from sales_graph.settings import Settings
from tests.gateways import live_server

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

FAILING_BEFORE_EXECUTION = {
    "parse": {"query": "{"},
    "validation": {"query": "{ nope }"},
    "variables": {
        "query": "query($n: String!) { __type(name: $n) { name } }",
        "variables": {"n": 1},
    },
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server(create_app(settings)) as http:
        yield http


@pytest.mark.parametrize("case", sorted(FAILING_BEFORE_EXECUTION))
async def test_a_request_error_is_400_in_graphql_response_json(
    client: httpx.AsyncClient, case: str
) -> None:
    response = await client.post(
        "/graphql", json=FAILING_BEFORE_EXECUTION[case], headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body  # nothing ran
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("case", sorted(FAILING_BEFORE_EXECUTION))
async def test_a_request_error_is_200_in_application_json(
    client: httpx.AsyncClient, case: str
) -> None:
    response = await client.post(
        "/graphql", json=FAILING_BEFORE_EXECUTION[case], headers={"accept": JSON}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON),
        ("*/*", JSON),
        (None, JSON),
    ],
)
async def test_a_result_is_200_in_the_preferred_media_type(
    client: httpx.AsyncClient, accept: str | None, media_type: str
) -> None:
    headers = {"accept": accept} if accept else {}
    response = await client.post(
        "/graphql", json={"query": "{ health { status } }"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.json()["data"]["health"]["status"]
