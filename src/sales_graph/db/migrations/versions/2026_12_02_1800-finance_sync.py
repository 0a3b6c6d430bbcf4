"""finance sync: runs, reports and their lines, commission batches and lines

The scheduled sync with Finance (docs/finance.md): each run of a kind for a period, the report
versions sent as events with their lines, and the commission requests with Finance's answers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sales_graph.db.types import JSONDoc, Money, UTCDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "finance_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("summary", JSONDoc, nullable=True),
        sa.Column("error", sa.String(length=4000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_finance_runs_kind_status", "finance_runs", ["kind", "status", "finished_at"]
    )
    op.create_table(
        "finance_reports",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("superseded_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("report_id", "version"),
    )
    op.create_index("ix_finance_reports_period", "finance_reports", ["period"])
    op.create_table(
        "pipeline_report_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_amount", Money, nullable=False),
        sa.Column("weighted_amount", Money, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_pipeline_report_lines_report", "pipeline_report_lines", ["report_id", "version"]
    )
    op.create_table(
        "territory_performance_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.Column("quota", Money, nullable=True),
        sa.Column("closed_won", Money, nullable=False),
        sa.Column("forecast", Money, nullable=False),
        sa.Column("open_pipeline", Money, nullable=False),
        sa.Column("attainment", sa.Numeric(12, 4), nullable=True),
        sa.Column("coverage", sa.Numeric(12, 2), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_territory_performance_lines_report",
        "territory_performance_lines",
        ["report_id", "version"],
    )
    op.create_table(
        "commission_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deals", JSONDoc, nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("calculation_id", sa.String(length=100), nullable=True),
        sa.Column("total_commission", Money, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "version", "position"),
    )
    op.create_index("ix_commission_batches_period", "commission_batches", ["period"])
    op.create_table(
        "commission_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=True),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("rate", sa.Numeric(9, 6), nullable=False),
        sa.Column("commission", Money, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deal_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("superseded_at", UTCDateTime(), nullable=True),
        sa.Column("superseded_by_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["commission_batches.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_commission_lines_batch_id", "commission_lines", ["batch_id"])
    op.create_index("ix_commission_lines_opportunity_id", "commission_lines", ["opportunity_id"])
    op.create_index("ix_commission_lines_period_owner", "commission_lines", ["period", "owner_id"])


def downgrade() -> None:
    for table in (
        "commission_lines",
        "commission_batches",
        "territory_performance_lines",
        "pipeline_report_lines",
        "finance_reports",
        "finance_runs",
    ):
        op.drop_table(table)
