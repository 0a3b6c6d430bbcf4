"""Two processes on the embedded SQLite file (the gateway and a CLI command: two engines here)
write at once without "database is locked": a transaction takes the write lock when it begins
(BEGIN IMMEDIATE), so the other waits for it instead of failing when it upgrades."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from sales_graph.db.engine import Database
from sales_graph.db.locks import exclusive

pytestmark = pytest.mark.asyncio


async def test_two_engines_read_then_write_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.session() as session:
            await session.exec(text("CREATE TABLE counter (n INTEGER NOT NULL)"))  # type: ignore[call-overload]
            await session.exec(text("INSERT INTO counter VALUES (0)"))  # type: ignore[call-overload]

        async def bump(db: Database, times: int) -> None:
            for _ in range(times):
                async with db.session() as session:
                    n = (await session.exec(text("SELECT n FROM counter"))).scalar_one()  # type: ignore[call-overload]
                    await session.exec(text("UPDATE counter SET n = :n"), params={"n": n + 1})  # type: ignore[call-overload]

        await asyncio.gather(bump(first, 40), bump(second, 40))
        async with first.session() as session:
            total = (await session.exec(text("SELECT n FROM counter"))).scalar_one()  # type: ignore[call-overload]
        assert total == 80  # no lost update, no "database is locked"
    finally:
        await first.dispose()
        await second.dispose()


async def _one_holder_at_a_time(url: str) -> None:
    one, two = Database(url), Database(url)
    try:
        async with exclusive(one, "finance:commissions:M09_2026") as held:
            assert held
            async with exclusive(two, "finance:commissions:M09_2026") as again:
                assert not again
            async with exclusive(two, "finance:commissions:M10_2026") as other:
                assert other
        async with exclusive(two, "finance:commissions:M09_2026") as after:
            assert after
    finally:
        await one.dispose()
        await two.dispose()


async def test_a_lock_on_sqlite_is_held_by_one_holder_at_a_time(tmp_path: Path) -> None:
    await _one_holder_at_a_time(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}")


async def test_a_lock_on_postgresql_is_held_by_one_holder_at_a_time(fresh_postgres: str) -> None:
    await _one_holder_at_a_time(fresh_postgres)
