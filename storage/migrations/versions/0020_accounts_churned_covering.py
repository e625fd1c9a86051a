"""ix_accounts_churned also holds customer_since, so that the customers at an instant are
two index-only range counts

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 00:00:00

Customers at t are the accounts won before t and not churned before it. Counted directly, every
account won before t cost a lookup in the table for its churned_at (clv at 5M events: 12k
accounts, ~4 ms a count). Now (storage/customers.py) they are the accounts won before t
(ix_accounts_customer_since) minus those won before t that churned before t: a range of this
index on churned_at, with customer_since read from the index itself. The accounts' frequent
updates (mrr_minor, updated_at) touch neither indexed column.
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

NARROW = ["workspace_id", "churned_at"]
COVERING = [*NARROW, "customer_since"]


def upgrade() -> None:
    op.drop_index("ix_accounts_churned", table_name="accounts")
    op.create_index("ix_accounts_churned", "accounts", COVERING, unique=False)


def downgrade() -> None:
    op.drop_index("ix_accounts_churned", table_name="accounts")
    op.create_index("ix_accounts_churned", "accounts", NARROW, unique=False)
