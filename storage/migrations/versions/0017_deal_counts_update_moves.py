"""PostgreSQL: the deal_counts update trigger returns at once when an UPDATE of deals moved
no column it counts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:10:00

PostgreSQL allows no column list (UPDATE OF) on a trigger with transition tables, so
0015's statement-level trigger ran its whole body (every row's contributions taken away and
added again: 28 SELECTs, grouped, an upsert) for any UPDATE of `deals`: 0.20-0.26 ms of a
0.27 ms rename (EXPLAIN ANALYZE), and a `/kpi log` often rewrites only a deal's name or
times it does not count. What a deal adds depends on its counted columns alone (0015's
COUNTED), so when the new rows' counted tuples are the old ones (EXCEPT ALL: the same
multiset, whatever the ids; an UPDATE has as many new rows as old) nothing can move and the
body is skipped (0.04-0.05 ms). Otherwise it runs as before. SQLite is unchanged: its row
trigger has `UPDATE OF ... WHEN`.
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _deal_counts_revision():
    """Revision 0015, the one definition of what a deal row adds to deal_counts."""
    path = Path(__file__).with_name("0015_deal_counts.py")
    spec = importlib.util.spec_from_file_location("kpibot_revision_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def updated_function() -> str:
    counts = _deal_counts_revision()
    counted = ", ".join(counts.COUNTED)
    before = counts.postgresql_functions()["deal_counts_updated"]
    check = (f"IF NOT EXISTS (SELECT {counted} FROM new_rows EXCEPT ALL "
             f"SELECT {counted} FROM old_rows) THEN RETURN NULL; END IF;")  # nothing moved
    head, begin, rest = before.partition("BEGIN")
    return (head.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) + begin
            + f"\n            {check}" + rest)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(updated_function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        before = _deal_counts_revision().postgresql_functions()["deal_counts_updated"]
        op.execute(before.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
