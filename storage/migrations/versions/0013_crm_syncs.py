"""crm_syncs: a workspace's CRM sync (cursor, last run, mappings, runner lease)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:30:00
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sa.String
    stamp = storage.types.UTCDateTime(timezone=True)
    op.create_table(
        "crm_syncs",
        sa.Column("workspace_id", text(length=80), nullable=False),
        sa.Column("crm", text(length=16), nullable=False),
        sa.Column("cursor_at", stamp, nullable=True),
        sa.Column("stage_map", text(length=4000), nullable=True),
        sa.Column("source_map", text(length=4000), nullable=True),
        sa.Column("status", text(length=16), nullable=False),
        sa.Column("started_at", stamp, nullable=True),
        sa.Column("finished_at", stamp, nullable=True),
        sa.Column("error", text(length=500), nullable=True),
        sa.Column("deals_read", sa.Integer(), nullable=False),
        sa.Column("events_added", sa.Integer(), nullable=False),
        sa.Column("events_voided", sa.Integer(), nullable=False),
        sa.Column("deals_left_out", sa.Integer(), nullable=False),
        sa.Column("unmapped", text(length=2000), nullable=True),
        sa.Column("lease_owner", text(length=120), nullable=True),
        sa.Column("lease_expires_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_crm_syncs_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("workspace_id", "crm", name=op.f("pk_crm_syncs")),
    )


def downgrade() -> None:
    op.drop_table("crm_syncs")
