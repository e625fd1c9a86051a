"""deal_durations (each deal's time per stage and sales cycle, in milliseconds) and
deal_duration_counts (their histograms per UTC month, bucket and owner), kept by triggers;
duration_buckets; filled from the deals of an existing database

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 18:00:00

The only definition of the triggers. A deal row gives one deal_durations row per measure it
has a value for (storage/models.py DealDuration): measures 0-3 (lead, mql, sql, opportunity)
when the stage and the next one are set, exiting at the next one; 4 (demo) and 5 (the sales
cycle, from first_event_at) for won deals, exiting at the close. Every write to `deals` goes
through the triggers on `deals` (delete the deal's rows, insert them again from the new row),
and every write to deal_durations through the triggers on deal_durations (add to / take from
the team's row, owner "", and the owner's row of its month and bucket). SQLite drops a table's
triggers with the table: a migration that rebuilds `deals` (batch mode) must create them again
(tests/storage/test_deal_durations.py checks that they exist at head).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# [-2^62, 0), [0, 1) (zero-length stays), [1, 1000), then eight buckets per doubling of the
# seconds up to ~35 years (the last one is open-ended).
BOUNDS = [-(2 ** 62), 0, 1, *sorted({round(1000 * 2 ** (k / 8)) for k in range(241)})]

# (measure, exit column, later, earlier, extra condition)
MEASURES = [
    (0, "mql_at", "mql_at", "lead_at", None),
    (1, "sql_at", "sql_at", "mql_at", None),
    (2, "opportunity_at", "opportunity_at", "sql_at", None),
    (3, "demo_at", "demo_at", "opportunity_at", None),
    (4, "closed_at", "won_at", "demo_at", "outcome = 'won'"),
    (5, "closed_at", "won_at", "first_event_at", "outcome = 'won'"),
]
_WATCHED = ("workspace_id", "owner_id", "first_event_at", "lead_at", "mql_at", "sql_at",
            "opportunity_at", "demo_at", "won_at", "closed_at", "outcome")


def _ms(later: str, earlier: str, postgresql: bool) -> str:
    """storage.stage_durations.seconds_between(later, earlier) * 1000, as an exact integer."""
    if postgresql:
        return (f"CAST(round(CAST(EXTRACT(epoch FROM {later} - {earlier}) AS NUMERIC), 3)"
                f" * 1000 AS BIGINT)")
    return (f"CAST(round(round((julianday({later}) - julianday({earlier})) * 86400.0, 3)"
            f" * 1000) AS INTEGER)")


def _month(at: str, postgresql: bool) -> str:
    if postgresql:
        utc = f"({at} AT TIME ZONE 'UTC')"
        return (f"(CAST(EXTRACT(year FROM {utc}) AS INTEGER) * 12"
                f" + CAST(EXTRACT(month FROM {utc}) AS INTEGER) - 1)")
    return (f"(CAST(strftime('%Y', {at}) AS INTEGER) * 12"
            f" + CAST(strftime('%m', {at}) AS INTEGER) - 1)")


def _changed(measure: int, distinct: str) -> str:
    """Whether an update of a deal changes its row of `measure` (`distinct`: SQLite's "NOT",
    PostgreSQL's "DISTINCT FROM")."""
    _m, exit_at, later, earlier, extra = MEASURES[measure]
    columns = dict.fromkeys(("workspace_id", "owner_id", exit_at, later, earlier,
                             *(("outcome",) if extra else ())))
    return "(" + " OR ".join(f"OLD.{c} IS {distinct} NEW.{c}" for c in columns) + ")"


def _delete_changed(distinct: str) -> str:
    """DELETE FROM deal_durations the rows an update of a deal changes."""
    which = " OR ".join(f"(measure = {m} AND {_changed(m, distinct)})" for m, *_ in MEASURES)
    return f"DELETE FROM deal_durations WHERE deal_id = OLD.id AND ({which})"


def _insert_durations(row: str, postgresql: bool, changed: str | None = None) -> str:
    """INSERT INTO deal_durations the rows of `row` (NEW in a trigger; `deals` to backfill);
    with `changed` (see `_changed`), only those an update changed."""
    parts = []
    for measure, exit_at, later, earlier, extra in MEASURES:
        conditions = [f"{row}.{c} IS NOT NULL" for c in dict.fromkeys((exit_at, later, earlier))]
        if extra:
            conditions.append(f"{row}.{extra}")
        if changed:
            conditions.append(_changed(measure, changed))
        source = " FROM deals" if row == "deals" else ""
        parts.append(
            f"SELECT {row}.id AS deal_id, {measure} AS measure, {row}.workspace_id AS "
            f"workspace_id, {row}.owner_id AS owner_id, {row}.{exit_at} AS exit_at, "
            f"{_ms(f'{row}.{later}', f'{row}.{earlier}', postgresql)} AS ms{source} "
            f"WHERE {' AND '.join(conditions)}")
    union = " UNION ALL ".join(parts)
    return (
        "INSERT INTO deal_durations (deal_id, measure, workspace_id, owner_id, exit_at, month, "
        "ms, bucket) SELECT d.deal_id, d.measure, d.workspace_id, d.owner_id, d.exit_at, "
        f"{_month('d.exit_at', postgresql)}, d.ms, "
        "(SELECT b.lo_ms FROM duration_buckets b WHERE b.lo_ms <= d.ms "
        "ORDER BY b.lo_ms DESC LIMIT 1) "
        f"FROM ({union}) AS d")


_COUNT_KEY = "(workspace_id, measure, owner_id, bucket, month)"
_ADD = (  # the team's row ("") and, for a deal with an owner, the owner's
    "INSERT INTO deal_duration_counts (workspace_id, measure, owner_id, month, bucket, deals, "
    "total_ms) SELECT NEW.workspace_id, NEW.measure, {owner}, NEW.month, NEW.bucket, 1, NEW.ms "
    "WHERE {when} "
    f"ON CONFLICT {_COUNT_KEY} DO UPDATE SET deals = deal_duration_counts.deals + 1, "
    "total_ms = deal_duration_counts.total_ms + excluded.total_ms"
)
_TAKE = (
    "UPDATE deal_duration_counts SET deals = deals - 1, total_ms = total_ms - OLD.ms "
    "WHERE workspace_id = OLD.workspace_id AND measure = OLD.measure AND owner_id = {owner} "
    "AND month = OLD.month AND bucket = OLD.bucket"
)
_OWNED = "{row}.owner_id <> ''"
_ADD_TEAM = _ADD.format(owner="''", when="true")
_ADD_OWNER = _ADD.format(owner="NEW.owner_id", when=_OWNED.format(row="NEW"))
_TAKE_TEAM = _TAKE.format(owner="''")
_TAKE_OWNER = _TAKE.format(owner="OLD.owner_id")  # no row for no owner: updates nothing
_DELETE = "DELETE FROM deal_durations WHERE deal_id = OLD.id"
_CHANGED = " OR ".join(f"OLD.{c} IS {{distinct}} NEW.{c}" for c in _WATCHED)


def _sqlite_triggers() -> dict[str, str]:
    changed = _CHANGED.format(distinct="NOT")
    insert = _insert_durations("NEW", False)
    return {
        "deal_durations_insert":
            f"CREATE TRIGGER deal_durations_insert AFTER INSERT ON deals "
            f"BEGIN {insert}; END",
        "deal_durations_delete":
            f"CREATE TRIGGER deal_durations_delete AFTER DELETE ON deals "
            f"BEGIN {_DELETE}; END",
        "deal_durations_update":
            f"CREATE TRIGGER deal_durations_update AFTER UPDATE OF {', '.join(_WATCHED)} "
            f"ON deals WHEN {changed} BEGIN {_delete_changed('NOT')}; "
            f"{_insert_durations('NEW', False, 'NOT')}; END",
        "deal_duration_counts_add":
            f"CREATE TRIGGER deal_duration_counts_add AFTER INSERT ON deal_durations "
            f"BEGIN {_ADD_TEAM}; {_ADD_OWNER}; END",
        "deal_duration_counts_take":
            f"CREATE TRIGGER deal_duration_counts_take AFTER DELETE ON deal_durations "
            f"BEGIN {_TAKE_TEAM}; {_TAKE_OWNER}; END",
    }


def _postgresql_functions() -> list[str]:
    return [
        f"""CREATE FUNCTION deal_durations_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                {_DELETE};
            ELSIF TG_OP = 'INSERT' THEN
                {_insert_durations("NEW", True)};
            ELSE
                {_delete_changed("DISTINCT FROM")};
                {_insert_durations("NEW", True, "DISTINCT FROM")};
            END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION deal_duration_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                {_TAKE_TEAM};
                {_TAKE_OWNER};
            ELSE
                {_ADD_TEAM};
                IF {_OWNED.format(row="NEW")} THEN {_ADD_OWNER}; END IF;
            END IF;
            RETURN NULL;
        END $$""",
    ]


def _postgresql_triggers() -> dict[str, str]:
    changed = _CHANGED.format(distinct="DISTINCT FROM")
    return {
        "deal_durations_insert_delete":
            "CREATE TRIGGER deal_durations_insert_delete AFTER INSERT OR DELETE ON deals "
            "FOR EACH ROW EXECUTE FUNCTION deal_durations_keep()",
        "deal_durations_update":
            f"CREATE TRIGGER deal_durations_update AFTER UPDATE OF {', '.join(_WATCHED)} "
            f"ON deals FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION deal_durations_keep()",
        "deal_duration_counts_keep":
            "CREATE TRIGGER deal_duration_counts_keep AFTER INSERT OR DELETE ON deal_durations "
            "FOR EACH ROW EXECUTE FUNCTION deal_duration_counts_keep()",
    }


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    buckets = op.create_table(
        "duration_buckets",
        sa.Column("lo_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("lo_ms", name=op.f("pk_duration_buckets")),
    )
    op.bulk_insert(buckets, [{"lo_ms": lo} for lo in BOUNDS])
    op.create_table(
        "deal_durations",
        sa.Column("deal_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("measure", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=True),
        sa.Column("exit_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_deal_durations_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("deal_id", "measure", name=op.f("pk_deal_durations")),
    )
    op.create_table(
        "deal_duration_counts",
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("measure", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("total_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_deal_duration_counts_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("workspace_id", "measure", "owner_id", "bucket", "month",
                                name=op.f("pk_deal_duration_counts")),
        sqlite_with_rowid=False,
    )
    op.execute(_insert_durations("deals", postgresql))
    op.execute(
        "INSERT INTO deal_duration_counts (workspace_id, measure, owner_id, month, bucket, "
        "deals, total_ms) "
        "SELECT workspace_id, measure, '', month, bucket, count(*), sum(ms) "
        "FROM deal_durations GROUP BY workspace_id, measure, month, bucket "
        "UNION ALL "
        "SELECT workspace_id, measure, owner_id, month, bucket, count(*), sum(ms) "
        "FROM deal_durations WHERE owner_id <> '' "
        "GROUP BY workspace_id, measure, owner_id, month, bucket")
    # After the backfill: one pass over the rows instead of one index update per insert.
    op.create_index("ix_deal_durations_exit", "deal_durations",
                    ["workspace_id", "measure", "exit_at", "bucket", "ms", "owner_id"])
    op.create_index("ix_deal_durations_bucket", "deal_durations",
                    ["workspace_id", "measure", "bucket", "ms", "exit_at", "owner_id"])
    if postgresql:
        for ddl in _postgresql_functions():
            op.execute(ddl)
    for ddl in (_postgresql_triggers() if postgresql else _sqlite_triggers()).values():
        op.execute(ddl)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name, table in (("deal_durations_insert_delete", "deals"),
                            ("deal_durations_update", "deals"),
                            ("deal_duration_counts_keep", "deal_durations")):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS deal_durations_keep()")
        op.execute("DROP FUNCTION IF EXISTS deal_duration_counts_keep()")
    else:
        for name in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("deal_duration_counts")
    op.drop_index("ix_deal_durations_bucket", table_name="deal_durations")
    op.drop_index("ix_deal_durations_exit", table_name="deal_durations")
    op.drop_table("deal_durations")
    op.drop_table("duration_buckets")
