"""deal_counts: deals per (UTC month, milestone, owner, source, reason, competitor), kept by
triggers on deals; filled from the deals of an existing database

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 18:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The only definition of what a deal row adds to deal_counts (storage/models.py DealCount):
# one row per milestone it has reached, keyed by the UTC month of the milestone's time. The
# triggers subtract what the old row added and add what the new row adds, so every write to
# `deals` keeps the table (the ORM and Core paths of storage/deals.py, storage.reps, SQL by
# hand). SQLite drops a table's triggers with the table: a migration that rebuilds `deals`
# (batch mode) must create them again (tests/storage/test_deal_counts.py checks that they
# exist at head).

KEY = ("workspace_id", "milestone", "month", "owner_id", "source", "reason", "competitor")
SUMS = ("deals", "to_lead", "to_mql", "to_sql", "to_opportunity", "to_demo", "to_won",
        "to_lost", "amount_sum", "no_amount", "mrr_sum")
# What the triggers watch: a change of any other column leaves the table as it is.
COUNTED = ("workspace_id", "owner_id", "source", "lead_at", "mql_at", "sql_at",
           "opportunity_at", "demo_at", "closed_at", "outcome", "amount_minor", "mrr_minor",
           "reason", "competitor")


def _milestones(row: str) -> list[tuple[str, str, str, str, str]]:
    """(name, time, source, reason, competitor) of each milestone of the deal `row`."""
    source = f"coalesce({row}.source, '')"
    stages = [(s, f"{row}.{s}_at", source, "''", "''")
              for s in ("lead", "mql", "sql", "opportunity", "demo")]
    return stages + [
        ("won", f"CASE WHEN {row}.outcome = 'won' THEN {row}.closed_at END", source, "''", "''"),
        ("lost", f"CASE WHEN {row}.outcome = 'lost' THEN {row}.closed_at END", "''",
         f"coalesce({row}.reason, '')", f"coalesce({row}.competitor, '')"),
    ]


def _values(row: str, sign: str) -> list[str]:
    """The SUMS one deal `row` adds (times `sign`)."""
    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN {sign} ELSE 0 END"
    return [sign, *(flag(f"{row}.{s}_at IS NOT NULL")
                    for s in ("lead", "mql", "sql", "opportunity", "demo")),
            flag(f"{row}.outcome = 'won'"), flag(f"{row}.outcome = 'lost'"),
            f"{sign} * coalesce({row}.amount_minor, 0)", flag(f"{row}.amount_minor IS NULL"),
            f"{sign} * coalesce({row}.mrr_minor, 0)"]


def _month(at: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('month', ({at}) AT TIME ZONE 'UTC')::date"
    return f"date({at}, 'start of month')"


def _add(row: str, sign: str, dialect: str) -> str:
    """One upsert adding (sign 1) or taking away (sign -1) a deal row's contributions."""
    milestones = " UNION ALL ".join(
        f"SELECT '{name}' AS milestone, {at} AS at, {source} AS source, {reason} AS reason, "
        f"{competitor} AS competitor" for name, at, source, reason, competitor in _milestones(row))
    postgresql = dialect == "postgresql"
    counted = "counted." if postgresql else ""
    return (
        f"INSERT INTO deal_counts{' AS counted' if postgresql else ''} ({', '.join(KEY + SUMS)}) "
        f"SELECT {row}.workspace_id, m.milestone, {_month('m.at', dialect)}, "
        f"coalesce({row}.owner_id, ''), m.source, m.reason, m.competitor, "
        f"{', '.join(_values(row, sign))} FROM ({milestones}) AS m WHERE m.at IS NOT NULL "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
        + ", ".join(f"{s} = {counted}{s} + excluded.{s}" for s in SUMS) + ";")


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in COUNTED)


def sqlite_triggers() -> dict[str, str]:
    return {
        "deal_counts_insert": f"""
            CREATE TRIGGER deal_counts_insert AFTER INSERT ON deals
            BEGIN {_add('NEW', '1', 'sqlite')} END""",
        "deal_counts_delete": f"""
            CREATE TRIGGER deal_counts_delete AFTER DELETE ON deals
            BEGIN {_add('OLD', '-1', 'sqlite')} END""",
        "deal_counts_update": f"""
            CREATE TRIGGER deal_counts_update AFTER UPDATE OF {', '.join(COUNTED)} ON deals
            WHEN {_changed('IS NOT')}
            BEGIN {_add('OLD', '-1', 'sqlite')} {_add('NEW', '1', 'sqlite')} END""",
    }


def postgresql_function() -> str:
    return f"""
    CREATE FUNCTION deal_counts_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            {_add('OLD', '-1', 'postgresql')}
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {_add('NEW', '1', 'postgresql')}
        END IF;
        RETURN NULL;
    END
    $$"""


def postgresql_triggers() -> dict[str, str]:
    return {
        "deal_counts_insert": """
            CREATE TRIGGER deal_counts_insert AFTER INSERT ON deals FOR EACH ROW
            EXECUTE FUNCTION deal_counts_count()""",
        "deal_counts_delete": """
            CREATE TRIGGER deal_counts_delete AFTER DELETE ON deals FOR EACH ROW
            EXECUTE FUNCTION deal_counts_count()""",
        "deal_counts_update": f"""
            CREATE TRIGGER deal_counts_update AFTER UPDATE OF {', '.join(COUNTED)} ON deals
            FOR EACH ROW WHEN ({_changed('IS DISTINCT FROM')})
            EXECUTE FUNCTION deal_counts_count()""",
    }


def backfill(dialect: str) -> str:
    """Every deal's contributions, summed per key (what the insert trigger would have added)."""
    parts = []
    for name, at, source, reason, competitor in _milestones("d"):
        sums = ", ".join(f"SUM({v})" for v in _values("d", "1"))
        month, owner = _month(at, dialect), "coalesce(d.owner_id, '')"
        parts.append(
            f"SELECT d.workspace_id, '{name}', {month}, {owner}, {source}, {reason}, "
            f"{competitor}, {sums} FROM deals AS d WHERE {at} IS NOT NULL "
            "GROUP BY " + ", ".join(column for column in ("d.workspace_id", month, owner, source,
                                                          reason, competitor) if column != "''"))
    return (f"INSERT INTO deal_counts ({', '.join(KEY + SUMS)}) "
            + " UNION ALL ".join(parts))


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "deal_counts",
        sa.Column("workspace_id", text(length=80), nullable=False),
        sa.Column("milestone", text(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("owner_id", text(length=80), nullable=False),
        sa.Column("source", text(length=40), nullable=False),
        sa.Column("reason", text(length=120), nullable=False),
        sa.Column("competitor", text(length=120), nullable=False),
        *(sa.Column(name, sa.BigInteger() if name in ("amount_sum", "mrr_sum")
                    else sa.Integer(), nullable=False) for name in SUMS),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_deal_counts_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_deal_counts")),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    op.execute(backfill(dialect))
    if dialect == "postgresql":
        op.execute(postgresql_function())
        triggers = postgresql_triggers()
    else:
        triggers = sqlite_triggers()
    for ddl in triggers.values():
        op.execute(ddl)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in ("deal_counts_insert", "deal_counts_delete", "deal_counts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON deals" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS deal_counts_count()")
    op.drop_table("deal_counts")
