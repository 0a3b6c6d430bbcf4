"""deal score models

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:37:40.012109
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sales_graph.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
