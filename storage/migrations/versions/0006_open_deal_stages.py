"""open_deal_stages: open deals per (owner, stage), kept with every deal write; filled from
the deals of an existing database

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_deal_stages",
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("workspace_id", "owner_id", "stage"),
    )
    op.execute(
        "INSERT INTO open_deal_stages (workspace_id, owner_id, stage, deals) "
        "SELECT workspace_id, coalesce(owner_id, ''), stage, count(*) FROM deals "
        "WHERE outcome = 'open' AND stage IS NOT NULL "
        "GROUP BY workspace_id, coalesce(owner_id, ''), stage"
    )


def downgrade() -> None:
    op.drop_table("open_deal_stages")
