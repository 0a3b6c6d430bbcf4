"""``Idempotency-Key`` on POST (IETF draft): the same key and request answer the stored response.

The HTTP side: the header, whose key it is, the request's fingerprint and the replayed response
(with ``Idempotent-Replayed: true``). Reserving, storing and expiring keys is
``services/idempotency.py``.
"""

from __future__ import annotations

import hashlib

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from sales_graph.domain.principal import Principal
from sales_graph.rest.shapes import RestInput
from sales_graph.services import idempotency
from sales_graph.services.idempotency import Claim, StoredAnswer

HEADER = "Idempotency-Key"
_REPLAYED_HEADERS = ("etag", "location")


def claim_of(request: Request, inputs: RestInput) -> Claim | None:
    """The key of a POST, when it has one (its spelling is checked with the request)."""
    key = request.headers.get(HEADER)
    principal = getattr(request.state, "principal", None)
    if key is None or principal is None:
        return None
    fingerprint = b"\n".join(
        [
            request.method.encode(),
            request.url.path.encode(),
            orjson.dumps(dict(inputs.query), option=orjson.OPT_SORT_KEYS),
            orjson.dumps(dict(inputs.body), option=orjson.OPT_SORT_KEYS),
        ]
    )
    return Claim(_holder(principal), key, hashlib.sha256(fingerprint).hexdigest())


def _holder(principal: Principal) -> str:
    """Whose key it is: the principal with the authority it had (role, client, key, scopes).
    A stored answer replays only to the same authority: not to a client of the user holding
    other scopes, nor after the role changed (the request then runs, and is checked, anew)."""
    authority = "|".join(
        [
            principal.role.value if principal.role else "",
            principal.client_id or "",
            principal.api_key_prefix or "",
            " ".join(sorted(principal.scopes)) if principal.scoped else "*",
        ]
    )
    digest = hashlib.sha256(authority.encode()).hexdigest()[:16]
    return f"{principal.subject[:180]}#{digest}"


class IdempotencyKeys:
    """The keys of one app, answering in HTTP terms."""

    def __init__(self) -> None:
        self._keys = idempotency.IdempotencyKeys()

    async def replay_or_reserve(
        self, session: AsyncSession, claim: Claim, request: Request
    ) -> Response | None:
        """The stored response of ``claim``'s key, or None once the key is reserved for this."""
        stored = await self._keys.replay_or_reserve(
            session, claim, method=request.method, path=request.url.path
        )
        if stored is None:
            return None
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return Response(stored.body, stored.status, headers=headers, media_type="application/json")

    async def store(self, session: AsyncSession, claim: Claim, response: Response) -> None:
        headers = {
            name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
        }
        answer = StoredAnswer(response.status_code, bytes(response.body), headers)
        await self._keys.store(session, claim, answer)
