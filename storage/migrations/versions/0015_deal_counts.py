"""deal_counts: deals per (UTC month, milestone, owner, source, reason, competitor), kept by
triggers on deals; filled from the deals of an existing database

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 18:00:00
"""

import sqlalchemy as sa
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


def _milestones(row: str) -> list[tuple[str, str, str, str, str, str]]:
    """(name, time, owner, source, reason, competitor) of each row the deal `row` adds to:
    per milestone reached, its owner's and source's row and the team's ("team:" + name, owner
    and source "")."""
    owner, source = f"coalesce({row}.owner_id, '')", f"coalesce({row}.source, '')"
    stages = [(s, f"{row}.{s}_at", "''", "''") for s in ("lead", "mql", "sql", "opportunity",
                                                          "demo")]
    outcomes = [
        ("won", f"CASE WHEN {row}.outcome = 'won' THEN {row}.closed_at END", "''", "''"),
        ("lost", f"CASE WHEN {row}.outcome = 'lost' THEN {row}.closed_at END",
         f"coalesce({row}.reason, '')", f"coalesce({row}.competitor, '')"),
    ]
    found = []
    for name, at, reason, competitor in stages + outcomes:
        by_source = "''" if name == "lost" else source
        found += [(name, at, owner, by_source, reason, competitor),
                  (f"team:{name}", at, "''", "''", reason, competitor)]
    return found


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


def _add(row: str, sign: str) -> str:
    """SQLite: upserts adding (sign 1) or taking away (sign -1) a deal row's contributions,
    one per milestone, each only when the row has reached it."""
    values = ", ".join(_values(row, sign))
    update = ", ".join(f"{s} = {s} + excluded.{s}" for s in SUMS)
    return " ".join(
        f"INSERT INTO deal_counts ({', '.join(KEY + SUMS)}) "
        f"SELECT {row}.workspace_id, '{name}', {_month(at, 'sqlite')}, "
        f"{owner}, {source}, {reason}, {competitor}, {values} "
        f"WHERE {at} IS NOT NULL ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {update};"
        for name, at, owner, source, reason, competitor in _milestones(row))


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in COUNTED)


def sqlite_triggers() -> dict[str, str]:
    return {
        "deal_counts_insert": f"""
            CREATE TRIGGER deal_counts_insert AFTER INSERT ON deals
            BEGIN {_add('NEW', '1')} END""",
        "deal_counts_delete": f"""
            CREATE TRIGGER deal_counts_delete AFTER DELETE ON deals
            BEGIN {_add('OLD', '-1')} END""",
        "deal_counts_update": f"""
            CREATE TRIGGER deal_counts_update AFTER UPDATE OF {', '.join(COUNTED)} ON deals
            WHEN {_changed('IS NOT')}
            BEGIN {_add('OLD', '-1')} {_add('NEW', '1')} END""",
    }


def _contributions(rows: str, sign: str, dialect: str) -> str:
    """Every contribution of the deal rows `rows` (a table or a subquery), one row each."""
    parts = []
    for name, at, owner, source, reason, competitor in _milestones("d"):
        values = ", ".join(f"{v} AS {s}" for v, s in zip(_values("d", sign), SUMS, strict=True))
        parts.append(
            f"SELECT d.workspace_id AS workspace_id, '{name}' AS milestone, "
            f"{_month(at, dialect)} AS month, {owner} AS owner_id, "
            f"{source} AS source, {reason} AS reason, {competitor} AS competitor, {values} "
            f"FROM {rows} AS d WHERE {at} IS NOT NULL")
    return " UNION ALL ".join(parts)


def _add_grouped(contributions: str, *, upsert: bool) -> str:
    """Contributions summed per key and added to deal_counts (one upsert for any number of
    deals: each key once; keys whose sums are all 0, e.g. of deal updates that changed no
    counted column, are left alone)."""
    sums = ", ".join(f"SUM(c.{s})" for s in SUMS)
    key = ", ".join(f"c.{k}" for k in KEY)
    statement = (f"INSERT INTO deal_counts AS counted ({', '.join(KEY + SUMS)}) "
                 f"SELECT {key}, {sums} FROM ({contributions}) AS c GROUP BY {key} "
                 "HAVING " + " OR ".join(f"SUM(c.{s}) <> 0" for s in SUMS))
    if upsert:
        statement += (f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
                      + ", ".join(f"{s} = counted.{s} + excluded.{s}" for s in SUMS))
    return statement


# PostgreSQL: statement-level triggers over the transition tables, so that a statement
# changing many deals (an import, a rep link, a mass undo) adds each key once, instead of
# one upsert per deal and key (many versions of the same rows in one transaction).
def postgresql_functions() -> dict[str, str]:
    bodies = {
        "deal_counts_inserted": _contributions("new_rows", "1", "postgresql"),
        "deal_counts_deleted": _contributions("old_rows", "-1", "postgresql"),
        # the old rows taken away, the new ones added: what an update did not move sums to 0
        "deal_counts_updated": _contributions("old_rows", "-1", "postgresql")
        + " UNION ALL " + _contributions("new_rows", "1", "postgresql"),
    }
    return {name: f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_add_grouped(body, upsert=True)};
            RETURN NULL;
        END
        $$""" for name, body in bodies.items()}


def postgresql_triggers() -> dict[str, str]:
    return {
        "deal_counts_insert": """
            CREATE TRIGGER deal_counts_insert AFTER INSERT ON deals
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION deal_counts_inserted()""",
        "deal_counts_delete": """
            CREATE TRIGGER deal_counts_delete AFTER DELETE ON deals
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION deal_counts_deleted()""",
        "deal_counts_update": """
            CREATE TRIGGER deal_counts_update AFTER UPDATE ON deals
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION deal_counts_updated()""",
    }


def backfill(dialect: str) -> str:
    """Every deal's contributions, summed per key (what the insert trigger would have added)."""
    return _add_grouped(_contributions("deals", "1", dialect), upsert=False)


def upgrade() -> None:
    text = sa.String
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
        for ddl in postgresql_functions().values():
            op.execute(ddl)
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
        for name in postgresql_functions():
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("deal_counts")
