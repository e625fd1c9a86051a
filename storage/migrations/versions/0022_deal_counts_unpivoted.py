"""PostgreSQL: the deal_counts triggers read each deal row once and unpivot its milestones with
VALUES

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:30:00

0015's trigger functions summed a deal row's contributions from one SELECT per milestone:
28 SELECTs over the transition tables for an update (14 milestones, the old rows and the new),
each a subquery the executor set up again on every call. For the one row a chat command
moves, setting up that plan was most of the trigger's cost: a `/kpi log demo-booked` that
moves a deal at 1M events cost the backend 1.5-2.1 ms, 1.3 ms with this (in-process, 45
moves a side, issue 18). Here the old and new rows are read once, signed (-1 for an old row,
1 for a new one), and each row's milestones come from a VALUES list joined to it (LATERAL):
the same contributions, one row per milestone reached, summed per key by the same upsert.
0017's early return (no counted column moved) stays. SQLite is unchanged (row triggers).
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def _revision(file: str, name: str):
    path = Path(__file__).with_name(file)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _counts():
    """Revision 0015, the one definition of what a deal row adds to deal_counts."""
    return _revision("0015_deal_counts.py", "kpibot_revision_0015")


def _contributions(signed_rows: str) -> str:
    """Every contribution of the deal rows of `signed_rows` (a subquery of deal rows with a
    `sign` column), one row each: the rows read once, their milestones unpivoted."""
    counts = _counts()
    milestones = ", ".join(f"('{name}', {at}, {owner}, {source}, {reason}, {competitor})"
                           for name, at, owner, source, reason, competitor
                           in counts._milestones("d"))
    sums = ", ".join(f"{value} AS {column}" for value, column
                     in zip(counts._values("d", "d.sign"), counts.SUMS, strict=True))
    return (f"SELECT d.workspace_id AS workspace_id, m.milestone AS milestone, "
            f"{counts._month('m.at', 'postgresql')} AS month, m.owner_id AS owner_id, "
            f"m.source AS source, m.reason AS reason, m.competitor AS competitor, {sums} "
            f"FROM ({signed_rows}) AS d CROSS JOIN LATERAL (VALUES {milestones}) "
            "AS m(milestone, at, owner_id, source, reason, competitor) WHERE m.at IS NOT NULL")


_OLD = "SELECT -1 AS sign, o.* FROM old_rows AS o"
_NEW = "SELECT 1 AS sign, n.* FROM new_rows AS n"


def functions() -> dict[str, str]:
    counts = _counts()
    counted = ", ".join(counts.COUNTED)
    moved = (f"IF NOT EXISTS (SELECT {counted} FROM new_rows EXCEPT ALL "
             f"SELECT {counted} FROM old_rows) THEN RETURN NULL; END IF;")  # (0017)
    bodies = {
        "deal_counts_inserted": ("", _contributions(_NEW)),
        "deal_counts_deleted": ("", _contributions(_OLD)),
        # the old rows taken away, the new ones added: what an update did not move sums to 0
        "deal_counts_updated": (moved, _contributions(f"{_OLD} UNION ALL {_NEW}")),
    }
    return {name: f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {check}
            {counts._add_grouped(body, upsert=True)};
            RETURN NULL;
        END
        $$""" for name, (check, body) in bodies.items()}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in functions().values():
            op.execute(function)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        before = _counts().postgresql_functions()
        before["deal_counts_updated"] = _revision(
            "0017_deal_counts_update_moves.py", "kpibot_revision_0017").updated_function()
        for function in before.values():
            op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
