"""``lead.qualified`` in batches writes what message-by-message ingestion writes: the same
messages through both handlers into two databases with the same organisation and leads, then
every row compared (but for generated ids and times)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import text

from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.models import Lead, Territory, TerritoryMember, TerritoryRule, User
from sales_graph.runtime import Runtime
from sales_graph.worker import marketing
from sales_graph.worker.consumer import Rejected
from tests.conftest import new_postgres_database
from tests.factories import make_org

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def message(
    n: int, email: str, *, lead_id: str | None = None, event_id: str | None = "", **payload: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "lead.qualified",
        "timestamp": "2026-02-11T08:00:00Z",
        "payload": {
            "lead_id": lead_id or _id(1000 + n),
            "source": "webinar",
            "score": 50 + n,
            "campaign_id": f"camp-{n}",
            "attribution": {"first_touch": "ads", "last_touch": "webinar", "touches": ["ads"]},
            "profile": {"first_name": "Ada", "last_name": f"L{n}", "email": email},
            "firmographic": {"industry": "Technology", "employee_count": 50, "country": "DE"},
            **payload,
        },
    }
    if event_id is not None:
        body["event_id"] = event_id or f"evt-{n}"
    return body


def _existing(n: int, email: str, status: str, **values: Any) -> Lead:
    return Lead(
        id=uuid.UUID(_id(n)),
        email=email,
        email_normalized=email.lower(),
        status=status,
        first_name="Old",
        score=1,
        created_at=T0,
        updated_at=T0,
        **values,
    )


def scenario(org: SimpleNamespace) -> tuple[list[Lead], list[dict[str, Any]]]:
    """Leads already there, and the messages: new leads (US, elsewhere, past a rep's
    capacity), updates by id and by email, redeliveries in and across batches, invalid ones,
    a disqualified and a converted lead, an address another lead has, an address freed."""
    leads = [
        _existing(1, "new@x.com", "new"),
        _existing(2, "Working@x.com", "working", assigned_to_id=org.r1),
        _existing(3, "dq@x.com", "disqualified", disqualified_reason="No budget"),
        _existing(4, "won@x.com", "converted"),
        _existing(5, "q@x.com", "qualified", territory_id=org.t1, assigned_to_id=org.r2),
    ]
    us = {"industry": "Technology", "employee_count": 50, "country": "US"}
    invalid = message(9, "bad@x.com", score=150)
    fixed = message(9, "fixed@x.com")  # the same event id, valid this time
    no_id = message(10, "working@x.com", lead_id=_id(1001), event_id=None)
    messages = [
        message(1, "a@x.com", firmographic=us),
        message(2, "b@x.com"),
        message(3, "c@x.com"),  # T2's only rep is full: left unassigned
        message(1, "a@x.com", firmographic=us),  # redelivered in the batch
        message(5, "new-1@x.com", lead_id=_id(1), score=7),  # by id, email changes
        message(6, "WORKING@x.com", score=8),  # by email
        message(7, "dq2@x.com", lead_id=_id(3)),  # stays disqualified
        message(8, "won@x.com"),  # converted, by email
        invalid,
        fixed,
        no_id,  # lead 1001 by id; the address is lead 2's: kept
        no_id,
        message(12, "b-moved@x.com", lead_id=_id(1002)),  # frees b@x.com ...
        message(13, "b@x.com"),  # ... which a new lead takes
        message(14, "q2@x.com", lead_id=_id(5), firmographic=us),
        message(15, "d@x.com", firmographic=us),
        message(5, "new-1@x.com", lead_id=_id(1), score=7),  # redelivered in a later batch
        message(16, "e@x.com", firmographic={**us, "country": "us"}),
        message(17, "new@x.com"),  # lead 1's old address, freed earlier
    ]
    return leads, messages


@pytest.fixture
async def two_databases(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    async with AsyncExitStack() as stack:
        dbs: list[Database] = []
        for _ in range(2):
            db = Database(await stack.enter_async_context(new_postgres_database(postgres_url)))
            stack.push_async_callback(db.dispose)
            await upgrade(db.engine)
            dbs.append(db)
        yield dbs[0], dbs[1]


async def _same_org(one: Database, other: Database) -> SimpleNamespace:
    """The test organisation in ``one``, copied row for row into ``other``; r4 (T2's only
    rep) takes one open lead at most."""
    async with one.session() as session:
        org = await make_org(session)
        org.r4.lead_capacity = 1
        session.add(org.r4)
    rows: list[Any] = []
    async with one.session() as session:
        for model in (User, Territory, TerritoryRule, TerritoryMember):
            rows += [model(**r.model_dump()) for r in (await session.exec(_all(model))).all()]
    async with other.session() as session:
        for row in rows:
            session.add(row)
            await session.flush()
    return SimpleNamespace(**{k: getattr(org, k).id for k in ("r1", "r2", "r3", "r4", "t1", "t2")})


def _all(model: type[Any]) -> Any:
    from sqlmodel import select

    return select(model)


async def _add_leads(db: Database, leads: Sequence[Lead]) -> None:
    async with db.session() as session:
        for lead in leads:
            session.add(Lead(**lead.model_dump()))


def _runtime(db: Database) -> Runtime:
    return cast(Runtime, SimpleNamespace(db=db))


# Times and generated ids differ between two runs; everything else must not.
_VARYING = {"created_at", "updated_at", "assigned_at", "processed_at", "event_id", "timestamp"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


QUERIES = {
    "leads": "SELECT * FROM leads ORDER BY id",
    "lead_assignments": "SELECT lead_id, territory_id, assigned_to_id, previous_assigned_to_id,"
    " actor_id, method, reason FROM lead_assignments ORDER BY lead_id, assigned_at",
    "outbox": "SELECT event_type, topic, key, envelope FROM outbox ORDER BY id",
    "inbox": "SELECT consumer, event_id FROM inbox ORDER BY event_id",
    "territories": "SELECT id, assignment_seq, version FROM territories ORDER BY id",
    "territory_members": "SELECT territory_id, user_id, turns FROM territory_members"
    " ORDER BY territory_id, user_id",
    "lead_counts": "SELECT assigned_to_id, territory_id, status, sum(n) AS n FROM lead_counts"
    " GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3",
}


async def _state(db: Database) -> dict[str, list[dict[str, Any]]]:
    state = {}
    async with db.session() as session:
        for table, query in QUERIES.items():
            result = await session.exec(text(query))  # type: ignore[call-overload]
            state[table] = [_stable(dict(row._mapping)) for row in result]
    return state


async def _one_by_one(db: Database, messages: Sequence[dict[str, Any]]) -> list[int]:
    handle = marketing.lead_qualified_handler(_runtime(db))
    rejected = []
    for index, body in enumerate(messages):
        try:
            await handle(body)
        except Rejected:
            rejected.append(index)
    return rejected


async def _in_batches(
    db: Database, messages: Sequence[dict[str, Any]], sizes: Sequence[int]
) -> list[int]:
    handle = marketing.lead_qualified_batch_handler(_runtime(db))
    rejected: list[int] = []
    start = 0
    for size in sizes:
        batch = messages[start : start + size]
        rejected += [start + index for index in sorted(await handle(batch))]
        start += size
    assert start == len(messages)
    return rejected


@pytest.mark.parametrize("sizes", [(7, 9, 3), (19,), (1,) * 19])
async def test_batches_write_the_rows_one_by_one_ingestion_writes(
    two_databases: tuple[Database, Database], sizes: tuple[int, ...]
) -> None:
    single, batched = two_databases
    org = await _same_org(single, batched)
    leads, messages = scenario(org)
    for db in two_databases:
        await _add_leads(db, leads)

    assert await _one_by_one(single, messages) == [8]
    assert await _in_batches(batched, messages, sizes) == [8]

    expected, actual = await _state(single), await _state(batched)
    for table in QUERIES:
        assert actual[table] == expected[table], table
    # The scenario does what it says (so that the comparison compares something).
    by_id = {row["id"]: row for row in expected["leads"]}
    assert len(expected["leads"]) == 5 + 8
    assert by_id[uuid.UUID(_id(1))]["status"] == "qualified"
    assert by_id[uuid.UUID(_id(3))]["status"] == "disqualified"
    assert by_id[uuid.UUID(_id(4))]["status"] == "converted"
    assert by_id[uuid.UUID(_id(1001))]["email"] == "a@x.com"  # lead 2's address not taken
    assert by_id[uuid.UUID(_id(1013))]["email"] == "b@x.com"
    assert by_id[uuid.UUID(_id(1003))]["assigned_to_id"] is None  # T2 full
    assert {r["method"] for r in expected["lead_assignments"]} == {"round_robin", "rules"}
    assert len(expected["inbox"]) == 15
