"""monthly_rollups (per local month, kind, user and source, the daily rollups' sums);
partial indexes ix_events_durations and ix_events_downgrades

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 15:30:00

Filled from `daily_rollups` (already per workspace-local day, so a month is the days whose
date falls in it).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "monthly_rollups",
        sa.Column("workspace_id", text(length=80), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", text(length=40), nullable=False),
        sa.Column("user_id", text(length=80), nullable=False),
        sa.Column("source", text(length=40), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("count_sum", sa.BigInteger(), nullable=False),
        sa.Column("amount_sum", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_monthly_rollups_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("workspace_id", "month", "kind", "user_id", "source",
                                name=op.f("pk_monthly_rollups")),
    )
    with op.batch_alter_table("monthly_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_monthly_rollups_kind", ["workspace_id", "kind", "month"],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "date(day, 'start of month')"
    op.execute(
        "INSERT INTO monthly_rollups (workspace_id, month, kind, user_id, source, events,"
        " count_sum, amount_sum, duration_sum)"
        f" SELECT workspace_id, {month}, kind, user_id, source, SUM(events), SUM(count_sum),"
        " SUM(amount_sum), SUM(duration_sum) FROM daily_rollups"
        f" GROUP BY workspace_id, {month}, kind, user_id, source"
    )


    durations = sa.text("duration_seconds IS NOT NULL AND voided_at IS NULL")
    op.create_index("ix_events_durations", "events",
                    ["workspace_id", "kind", "occurred_at", "duration_seconds", "user_id"],
                    unique=False, sqlite_where=durations, postgresql_where=durations)
    downgrades = sa.text("amount_minor < 0 AND voided_at IS NULL")
    op.create_index("ix_events_downgrades", "events",
                    ["workspace_id", "kind", "occurred_at", "amount_minor"],
                    unique=False, sqlite_where=downgrades, postgresql_where=downgrades)


def downgrade() -> None:
    op.drop_index("ix_events_downgrades", table_name="events")
    op.drop_index("ix_events_durations", table_name="events")
    with op.batch_alter_table("monthly_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_monthly_rollups_kind")
    op.drop_table("monthly_rollups")
