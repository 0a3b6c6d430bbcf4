"""What every simulator shares: credentials, knobs (latency, errors, outage, bad payloads), the
record of received requests, and the ``/_sim`` control API.

Faults are injected by one ASGI middleware in front of the system's routes, so each system module
only describes the happy path of its API.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_graph.simulators.seeded import is_unknown

PayloadMode = Literal["valid", "invalid", "oversized", "not_json"]
OVERSIZED_BYTES = 2 * 1024 * 1024
_RECORDED_HEADERS = (
    "accept",
    "content-type",
    "idempotency-key",
    "user-agent",
    "x-request-id",
)

M = TypeVar("M", bound=BaseModel)


class Knobs(BaseModel):
    """How the simulated system misbehaves; all off by default."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0, ge=0, le=1)
    outage: bool = False
    status_on_error: int = Field(default=503, ge=400, le=599)
    retry_after_s: float | None = Field(default=None, ge=0)
    fail_next: int = Field(default=0, ge=0)
    payload: PayloadMode = "valid"


@dataclass
class RecordedRequest:
    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: Any
    received_at: str
    monotonic: float
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SystemApi(Protocol):
    """One simulated system: its routes and whatever state it keeps between requests."""

    def routes(self) -> Sequence[BaseRoute]: ...

    def state(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...


@dataclass(eq=False)
class SeededApi:
    """The base of a simulated system: its answers follow from the seed; every field it declares
    with ``init=False`` is state kept between requests (a collection), emptied by ``reset``."""

    seed: int

    def reset(self) -> None:
        for declared in fields(self):
            if not declared.init:
                getattr(self, declared.name).clear()


class Simulator:
    """A simulated system and the in-process handle to its knobs and recorded requests."""

    def __init__(self, system: str, api: SystemApi, *, api_key: str, seed: int = 0) -> None:
        self.system = system
        self.api = api
        self.seed = seed
        self.api_key = api_key
        self.knobs = Knobs()
        self._requests: list[RecordedRequest] = []
        self._faults = random.Random(seed)  # noqa: S311 - fault injection, not security
        self.app = Starlette(
            routes=[*_control_routes(self), *api.routes()],
            middleware=[Middleware(_FaultsAndRecords, simulator=self)],
        )

    def set_knobs(self, **changes: Any) -> Knobs:
        self.knobs = Knobs.model_validate({**self.knobs.model_dump(), **changes})
        return self.knobs

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self._requests if r.path == path and (method is None or r.method == method)
        ]

    def clear_requests(self) -> None:
        self._requests.clear()

    def state(self) -> dict[str, Any]:
        return self.api.state()

    def reset(self) -> None:
        """Knobs off, no recorded requests, fresh state, and the fault sequence from the start."""
        self.knobs = Knobs()
        self._requests.clear()
        self._faults = random.Random(self.seed)  # noqa: S311
        self.api.reset()

    def _record(self, request: RecordedRequest) -> None:
        self._requests.append(request)

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), self.api_key):
            return True
        return hmac.compare_digest(headers.get("x-api-key", ""), self.api_key)

    def _draw_fault(self) -> bool:
        """Whether this request fails; one draw per request keeps the sequence reproducible."""
        roll = self._faults.random()
        if self.knobs.fail_next > 0:
            self.knobs = self.knobs.model_copy(update={"fail_next": self.knobs.fail_next - 1})
            return True
        return roll < self.knobs.error_rate


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error shape of all simulated systems (the spec's envelope, minus request metadata)."""
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def read_body(request: Request, model: type[M]) -> M | JSONResponse:
    """The request body validated by ``model``, or the 422 a real system would answer."""
    try:
        return model.model_validate_json(await request.body())
    except PydanticValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_response(422, "VALIDATION_ERROR", details or "invalid body")


def not_found(what: str, resource_id: str) -> JSONResponse:
    return error_response(404, "NOT_FOUND", f"{what} {resource_id} not found")


def account_resource(
    build: Callable[[str], dict[str, Any]],
) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint answering ``build(account_id)``, or 404 for an unknown account."""

    async def endpoint(request: Request) -> Response:
        account_id = request.path_params["account_id"]
        if is_unknown(account_id):
            return not_found("account", account_id)
        return JSONResponse(build(account_id))

    return endpoint


@dataclass(eq=False)
class AccountReadApi(SeededApi):
    """A read-only system keyed by account: one seeded GET payload per
    ``/api/v1/accounts/{account_id}/<name>``, named by ``payloads()``; it keeps no state."""

    def payloads(self) -> Sequence[tuple[str, Callable[[str], dict[str, Any]]]]:
        raise NotImplementedError

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(
                f"/api/v1/accounts/{{account_id}}/{name}", account_resource(build), methods=["GET"]
            )
            for name, build in self.payloads()
        ]

    def state(self) -> dict[str, Any]:
        return {}


class _FaultsAndRecords:
    """Records every API request, then applies latency, outage, credentials and injected errors."""

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self.sim = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        body = await _read_all(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = _record_of(scope, headers, body)
        self.sim._record(record)
        knobs = self.sim.knobs
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        retry_after = _retry_after_header(knobs.retry_after_s)
        early: Response | None = None
        if knobs.outage:
            early = error_response(503, "UNAVAILABLE", "system is down", retry_after)
        elif not self.sim._authorized(headers):
            early = error_response(
                401, "UNAUTHORIZED", "missing or invalid API key", {"WWW-Authenticate": "Bearer"}
            )
        elif self.sim._draw_fault():
            early = error_response(knobs.status_on_error, "INJECTED", "injected error", retry_after)
        if early is not None:
            record.status = early.status_code
            await early(scope, receive, send)
            return
        await self._forward(scope, body, receive, send, record, knobs.payload)

    async def _forward(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        record: RecordedRequest,
        mode: PayloadMode,
    ) -> None:
        messages: list[Message] = []
        replayed = False

        async def replay() -> Message:
            # The body once, then the real channel (where a disconnect would arrive).
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def collect(message: Message) -> None:
            messages.append(message)

        await self.app(scope, replay, collect)
        start = messages[0]
        record.status = int(start["status"])
        content = b"".join(m.get("body", b"") for m in messages[1:])
        if mode != "valid" and 200 <= record.status < 300:
            response = _corrupt(content, mode, record.status)
            await response(scope, receive, send)
            return
        for message in messages:
            await send(message)


def _corrupt(content: bytes, mode: PayloadMode, status: int) -> Response:
    if mode == "not_json":
        return Response(b"<html><body>Bad Gateway</body></html>", status, media_type="text/html")
    if mode == "invalid":
        return JSONResponse({"unexpected": "shape", "score": "very high"}, status)
    # Streamed without Content-Length, so only a client that counts what it reads notices.
    return StreamingResponse(_padded(content), status, media_type="application/json")


async def _padded(content: bytes) -> AsyncIterator[bytes]:
    yield b'{"padding": "'
    chunk = b"x" * 65_536
    for _ in range(OVERSIZED_BYTES // len(chunk)):
        yield chunk
    rest = content.strip()[1:] if content.strip().startswith(b"{") else b"}"
    yield b'"' + (b"," + rest if rest != b"}" else rest)


async def _read_all(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _record_of(scope: Scope, headers: dict[str, str], body: bytes) -> RecordedRequest:
    recorded = {k: headers[k] for k in _RECORDED_HEADERS if k in headers}
    if "authorization" in headers:
        recorded["authorization"] = headers["authorization"].partition(" ")[0] + " ***"
    parsed: Any = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
    return RecordedRequest(
        method=scope["method"],
        path=scope["path"],
        raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=recorded,
        body=parsed,
        received_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        monotonic=time.monotonic(),
    )


def _retry_after_header(seconds: float | None) -> dict[str, str] | None:
    if seconds is None:
        return None
    # Whole seconds are standard; fractions are ours, so that tests can stay fast.
    return {"Retry-After": str(int(seconds)) if float(seconds).is_integer() else str(seconds)}


def _control_routes(sim: Simulator) -> list[Route]:
    async def get_knobs(request: Request) -> Response:
        return JSONResponse(sim.knobs.model_dump())

    async def set_knobs(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body() or b"{}")
            knobs = sim.set_knobs(**changes)
        except (orjson.JSONDecodeError, PydanticValidationError, TypeError) as exc:
            return error_response(422, "VALIDATION_ERROR", str(exc))
        return JSONResponse(knobs.model_dump())

    async def list_requests(request: Request) -> Response:
        return JSONResponse([r.to_dict() for r in sim.requests])

    async def clear_requests(request: Request) -> Response:
        sim.clear_requests()
        return Response(status_code=204)

    async def get_state(request: Request) -> Response:
        return JSONResponse({"system": sim.system, **sim.state()})

    async def reset(request: Request) -> Response:
        sim.reset()
        return Response(status_code=204)

    return [
        Route("/_sim/knobs", get_knobs, methods=["GET"]),
        Route("/_sim/knobs", set_knobs, methods=["POST"]),
        Route("/_sim/requests", list_requests, methods=["GET"]),
        Route("/_sim/requests", clear_requests, methods=["DELETE"]),
        Route("/_sim/state", get_state, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
