"""workspaces.history_version: a new random number after writes that change the deals of a past time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite adds and drops a column in place; a batch
# rebuild would drop `workspaces`, which other tables reference).


def upgrade() -> None:
    op.add_column("workspaces", sa.Column("history_version", sa.BigInteger(), nullable=False,
                                          server_default="0"))


def downgrade() -> None:
    op.drop_column("workspaces", "history_version")
