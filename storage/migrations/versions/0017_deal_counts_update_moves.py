"""PostgreSQL: the deal_counts update trigger adds only what an UPDATE of deals moved, and
returns at once when it moved nothing it counts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:10:00

PostgreSQL allows no column list (UPDATE OF) on a trigger with transition tables, so
0015's statement-level trigger ran its whole body (every row's contributions taken away and
added again, 28 SELECTs, grouped) for any UPDATE of `deals`: 0.2 ms of a 0.27 ms rename
(EXPLAIN ANALYZE), and a `/kpi log` rewrites one deal. What a deal adds depends on its counted
columns alone (0015's COUNTED), so the net change of a statement is the contributions of the
new rows' counted tuples that are not among the old ones, minus those of the old ones that
are not among the new ones (EXCEPT ALL: the rows that kept their counted values cancel out,
whatever their ids). When the two multisets are equal (the same number of rows, none moved)
nothing runs but that test. SQLite is unchanged: its row trigger has `UPDATE OF ... WHEN`.
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
    moved = (f"WITH added AS MATERIALIZED (SELECT {counted} FROM new_rows EXCEPT ALL "
             f"SELECT {counted} FROM old_rows), "
             f"taken AS MATERIALIZED (SELECT {counted} FROM old_rows EXCEPT ALL "
             f"SELECT {counted} FROM new_rows) ")
    body = (counts._contributions("taken", "-1", "postgresql") + " UNION ALL "
            + counts._contributions("added", "1", "postgresql"))
    return f"""
        CREATE OR REPLACE FUNCTION deal_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT {counted} FROM new_rows EXCEPT ALL
                           SELECT {counted} FROM old_rows) THEN
                RETURN NULL;  -- no counted column moved
            END IF;
            {moved}{counts._add_grouped(body, upsert=True)};
            RETURN NULL;
        END
        $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(updated_function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        before = _deal_counts_revision().postgresql_functions()["deal_counts_updated"]
        op.execute(before.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
