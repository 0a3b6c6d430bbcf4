"""deal score models"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sales_graph.db.types

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "deal_score_models",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column(
            "coefficients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("intercept", sa.Float(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=True),
        sa.Column("trained_on", sa.Integer(), nullable=False),
        sa.Column("created_at", sales_graph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )


def downgrade() -> None:

    op.drop_table("deal_score_models")
