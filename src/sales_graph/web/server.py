"""How uvicorn serves the gateway, in one place: ``sales-graph serve`` and the tests' servers
(``tests/gateways.py``) take their options from here, so the tests run what production runs."""

from __future__ import annotations

from typing import Any

from sales_graph.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options (those of ``uvicorn.Config``) that follow from the settings and the
    gateway's rules; where and how many to serve are the caller's."""
    return {
        "log_level": "warning",
        "access_log": False,
        # Never a client address from a header (docs/limits.md, "Rate limits").
        "proxy_headers": False,
        "server_header": False,
        # A WebSocket message (a graphql-transport-ws message) is bounded like a request body:
        # a larger one is refused by uvicorn with 1009 before it is handed to the app
        # (docs/limits.md; web/graphql.py checks it too, under a server that does not).
        "ws_max_size": settings.http.max_body_bytes,
    }
