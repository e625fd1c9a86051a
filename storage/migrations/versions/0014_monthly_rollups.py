"""monthly_rollups (per local month, kind, user and source, the daily rollups' sums);
partial indexes ix_events_durations and ix_events_downgrades; the deal stage indexes also
hold outcome, owner and source

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 15:30:00

Filled from `daily_rollups` (already per workspace-local day, so a month is the days whose
date falls in it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

GROUPS = ["outcome", "owner_id", "source"]
STAGE_INDEXES = {  # 0005's columns; 0014 appends GROUPS
    "ix_deals_lead": ["workspace_id", "lead_at", "mql_at"],
    "ix_deals_mql": ["workspace_id", "mql_at", "lead_at", "sql_at"],
    "ix_deals_sql": ["workspace_id", "sql_at", "mql_at", "opportunity_at"],
    "ix_deals_opportunity": ["workspace_id", "opportunity_at", "sql_at", "demo_at"],
    "ix_deals_demo": ["workspace_id", "demo_at", "opportunity_at", "outcome"],
}


def _stage_indexes(grouped: bool) -> None:
    """Recreate the stage indexes (plain DROP/CREATE INDEX: `deals` is not rebuilt, so its
    open_deal_stages triggers stay)."""
    for name, columns in STAGE_INDEXES.items():
        if grouped:
            columns = [c for c in columns if c not in GROUPS] + GROUPS
        op.drop_index(name, table_name="deals")
        op.create_index(name, "deals", columns, unique=False)


def upgrade() -> None:
    text = sa.String
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
    _stage_indexes(grouped=True)


def downgrade() -> None:
    _stage_indexes(grouped=False)
    op.drop_index("ix_events_downgrades", table_name="events")
    op.drop_index("ix_events_durations", table_name="events")
    with op.batch_alter_table("monthly_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_monthly_rollups_kind")
    op.drop_table("monthly_rollups")
