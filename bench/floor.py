"""The floor: a hand-written minimal Starlette + asyncpg + orjson app serving the same bytes as the
gateway for the benchmark's requests, with nothing else (no token verification, no rate limit,
no GraphQL, no ORM). It reads the caller from the token's ``sub`` without verifying it and
applies the same visibility rule in SQL, so that its answer is the gateway's for that caller.

* ``GET /api/v1/leads?limit=&offset=&assigned_to=``: the spec's lead list (scenario 1).
* ``GET /floor/opportunities?limit=``: the scenario 2 page as one SQL join, shaped as the
  GraphQL response of ``bench.queries.OPPORTUNITY_PAGE``.

Run with ``uvicorn bench.floor:create_app --factory``; ``BENCH_FLOOR_DSN`` names the database.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Who the caller may see (DESIGN.md section 6): admins everything; everyone what their team owns
# (a rep's team is the rep); managers also their territories; reps also the unassigned leads of
# the territories they are members of.
_SCOPE = """
WITH RECURSIVE me AS (SELECT id, role FROM users WHERE id = $1 AND is_active),
team AS (SELECT id FROM me UNION SELECT u.id FROM users u JOIN team t ON u.manager_id = t.id)
"""
_LEAD_VISIBLE = """(
    (SELECT role FROM me) = 'admin'
    OR l.assigned_to_id IN (SELECT id FROM team)
    OR ((SELECT role FROM me) = 'sales_manager'
        AND l.territory_id IN (SELECT id FROM territories WHERE owner_id = $1))
    OR ((SELECT role FROM me) = 'sales_rep' AND l.assigned_to_id IS NULL
        AND l.territory_id IN (SELECT territory_id FROM territory_members WHERE user_id = $1))
)"""
_LEADS_PAGE = f"""{_SCOPE}
SELECT l.id, l.status, l.first_name, l.last_name, l.email, l.company, l.score,
       l.assigned_to_id, u.name AS assigned_name, l.created_at, l.updated_at
  FROM leads l LEFT JOIN users u ON u.id = l.assigned_to_id
 WHERE {_LEAD_VISIBLE} {{extra}}
 ORDER BY l.created_at DESC, l.id DESC
 LIMIT $2 OFFSET $3
"""  # noqa: S608 - constant SQL, composed once
_LEADS_COUNT = f"{_SCOPE} SELECT count(*) FROM leads l WHERE {_LEAD_VISIBLE} {{extra}}"  # noqa: S608
_OPPORTUNITIES = f"""{_SCOPE}
SELECT o.id, o.name, o.stage, o.amount, a.name AS account_name, u.name AS owner_name,
       t.name AS territory_name
  FROM opportunities o
  JOIN accounts a ON a.id = o.account_id
  JOIN users u ON u.id = o.owner_id
  LEFT JOIN territories t ON t.id = o.territory_id
 WHERE (SELECT role FROM me) = 'admin'
    OR o.owner_id IN (SELECT id FROM team)
    OR ((SELECT role FROM me) = 'sales_manager'
        AND o.territory_id IN (SELECT id FROM territories WHERE owner_id = $1))
 ORDER BY o.created_at DESC, o.id DESC
 LIMIT $2
"""  # noqa: S608


def _timestamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _caller(request: Request) -> uuid.UUID | None:
    """The token's ``sub``, unverified: the floor measures serving, not authentication."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return uuid.UUID(str(claims["sub"]))
    except (ValueError, KeyError, TypeError):
        return None


def _json(
    content: Any, status: int = 200, *, request: Request | None = None, statements: int = 0
) -> Response:
    # The statement count, like the gateway's (bench.apps), only when the runner asks for it.
    counted = request is not None and "x-bench-count" in request.headers
    headers = {"x-bench-sql": f"statements={statements}"} if counted else None
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


async def leads(request: Request) -> Response:
    caller = _caller(request)
    if caller is None:
        return _json({"error": {"code": "UNAUTHORIZED"}}, 401)
    limit = int(request.query_params.get("limit", "50"))
    offset = int(request.query_params.get("offset", "0"))
    assigned = request.query_params.get("assigned_to")
    extra, args = ("", [caller])
    if assigned is not None:
        extra, args = ("AND l.assigned_to_id = $4", [caller, uuid.UUID(assigned)])
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            _LEADS_PAGE.format(extra=extra), args[0], limit + 1, offset, *args[1:]
        )
        count_sql = _LEADS_COUNT.format(extra=extra.replace("$4", "$2"))
        total = await connection.fetchval(count_sql, *args)
    items = [
        {
            "id": str(row["id"]),
            "status": row["status"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "email": row["email"],
            "company": row["company"],
            "score": row["score"],
            "assigned_to": (
                {"id": str(row["assigned_to_id"]), "name": row["assigned_name"]}
                if row["assigned_to_id"] is not None
                else None
            ),
            "created_at": _timestamp(row["created_at"]),
            "updated_at": _timestamp(row["updated_at"]),
        }
        for row in rows[:limit]
    ]
    pagination = {"total": total, "limit": limit, "offset": offset, "has_more": len(rows) > limit}
    return _json({"data": items, "pagination": pagination}, request=request, statements=2)


async def opportunities(request: Request) -> Response:
    caller = _caller(request)
    if caller is None:
        return _json({"error": {"code": "UNAUTHORIZED"}}, 401)
    limit = int(request.query_params.get("limit", "50"))
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection:
        rows = await connection.fetch(_OPPORTUNITIES, caller, limit)
    items = [
        {
            "id": str(row["id"]),
            "name": row["name"],
            "stage": row["stage"].upper(),
            "amount": float(row["amount"]) if row["amount"] is not None else None,
            "account": {"name": row["account_name"]},
            "owner": {"name": row["owner_name"]},
            "territory": (
                {"name": row["territory_name"]} if row["territory_name"] is not None else None
            ),
        }
        for row in rows
    ]
    return _json({"data": {"opportunities": {"items": items}}}, request=request, statements=1)


def create_app() -> Starlette:
    dsn = os.environ["BENCH_FLOOR_DSN"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
        try:
            yield
        finally:
            await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/api/v1/leads", leads, methods=["GET"]),
            Route("/floor/opportunities", opportunities, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
