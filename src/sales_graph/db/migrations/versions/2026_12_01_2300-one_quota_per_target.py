"""one quota per period and target: partial unique indexes (NULLs never collide)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

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
