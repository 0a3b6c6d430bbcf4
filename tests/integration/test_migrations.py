"""Migrations build the whole schema from empty, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlmodel import SQLModel

import sales_graph.db.models  # noqa: F401
from sales_graph.db.engine import Database
from sales_graph.db.migrate import alembic_config, current_revision, upgrade


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def test_migrate_from_empty_reaches_head_with_every_table(fresh_database: str) -> None:
    db = Database(fresh_database)
    try:
        assert await current_revision(db.engine) is None
        await upgrade(db.engine)
        assert await current_revision(db.engine) == _head()

        def tables(connection: Connection) -> set[str]:
            return set(inspect(connection).get_table_names())

        async with db.engine.connect() as connection:
            present = await connection.run_sync(tables)
        assert set(SQLModel.metadata.tables) <= present
        # A second run is a no-op, not an error.
        await upgrade(db.engine)
        assert await current_revision(db.engine) == _head()
    finally:
        await db.dispose()


async def test_migrations_match_the_models(fresh_database: str) -> None:
    db = Database(fresh_database)
    try:
        await upgrade(db.engine)

        def diff(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))

        async with db.engine.connect() as connection:
            differences = await connection.run_sync(diff)
        assert differences == []
    finally:
        await db.dispose()


async def test_indexes_for_the_queries_of_the_design(fresh_database: str) -> None:
    db = Database(fresh_database)
    try:
        await upgrade(db.engine)

        def indexed_columns(connection: Connection, table: str) -> set[tuple[str, ...]]:
            inspector = inspect(connection)
            found = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
            found |= {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
            return found  # type: ignore[return-value]

        async with db.engine.connect() as connection:
            opportunities = await connection.run_sync(indexed_columns, "opportunities")
            leads = await connection.run_sync(indexed_columns, "leads")
        for columns in [
            ("owner_id",),
            ("territory_id",),
            ("stage",),
            ("expected_close_date",),
            ("owner_id", "expected_close_date"),
        ]:
            assert columns in opportunities, columns
        assert ("email_normalized",) in leads
        assert ("assigned_to_id",) in leads
        assert ("territory_id",) in leads
    finally:
        await db.dispose()
