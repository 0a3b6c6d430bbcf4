"""The spec's REST API: each endpoint runs a GraphQL operation (DESIGN.md section 7)."""

from __future__ import annotations

import strawberry
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sales_graph.rest.engine import Endpoint, path_route, rest_endpoint
from sales_graph.rest.idempotency import IdempotencyKeys
from sales_graph.rest.openapi import docs_html, openapi_document
from sales_graph.rest.operation import compile_routes
from sales_graph.rest.routes import ROUTES
from sales_graph.rest.table import RestRoute
from sales_graph.web.envelope import JSONResponse


def rest_routes(schema: strawberry.Schema) -> list[Route]:
    """The REST endpoints over ``schema``, plus ``/openapi.json`` and ``/docs``."""
    operations = compile_routes(ROUTES, schema._schema)
    document = openapi_document(operations)
    page = docs_html(operations)
    keys = IdempotencyKeys()

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    async def docs(_request: Request) -> Response:
        return HTMLResponse(page)

    by_path: dict[str, dict[str, Endpoint]] = {}
    for operation in operations:
        route = operation.route
        by_path.setdefault(route.path, {})[route.method] = rest_endpoint(schema, operation, keys)
    return [
        *(path_route(path, endpoints) for path, endpoints in by_path.items()),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]


__all__ = ["ROUTES", "RestRoute", "openapi_document", "rest_routes"]
