"""The parameters of a GraphQL request (GraphQL over HTTP, "Request Parameters"), checked in one
place for every transport: ``POST``/``GET /graphql`` (``web/graphql.py``), an SSE request
(``web/sse.py``) and a graphql-transport-ws ``subscribe`` (``web/websocket.py``).

``query`` is a string, ``variables`` and ``extensions`` JSON objects, ``operationName`` a string;
each may be absent or null. A request whose parameters are otherwise is malformed: HTTP answers
it with a 400 and the error envelope (``VALIDATION_ERROR``), before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

_EXPECTED: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("variables", dict, "an object"),
    ("operationName", str, "a string"),
    ("extensions", dict, "an object"),
)


def malformed(params: Mapping[str, object]) -> str | None:
    """Why the parameters of a request are malformed (the first reason), or None."""
    for name, kind, described in _EXPECTED:
        value = params.get(name)
        if value is not None and not isinstance(value, kind):
            return f"The GraphQL operation's `{name}` must be {described} or null, if provided."
    return None
