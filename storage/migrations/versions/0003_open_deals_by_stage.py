"""open deals indexed by stage, for stalled-deal counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:55:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_open_stage")
        batch_op.create_index("ix_deals_open_stage",
                              ["workspace_id", "outcome", "stage", "stage_changed_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_open_stage")
        batch_op.create_index("ix_deals_open_stage",
                              ["workspace_id", "outcome", "stage_changed_at"], unique=False)
