"""PostgreSQL: a chat command's writes cannot commit after its deadline, even on a frozen server

A command's transaction sets `kpibot.commit_by` (storage/engine.py, the server's clock plus what
is left of the command's budget). A deferred constraint trigger on the tables commands write
checks it when the transaction commits, on the server: a COMMIT that was already on its way when
the server froze (SIGSTOP, a stalled VM) is refused when the server resumes past the deadline,
after the bot has answered "nothing was stored". Transactions without the setting (imports, the
scheduler, the CLI) queue no trigger event at all (the WHEN clause). SQLite runs in the bot's own
process and needs none: the bot checks the deadline itself before committing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:50:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("events", "quota_changes", "digest_schedules")
FUNCTION = """
CREATE OR REPLACE FUNCTION kpibot_check_commit_by() RETURNS trigger AS $$
BEGIN
    IF clock_timestamp() > current_setting('kpibot.commit_by')::timestamptz THEN
        RAISE EXCEPTION 'the command''s deadline passed before it could commit'
            USING ERRCODE = '57014';  -- query_canceled
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in TABLES:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_commit_by AFTER INSERT OR UPDATE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "WHEN (coalesce(current_setting('kpibot.commit_by', true), '') <> '') "
            "EXECUTE FUNCTION kpibot_check_commit_by()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_commit_by ON {table}")
    op.execute("DROP FUNCTION IF EXISTS kpibot_check_commit_by()")
