"""lead counts per (assignee, territory, status), kept by PostgreSQL statement triggers

A total under the access filter sums these rows instead of counting every lead
(``db/repositories/leads.py``). Each statement that inserts, updates, deletes or truncates
leads adds its net change per key to the shard of its connection (``pg_backend_pid() % 16``),
keys in order, in the same transaction. SQLite keeps no counts (its totals are counted).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

NEW = "SELECT assigned_to_id, territory_id, status, 1 AS delta FROM new_rows"
OLD = "SELECT assigned_to_id, territory_id, status, -1 AS delta FROM old_rows"


def _add(changes: str) -> str:
    """A statement's net change per key, from its transition tables (a new row counts +1, an
    old row -1), added to its connection's shard, keys in order. Constant SQL, no input."""
    return f"""
        INSERT INTO lead_counts AS c (assigned_to_id, territory_id, status, shard, n)
        SELECT assigned_to_id, territory_id, status, pg_backend_pid() % 16, sum(delta)
        FROM ({changes}) AS changes
        GROUP BY assigned_to_id, territory_id, status HAVING sum(delta) <> 0
        ORDER BY assigned_to_id, territory_id, status
        ON CONFLICT (assigned_to_id, territory_id, status, shard)
        DO UPDATE SET n = c.n + excluded.n;"""  # noqa: S608


# A branch per operation: plpgsql plans a statement when it first runs it, and only UPDATE has
# both transition tables.
FUNCTION = f"""
CREATE FUNCTION lead_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {_add(NEW)}
    ELSIF TG_OP = 'UPDATE' THEN {_add(f"{NEW} UNION ALL {OLD}")}
    ELSIF TG_OP = 'DELETE' THEN {_add(OLD)}
    ELSE DELETE FROM lead_counts;
    END IF;
    RETURN NULL;
END
$$;
"""  # noqa: S608
TRIGGERS = {
    "lead_counts_insert": "AFTER INSERT ON leads REFERENCING NEW TABLE AS new_rows",
    "lead_counts_update": (
        "AFTER UPDATE ON leads REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "lead_counts_delete": "AFTER DELETE ON leads REFERENCING OLD TABLE AS old_rows",
    "lead_counts_truncate": "AFTER TRUNCATE ON leads",
}


def upgrade() -> None:
    op.create_table(
        "lead_counts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("assigned_to_id", sa.Uuid(), nullable=True),
        sa.Column("territory_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "assigned_to_id",
            "territory_id",
            "status",
            "shard",
            name="uq_lead_counts_key",
            postgresql_nulls_not_distinct=True,
        ),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_keep()"
        )
    op.execute(
        "INSERT INTO lead_counts (assigned_to_id, territory_id, status, shard, n) "
        "SELECT assigned_to_id, territory_id, status, 0, count(*) FROM leads "
        "GROUP BY assigned_to_id, territory_id, status"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON leads")
        op.execute("DROP FUNCTION lead_counts_keep()")
    op.drop_table("lead_counts")
