"""events: outbox retry time and pending index, scheduled runs"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sales_graph.db.types

revision = "0003"
down_revision = "0002"


PENDING = sa.text("published_at IS NULL AND parked_at IS NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # 0001 made the id BIGINT, which SQLite does not number by itself: INTEGER it is.
        with op.batch_alter_table("outbox", recreate="always") as batch_op:
            batch_op.alter_column(
                "id", existing_type=sa.BigInteger(), type_=sa.Integer(), autoincrement=True
            )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", sales_graph.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.drop_index("ix_outbox_unpublished")
        batch_op.create_index(
            "ix_outbox_pending", ["id"], postgresql_where=PENDING, sqlite_where=PENDING
        )
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("slot", sales_graph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", sales_graph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sales_graph.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("job", "slot"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.create_index(
            "ix_outbox_unpublished", ["published_at", "parked_at", "id"], unique=False
        )
        batch_op.drop_column("next_attempt_at")
