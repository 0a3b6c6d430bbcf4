"""The partner of scenario 7's webhooks: an HTTP server that answers every ``POST`` with a 204 at
once and keeps what it received (the arrival time, the ``webhook-*`` headers, the body), for the
run to check afterwards, outside the timed part: one delivery per event, every signature valid.
``GET /received`` answers what it holds as JSON and forgets it.

Run as ``python -m bench.hook_receiver PORT``: its own process (its CPU is not the dispatcher's),
uvicorn with uvloop and httptools, keep-alive connections, a bare ASGI app.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
import uvicorn

_received: list[tuple[float, dict[str, str], str]] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.startswith(b"webhook-")}
        _received.append((time.time(), headers, body.decode()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = orjson.dumps(_received)
    _received.clear()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def main() -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
