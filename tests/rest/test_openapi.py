"""``/openapi.json`` comes from the route table; ``/docs`` renders it without the internet."""

from __future__ import annotations

import json
from pathlib import Path

from sales_graph.rest import ROUTES
from tests.rest.conftest import Rest

ROOT = Path(__file__).resolve().parents[2]


async def test_served_document_is_the_committed_one(rest: Rest) -> None:
    response = await rest.gateway.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads((ROOT / "schema" / "openapi.json").read_text())


async def test_document_covers_the_table(rest: Rest) -> None:
    document = (await rest.gateway.client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert set(operations) == {(r.method, r.path) for r in ROUTES}
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    for route in ROUTES:
        op = operations[(route.method, route.path)]
        success = op["responses"][str(route.status)]
        assert set(success["headers"]) >= {
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        }
        for status in ("400", "401", "403", "404", "429", "500"):
            assert op["responses"][status]["$ref"].startswith("#/components/responses/")
        assert ("requestBody" in op) == (route.body is not None)
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "details", "request_id", "timestamp"]


async def test_docs_page_needs_no_network(rest: Rest) -> None:
    response = await rest.gateway.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "POST /api/v1/leads" in page
    assert "PUT /api/v1/opportunities/{id}/stage" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
