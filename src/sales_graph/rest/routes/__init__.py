"""The REST route table: each endpoint of the spec is the GraphQL operation it runs.

An entry (``RestRoute`` in ``rest/table.py``) says which document runs, how the path, query
string and body become its variables, how its ``data`` becomes the spec's JSON, the success
status, the request and response schemas, and the links to the operations that read on.
Adding an endpoint is one entry in the module of its resource. No business rules here.
"""

from __future__ import annotations

from dataclasses import replace

from sales_graph.rest.routes import (
    accounts,
    finance,
    forecasts,
    leads,
    opportunities,
    territories,
    webhooks,
)
from sales_graph.rest.table import RestRoute

# Each module's endpoints, under the name of its resource (their tag in the OpenAPI document).
# Order matters where paths overlap: /opportunities/pipeline before /opportunities/{id}.
_RESOURCES = {
    "Leads": leads,
    "Opportunities": opportunities,
    "Territories": territories,
    "Forecasts": forecasts,
    "Accounts": accounts,
    "Finance": finance,
    "Webhooks": webhooks,
}
ROUTES: tuple[RestRoute, ...] = tuple(
    replace(route, tags=(tag,)) for tag, module in _RESOURCES.items() for route in module.ROUTES
)

__all__ = ["ROUTES"]
