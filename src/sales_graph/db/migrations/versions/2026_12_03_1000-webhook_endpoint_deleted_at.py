"""webhook endpoint deleted_at: a partner deletes an endpoint

A deleted endpoint keeps its row and its delivery log (nothing is lost), with ``deleted_at``
set: it is sent nothing more (its pending deliveries are cancelled), counts toward no limit and
is NOT_FOUND to every caller (docs/real-time.md, "Deleting"). Adding a nullable column rewrites
no row on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sales_graph.db.types import UTCDateTime

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
