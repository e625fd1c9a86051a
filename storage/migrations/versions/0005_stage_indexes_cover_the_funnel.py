"""stage indexes cover the funnel: each holds the neighbouring stages' timestamps;
events by account: a partial index (account_key IS NOT NULL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:18:32
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COVERING = {
    "ix_deals_lead": ["workspace_id", "lead_at", "mql_at"],
    "ix_deals_mql": ["workspace_id", "mql_at", "lead_at", "sql_at"],
    "ix_deals_sql": ["workspace_id", "sql_at", "mql_at", "opportunity_at"],
    "ix_deals_opportunity": ["workspace_id", "opportunity_at", "sql_at", "demo_at"],
    "ix_deals_demo": ["workspace_id", "demo_at", "opportunity_at", "outcome"],
    "ix_deals_closed": ["workspace_id", "closed_at", "outcome", "amount_minor", "owner_id",
                        "demo_at", "won_at"],
}
BEFORE = {
    "ix_deals_lead": ["workspace_id", "lead_at"],
    "ix_deals_mql": ["workspace_id", "mql_at"],
    "ix_deals_sql": ["workspace_id", "sql_at"],
    "ix_deals_opportunity": ["workspace_id", "opportunity_at"],
    "ix_deals_demo": ["workspace_id", "demo_at"],
    "ix_deals_closed": ["workspace_id", "closed_at"],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    with op.batch_alter_table("deals", schema=None) as batch_op:
        for name, columns in indexes.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    _replace(COVERING)
    # Most events name no account: with planner statistics SQLite took the full index for
    # useless and scanned the events. (Alembic does not compare partial-index conditions.)
    op.drop_index("ix_events_workspace_account", table_name="events")
    where = sa.text("account_key IS NOT NULL")
    op.create_index("ix_events_workspace_account", "events", ["workspace_id", "account_key"],
                    unique=False, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_events_workspace_account", table_name="events")
    op.create_index("ix_events_workspace_account", "events", ["workspace_id", "account_key"],
                    unique=False)
    _replace(BEFORE)
