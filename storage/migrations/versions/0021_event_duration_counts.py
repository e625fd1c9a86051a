"""event_duration_counts (the non-void events that carry a duration, per kind, UTC month,
bucket of duration_buckets and user), kept by triggers on `events`; the partial index
ix_events_duration_values (their durations in order); filled from the existing events

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:50:00

The only definition of the triggers. An event counts when `duration_seconds IS NOT NULL AND
voided_at IS NULL` (storage/models.py DURATION_ROWS); it adds 1 and its seconds to the team's
row (user "") and to its user's row of its kind, UTC month and bucket (the largest lo_ms of
duration_buckets <= 1000 * seconds). An insert adds, a delete takes away, an update of a
column the row depends on (a void, a rep link moving events to a user, an edit) takes the old
row's and adds the new one's. SQLite drops a table's triggers with the table: a migration that
rebuilds `events` (batch mode) must create them again (tests/storage/test_event_durations.py
checks that they exist at head).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

COUNTED = "{row}.duration_seconds IS NOT NULL AND {row}.voided_at IS NULL"
_WATCHED = ("workspace_id", "kind", "user_id", "occurred_at", "duration_seconds", "voided_at")


def _month(at: str, postgresql: bool) -> str:
    """The UTC month of `at` as year * 12 + month - 1 (as deal_durations.month, 0016)."""
    if postgresql:
        utc = f"({at} AT TIME ZONE 'UTC')"
        return (f"(CAST(EXTRACT(year FROM {utc}) AS INTEGER) * 12"
                f" + CAST(EXTRACT(month FROM {utc}) AS INTEGER) - 1)")
    return (f"(CAST(strftime('%Y', {at}) AS INTEGER) * 12"
            f" + CAST(strftime('%m', {at}) AS INTEGER) - 1)")


def _bucket(seconds: str) -> str:
    return ("(SELECT b.lo_ms FROM duration_buckets b WHERE b.lo_ms <= "
            f"CAST({seconds} AS BIGINT) * 1000 ORDER BY b.lo_ms DESC LIMIT 1)")


def _owned(user: str, row: str) -> str:
    """A user's own row only for a user id that is not the team's ""."""
    return "" if user == "''" else f" AND {row}.user_id <> ''"


def _add(user: str, postgresql: bool) -> str:
    """Add NEW (when it counts) to the row of `user` ("''": the team's, "NEW.user_id")."""
    return (
        "INSERT INTO event_duration_counts (workspace_id, kind, user_id, month, bucket, "
        f"events, total_seconds) SELECT NEW.workspace_id, NEW.kind, {user}, "
        f"{_month('NEW.occurred_at', postgresql)}, {_bucket('NEW.duration_seconds')}, 1, "
        f"NEW.duration_seconds WHERE {COUNTED.format(row='NEW')}{_owned(user, 'NEW')} "
        "ON CONFLICT (workspace_id, kind, user_id, month, bucket) DO UPDATE SET "
        "events = event_duration_counts.events + 1, "
        "total_seconds = event_duration_counts.total_seconds + excluded.total_seconds")


def _take(user: str, postgresql: bool) -> str:
    """Take OLD (when it counted) from the row of `user` ("''" or "OLD.user_id")."""
    return (
        "UPDATE event_duration_counts SET events = events - 1, "
        "total_seconds = total_seconds - OLD.duration_seconds "
        f"WHERE {COUNTED.format(row='OLD')}{_owned(user, 'OLD')} "
        "AND workspace_id = OLD.workspace_id "
        f"AND kind = OLD.kind AND user_id = {user} "
        f"AND month = {_month('OLD.occurred_at', postgresql)} "
        f"AND bucket = {_bucket('OLD.duration_seconds')}")


def _changed(distinct: str) -> str:
    either = f"(({COUNTED.format(row='OLD')}) OR ({COUNTED.format(row='NEW')}))"
    moved = " OR ".join(f"OLD.{c} IS {distinct} NEW.{c}" for c in _WATCHED)
    return f"{either} AND ({moved})"


def _sqlite_triggers() -> dict[str, str]:
    add = f"{_add(chr(39) * 2, False)}; {_add('NEW.user_id', False)};"
    take = f"{_take(chr(39) * 2, False)}; {_take('OLD.user_id', False)};"
    return {
        "event_duration_counts_insert":
            "CREATE TRIGGER event_duration_counts_insert AFTER INSERT ON events "
            f"WHEN {COUNTED.format(row='NEW')} BEGIN {add} END",
        "event_duration_counts_delete":
            "CREATE TRIGGER event_duration_counts_delete AFTER DELETE ON events "
            f"WHEN {COUNTED.format(row='OLD')} BEGIN {take} END",
        "event_duration_counts_update":
            f"CREATE TRIGGER event_duration_counts_update AFTER UPDATE OF "
            f"{', '.join(_WATCHED)} ON events WHEN {_changed('NOT')} BEGIN {take} {add} END",
    }


def _postgresql_function() -> str:
    return f"""CREATE FUNCTION event_duration_counts_keep() RETURNS trigger LANGUAGE plpgsql
    AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {_take("''", True)};
            {_take("OLD.user_id", True)};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {_add("''", True)};
            {_add("NEW.user_id", True)};
        END IF;
        RETURN NULL;
    END $$"""


def _postgresql_triggers() -> dict[str, str]:
    keep = "FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION event_duration_counts_keep()"
    return {
        "event_duration_counts_insert":
            "CREATE TRIGGER event_duration_counts_insert AFTER INSERT ON events "
            + keep.format(when=COUNTED.format(row="NEW")),
        "event_duration_counts_delete":
            "CREATE TRIGGER event_duration_counts_delete AFTER DELETE ON events "
            + keep.format(when=COUNTED.format(row="OLD")),
        "event_duration_counts_update":
            f"CREATE TRIGGER event_duration_counts_update AFTER UPDATE OF {', '.join(_WATCHED)} "
            "ON events " + keep.format(when=_changed("DISTINCT FROM")),
    }


def _backfill(postgresql: bool) -> str:
    counted = (f"SELECT workspace_id, kind, user_id, {_month('occurred_at', postgresql)} AS "
               f"month, {_bucket('duration_seconds')} AS bucket, duration_seconds AS seconds "
               f"FROM events WHERE {COUNTED.format(row='events')}")
    return (
        "INSERT INTO event_duration_counts (workspace_id, kind, user_id, month, bucket, "
        "events, total_seconds) "
        f"SELECT workspace_id, kind, '', month, bucket, count(*), sum(seconds) FROM ({counted}) "
        "AS e GROUP BY workspace_id, kind, month, bucket "
        "UNION ALL "
        f"SELECT workspace_id, kind, user_id, month, bucket, count(*), sum(seconds) FROM "
        f"({counted}) AS u WHERE user_id <> '' GROUP BY workspace_id, kind, user_id, month, bucket")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "event_duration_counts",
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=80), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("total_seconds", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_event_duration_counts_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("workspace_id", "kind", "user_id", "month", "bucket",
                                name=op.f("pk_event_duration_counts")),
        sqlite_with_rowid=False,
    )
    op.execute(_backfill(postgresql))
    rows = sa.text(COUNTED.format(row="events").replace("events.", ""))
    op.create_index("ix_events_duration_values", "events",
                    ["workspace_id", "kind", "duration_seconds", "occurred_at", "user_id"],
                    unique=False, sqlite_where=rows, postgresql_where=rows)
    bind = op.get_bind()
    if not postgresql and bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        # A database with planner statistics gets them for the new index too: without, SQLite
        # took it (a guess of ten rows a key) to read a period's durations, all 46k of them at
        # 5M events instead of the period's (the reason 0019 ran slow on the benchmark cache).
        op.execute("ANALYZE ix_events_duration_values")
        op.execute("ANALYZE event_duration_counts")
    if postgresql:
        op.execute(_postgresql_function())
    for ddl in (_postgresql_triggers() if postgresql else _sqlite_triggers()).values():
        op.execute(ddl)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _sqlite_triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON events" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS event_duration_counts_keep()")
    op.drop_index("ix_events_duration_values", table_name="events")
    op.drop_table("event_duration_counts")
