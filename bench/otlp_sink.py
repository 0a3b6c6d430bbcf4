"""A trace receiver that keeps nothing: the tracing variant of scenario 6 exports every span to it
over OTLP/HTTP (``POST /v1/traces``), so the run measures what tracing costs the gateway, not
what a trace store costs the machine. ``GET /count`` answers the exports and bytes received, so
the run can check that spans did arrive.

Run as ``python -m bench.otlp_sink PORT`` (its own process: its CPU is not the gateway's).
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_received = {"exports": 0, "bytes": 0}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        with _lock:
            _received["exports"] += 1
            _received["bytes"] += len(body)
        # An empty ExportTraceServiceResponse: zero bytes of protobuf.
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_received).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port = int(sys.argv[1])
    ThreadingHTTPServer(("127.0.0.1", port), _Handler).serve_forever()


if __name__ == "__main__":
    main()
