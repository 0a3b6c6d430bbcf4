"""With 200,000 opportunities in PostgreSQL, an owner's pipeline is read through an index."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Any

from sqlalchemy import event, text

from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.repositories.opportunities import totals_by_stage
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.services.stages import OPEN_STAGES

LOAD = """
INSERT INTO users (id, email, name, role, is_active, created_at, updated_at)
SELECT md5('u' || g)::uuid, 'rep' || g || '@ionoi-inc.com', 'Rep ' || g, 'sales_rep', true, now(), now()
FROM generate_series(1, 200) g;
INSERT INTO accounts (id, name, name_normalized, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-00000000000a', 'Big', 'big', now(), now());
INSERT INTO opportunities (id, name, account_id, stage, amount, probability, forecast_category,
    expected_close_date, owner_id, opportunity_metadata, deal_score_factors, close_date_slips,
    stage_changed_at, version, created_at, updated_at)
SELECT md5('o' || g)::uuid, 'Deal ' || g, '00000000-0000-0000-0000-00000000000a',
    (ARRAY['discovery','qualification','proposal','negotiation','closed_won','closed_lost'])[1 + g % 6],
    1000 + g % 5000, 20, 'pipeline', DATE '2025-01-01' + (g % 730),
    md5('u' || (1 + g % 200))::uuid, '{}', '[]', 0, now(), 1, now(), now()
FROM generate_series(1, 200000) g;
ANALYZE opportunities;
"""


async def test_owner_pipeline_uses_an_index(fresh_postgres: str) -> None:
    db = Database(fresh_postgres)
    try:
        await upgrade(db.engine)
        async with db.engine.begin() as connection:
            for statement in LOAD.split(";\n"):
                if statement.strip():
                    await connection.execute(text(statement))
        captured: list[tuple[str, Any]] = []

        def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
            captured.append((statement, parameters))

        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        admin = AccessScope(Principal(subject="admin"), unrestricted=True)
        owner = uuid.UUID(hashlib.md5(b"u7").hexdigest())  # noqa: S324  (as md5()::uuid above)
        async with db.session() as session:
            totals = await totals_by_stage(
                session,
                admin,
                stages=[s.value for s in OPEN_STAGES],
                start=date(2026, 1, 1),
                end=date(2026, 3, 31),
                owner_id=owner,
            )
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
        assert sum(t.count for t in totals) > 0
        statement, parameters = next((s, p) for s, p in captured if "GROUP BY" in s)
        async with db.engine.connect() as connection:
            result = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in result)
        assert "Seq Scan on opportunities" not in plan, plan
        assert "ix_opportunities_owner" in plan, plan
    finally:
        await db.dispose()
