"""The lead counts PostgreSQL keeps (migration 0005) give every caller, under every filter, the
total that counting the leads one by one gives: after inserts, updates of one and of many rows,
deletes, truncation, concurrent writers, and a backfill of leads that were there before."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlmodel import col

from sales_graph.db.engine import Database
from sales_graph.db.migrate import downgrade, upgrade
from sales_graph.db.models import Lead, LeadCount
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.domain import LeadStatus, Role
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.services.access import scope_for
from tests.factories import Org, make_org

STATUSES = [s.value for s in LeadStatus]


@pytest.fixture
async def db(fresh_postgres: str) -> AsyncIterator[Database]:
    database = Database(fresh_postgres)
    await upgrade(database.engine)
    yield database
    await database.dispose()


@pytest.fixture
async def org(db: Database) -> Org:
    async with db.session() as session:
        return await make_org(session)


def _leads(org: Org, n: int, rng: random.Random) -> list[Lead]:
    owners = [None, org.r1.id, org.r2.id, org.r3.id, org.r4.id, org.m1.id]
    territories = [None, org.t1.id, org.t2.id]
    return [
        Lead(
            email=f"{tag}@example.com",
            email_normalized=f"{tag}@example.com",
            status=rng.choice(STATUSES),
            assigned_to_id=rng.choice(owners),
            territory_id=rng.choice(territories),
        )
        for tag in (uuid.uuid4().hex for _ in range(n))
    ]


async def _scopes(db: Database, org: Org) -> dict[str, AccessScope]:
    users = {"admin": org.admin, "m1": org.m1, "m2": org.m2, "r1": org.r1, "r4": org.r4}
    found = {}
    async with db.session() as session:
        for name, user in users.items():
            principal = Principal(f"user:{user.id}", user_id=user.id, role=Role(user.role))
            found[name] = await scope_for(session, principal)
    return found


async def assert_counts_agree(db: Database, org: Org) -> int:
    """Every scope under every filter: the kept total equals the counted one. Returns how many
    leads the admin counts."""
    filters = [
        lead_repo.LeadFilter(status=status, assigned_to_id=owner, territory_id=territory)
        for status, owner, territory in itertools.product(
            [None, *STATUSES], [None, org.r1.id, org.r4.id], [None, org.t1.id, org.t2.id]
        )
    ]
    scopes = await _scopes(db, org)
    async with db.session() as session:
        for (name, scope), where in itertools.product(scopes.items(), filters):
            kept = await lead_repo.count(session, scope, where)
            counted = await lead_repo.count_each(session, scope, where)
            assert kept == counted, (name, where)
        everything = await lead_repo.count_each(session, scopes["admin"], lead_repo.LeadFilter())
        # The kept rows are what was summed: they hold every lead.
        kept_rows = await session.exec(select(func.coalesce(func.sum(LeadCount.n), 0)))  # type: ignore[call-overload]
        assert kept_rows.scalar_one() == everything
        return everything


async def test_counts_follow_every_kind_of_write(db: Database, org: Org) -> None:
    rng = random.Random(7)
    async with db.session() as session:
        session.add_all(_leads(org, 300, rng))  # one multi-row INSERT per flush
    assert await assert_counts_agree(db, org) == 300

    async with db.session() as session:
        # One statement changing many rows, and row-by-row updates of the ORM.
        await session.exec(update(Lead).where(col(Lead.status) == "new").values(status="working"))
        rows = list((await session.exec(select(Lead).limit(40))).scalars())  # type: ignore[call-overload]
        for lead in rows:
            lead.assigned_to_id = rng.choice([None, org.r2.id, org.r3.id])
            lead.status = rng.choice(STATUSES)
        await session.flush()
        # An update that changes no counted column is no change of the counts.
        await session.exec(update(Lead).values(score=5))
        await session.exec(delete(Lead).where(col(Lead.status) == "disqualified"))
    remaining = await assert_counts_agree(db, org)
    assert 0 < remaining < 300

    async with db.session() as session:
        # A transaction rolled back leaves the counts as they were.
        session.add_all(_leads(org, 25, rng))
        await session.flush()
        await session.rollback()
    assert await assert_counts_agree(db, org) == remaining


async def test_concurrent_writers_add_up(db: Database, org: Org) -> None:
    async def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(5):
            async with db.session() as session:
                session.add_all(_leads(org, 10, rng))

    await asyncio.gather(*(write(seed) for seed in range(6)))
    assert await assert_counts_agree(db, org) == 300
    async with db.session() as session:
        shards = await session.exec(select(func.count(func.distinct(LeadCount.shard))))  # type: ignore[call-overload]
        assert shards.scalar_one() >= 1


async def test_truncation_and_a_backfill_of_leads_already_there(db: Database, org: Org) -> None:
    async with db.session() as session:
        session.add_all(_leads(org, 120, random.Random(3)))
    async with db.engine.begin() as connection:
        await connection.execute(text("TRUNCATE leads CASCADE"))
    assert await assert_counts_agree(db, org) == 0

    async with db.session() as session:
        session.add_all(_leads(org, 80, random.Random(4)))
    # Migration 0005 run again over leads that exist: its backfill counts them.
    await downgrade(db.engine, "0004")
    async with db.session() as session:
        session.add_all(_leads(org, 20, random.Random(5)))  # not counted: no triggers at 0004
    await upgrade(db.engine)
    assert await assert_counts_agree(db, org) == 100


async def test_a_load_with_triggers_off_is_recounted(db: Database, org: Org) -> None:
    async with db.session() as session:
        session.add_all(_leads(org, 15, random.Random(8)))
    async with db.session() as session:
        await session.exec(text("ALTER TABLE leads DISABLE TRIGGER lead_counts_insert"))  # type: ignore[call-overload]
        session.add_all(_leads(org, 40, random.Random(9)))
        await session.flush()
        await session.exec(text("ALTER TABLE leads ENABLE TRIGGER lead_counts_insert"))  # type: ignore[call-overload]
    async with db.session() as session:
        kept = await session.exec(select(func.sum(LeadCount.n)))  # type: ignore[call-overload]
        assert kept.scalar_one() == 15  # the 40 loaded without the trigger are not in the counts
        assert await lead_repo.recount(session) == 55
    assert await assert_counts_agree(db, org) == 55
