"""quota_changes: effective-dated quotas (one row per change) replace quotas (one row per rep and
metric); every existing quota is kept, in force from the beginning (effective_from NULL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:40:00
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_KEPT = "workspace_id, user_id, metric, cadence, target, set_by, set_at"


def upgrade() -> None:
    op.create_table(
        "quota_changes",
        sa.Column("id", storage.types.BigId, nullable=False),
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.String(length=80), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_quota_changes_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_changes")),
    )
    op.create_index("ix_quota_changes_rep", "quota_changes",
                    ["workspace_id", "user_id", "metric", "effective_from"], unique=False)
    op.execute(f"INSERT INTO quota_changes ({_KEPT}, effective_from) "
               f"SELECT {_KEPT}, NULL FROM quotas ORDER BY workspace_id, user_id, metric")
    op.drop_table("quotas")


def downgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.String(length=80), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_quotas_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", "metric", name=op.f("pk_quotas")),
    )
    # One quota per rep and metric: the change set last (the history is lost going down).
    op.execute(f"INSERT INTO quotas ({_KEPT}) SELECT {_KEPT} FROM quota_changes c "
               "WHERE c.id = (SELECT max(n.id) FROM quota_changes n "
               "WHERE n.workspace_id = c.workspace_id AND n.user_id = c.user_id "
               "AND n.metric = c.metric)")
    op.drop_index("ix_quota_changes_rep", table_name="quota_changes")
    op.drop_table("quota_changes")
