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


async def test_links_lead_from_creation_to_reads(rest: Rest) -> None:
    document = (await rest.gateway.client.get("/openapi.json")).json()
    operation_ids = {
        op["operationId"] for item in document["paths"].values() for op in item.values()
    }

    def links(path: str, method: str, status: str) -> dict[str, dict[str, object]]:
        found: dict[str, dict[str, object]] = document["paths"][path][method]["responses"][status][
            "links"
        ]
        return found

    created_lead = links("/api/v1/leads", "post", "201")
    assert created_lead["GetLead"] == {
        "operationId": "getLead",
        "parameters": {"path.id": "$response.body#/id"},
    }
    assert created_lead["ConvertLead"]["operationId"] == "convertLead"
    converted = links("/api/v1/leads/{id}/convert", "post", "201")
    assert converted["GetOpportunity"]["parameters"] == {
        "path.id": "$response.body#/opportunity_id"
    }
    created = links("/api/v1/opportunities", "post", "201")
    assert {link["operationId"] for link in created.values()} == {
        "getOpportunity",
        "updateOpportunityStage",
    }
    read = links("/api/v1/opportunities/{id}", "get", "200")
    assert read["GetAccount"]["parameters"] == {"path.id": "$response.body#/account_id"}
    every = [
        link
        for item in document["paths"].values()
        for op in item.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert {link["operationId"] for link in every} <= operation_ids
