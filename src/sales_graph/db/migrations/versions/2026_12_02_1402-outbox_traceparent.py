"""outbox traceparent: the W3C trace context of the span that recorded the event

Sent by the relay as the Kafka header ``traceparent``, so that the consumers' spans continue the
trace of the request that committed the event (docs/operations.md, "Traces"). Null when tracing
is off. Adding a nullable column rewrites no row on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("traceparent")
