"""``Idempotency-Key`` on POST (IETF draft): the same key and request answer the stored response.

The key is per principal and kept 24 hours. It is reserved and its response stored in the
request's own unit of work, so the effect and the record commit together or not at all; a
second request with the key while the first is running waits on the key's row and is a 409.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

import orjson
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sales_graph.db.models import IdempotencyKey
from sales_graph.errors import Conflict, IdempotencyKeyReused, ValidationError
from sales_graph.rest.shapes import RestInput
from sales_graph.timeutil import utcnow

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("etag", "location")


@dataclass(frozen=True, slots=True)
class Claim:
    principal: str
    key: str
    request_hash: str


def claim_of(request: Request, inputs: RestInput) -> Claim | None:
    key = request.headers.get(HEADER)
    principal = getattr(request.state, "principal", None)
    if key is None or principal is None:
        return None
    if not _KEY.match(key):
        raise ValidationError(
            "Invalid request data",
            details={"fields": {HEADER: "1 to 255 visible ASCII characters"}},
        )
    fingerprint = b"\n".join(
        [
            request.method.encode(),
            request.url.path.encode(),
            orjson.dumps(dict(inputs.query), option=orjson.OPT_SORT_KEYS),
            orjson.dumps(dict(inputs.body), option=orjson.OPT_SORT_KEYS),
        ]
    )
    return Claim(principal.subject[:200], key, hashlib.sha256(fingerprint).hexdigest())


async def replay_or_reserve(
    session: AsyncSession, claim: Claim, request: Request
) -> Response | None:
    """The stored response of ``claim``'s key, or None once the key is reserved for this call."""
    now = utcnow()
    row = await session.get(IdempotencyKey, (claim.principal, claim.key))
    if row is not None and row.expires_at <= now:
        await session.delete(row)
        await session.flush()
        row = None
    if row is None:
        session.add(
            IdempotencyKey(
                principal=claim.principal,
                key=claim.key,
                method=request.method,
                path=request.url.path[:2000],
                request_hash=claim.request_hash,
                state="in_flight",
                expires_at=now + KEPT_FOR,
            )
        )
        try:
            await session.flush()
        except IntegrityError:
            raise _in_flight(claim) from None
        return None
    if row.request_hash != claim.request_hash:
        raise IdempotencyKeyReused(details={"idempotency_key": claim.key})
    if row.state != "done" or row.response_status is None:
        raise _in_flight(claim)
    headers = {**(row.response_headers or {}), "Idempotent-Replayed": "true"}
    return Response(
        row.response_body, row.response_status, headers=headers, media_type="application/json"
    )


async def store(session: AsyncSession, claim: Claim, response: Response) -> None:
    row = await session.get(IdempotencyKey, (claim.principal, claim.key))
    assert row is not None
    row.state = "done"
    row.response_status = response.status_code
    row.response_body = bytes(response.body)
    row.response_headers = {
        name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
    }
    session.add(row)
    await session.flush()


def _in_flight(claim: Claim) -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still in progress",
        details={"idempotency_key": claim.key},
    )
