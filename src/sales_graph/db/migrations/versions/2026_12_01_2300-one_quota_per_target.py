"""one quota per period and target: partial unique indexes (NULLs never collide)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_QUOTA = sa.text("territory_id IS NULL")
TERRITORY_QUOTA = sa.text("user_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "uq_quotas_user_period",
        "quotas",
        ["period", "user_id"],
        unique=True,
        postgresql_where=USER_QUOTA,
        sqlite_where=USER_QUOTA,
    )
    op.create_index(
        "uq_quotas_territory_period",
        "quotas",
        ["period", "territory_id"],
        unique=True,
        postgresql_where=TERRITORY_QUOTA,
        sqlite_where=TERRITORY_QUOTA,
    )


def downgrade() -> None:
    op.drop_index("uq_quotas_territory_period", table_name="quotas")
    op.drop_index("uq_quotas_user_period", table_name="quotas")
