"""open_deal_stages: open deals per (owner, stage), kept by triggers on deals; filled from the
deals of an existing database

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The only definition of the triggers. An open deal is `outcome = 'open' AND stage IS NOT
# NULL`, counted under (workspace_id, coalesce(owner_id, ''), stage); a deal row that starts
# being one adds 1, one that stops being one takes 1 away (rows may stay at 0). Every write to
# `deals` goes through them: the ORM and Core paths of storage/deals.py, storage.reps, SQL by
# hand. SQLite drops a table's triggers with the table: a migration that rebuilds `deals`
# (batch mode) must create them again (tests/storage/test_open_deal_stages.py checks that they
# exist at head).

_KEY = "workspace_id = {row}.workspace_id AND owner_id = coalesce({row}.owner_id, '') " \
       "AND stage = {row}.stage"
_OPEN = "{row}.outcome = 'open' AND {row}.stage IS NOT NULL"
_CHANGED_SQLITE = ("OLD.outcome IS NOT NEW.outcome OR OLD.stage IS NOT NEW.stage "
                   "OR OLD.owner_id IS NOT NEW.owner_id "
                   "OR OLD.workspace_id IS NOT NEW.workspace_id")
_COUNTED = "outcome, stage, owner_id, workspace_id"

_ADD_SQLITE = (
    "INSERT INTO open_deal_stages (workspace_id, owner_id, stage, deals) "
    "VALUES (NEW.workspace_id, coalesce(NEW.owner_id, ''), NEW.stage, 1) "
    "ON CONFLICT (workspace_id, owner_id, stage) DO UPDATE SET deals = deals + 1;"
)
_TAKE_SQLITE = f"UPDATE open_deal_stages SET deals = deals - 1 WHERE {_KEY.format(row='OLD')};"

SQLITE = {
    "open_deal_stages_insert": f"""
        CREATE TRIGGER open_deal_stages_insert AFTER INSERT ON deals
        WHEN {_OPEN.format(row='NEW')}
        BEGIN {_ADD_SQLITE} END""",
    "open_deal_stages_delete": f"""
        CREATE TRIGGER open_deal_stages_delete AFTER DELETE ON deals
        WHEN {_OPEN.format(row='OLD')}
        BEGIN {_TAKE_SQLITE} END""",
    "open_deal_stages_update_old": f"""
        CREATE TRIGGER open_deal_stages_update_old AFTER UPDATE OF {_COUNTED} ON deals
        WHEN ({_OPEN.format(row='OLD')}) AND ({_CHANGED_SQLITE})
        BEGIN {_TAKE_SQLITE} END""",
    "open_deal_stages_update_new": f"""
        CREATE TRIGGER open_deal_stages_update_new AFTER UPDATE OF {_COUNTED} ON deals
        WHEN ({_OPEN.format(row='NEW')}) AND ({_CHANGED_SQLITE})
        BEGIN {_ADD_SQLITE} END""",
}

POSTGRESQL_FUNCTION = f"""
    CREATE FUNCTION open_deal_stages_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF {_OPEN.format(row='OLD')} THEN
                UPDATE open_deal_stages SET deals = deals - 1 WHERE {_KEY.format(row='OLD')};
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF {_OPEN.format(row='NEW')} THEN
                INSERT INTO open_deal_stages AS counted (workspace_id, owner_id, stage, deals)
                VALUES (NEW.workspace_id, coalesce(NEW.owner_id, ''), NEW.stage, 1)
                ON CONFLICT (workspace_id, owner_id, stage)
                DO UPDATE SET deals = counted.deals + 1;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$"""

POSTGRESQL = {
    "open_deal_stages_insert": f"""
        CREATE TRIGGER open_deal_stages_insert AFTER INSERT ON deals FOR EACH ROW
        WHEN ({_OPEN.format(row='NEW')}) EXECUTE FUNCTION open_deal_stages_count()""",
    "open_deal_stages_delete": f"""
        CREATE TRIGGER open_deal_stages_delete AFTER DELETE ON deals FOR EACH ROW
        WHEN ({_OPEN.format(row='OLD')}) EXECUTE FUNCTION open_deal_stages_count()""",
    "open_deal_stages_update": f"""
        CREATE TRIGGER open_deal_stages_update AFTER UPDATE OF {_COUNTED} ON deals
        FOR EACH ROW WHEN (({_OPEN.format(row='OLD')} OR {_OPEN.format(row='NEW')}) AND (
            OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.stage IS DISTINCT FROM NEW.stage
            OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
            OR OLD.workspace_id IS DISTINCT FROM NEW.workspace_id))
        EXECUTE FUNCTION open_deal_stages_count()""",
}


def upgrade() -> None:
    op.create_table(
        "open_deal_stages",
        sa.Column("workspace_id", sa.String(length=80), nullable=False),
        sa.Column("owner_id", sa.String(length=80), nullable=False, server_default=""),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("workspace_id", "owner_id", "stage"),
    )
    op.execute(
        "INSERT INTO open_deal_stages (workspace_id, owner_id, stage, deals) "
        "SELECT workspace_id, coalesce(owner_id, ''), stage, count(*) FROM deals "
        "WHERE outcome = 'open' AND stage IS NOT NULL "
        "GROUP BY workspace_id, coalesce(owner_id, ''), stage"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        triggers = POSTGRESQL
    else:
        triggers = SQLITE
    for ddl in triggers.values():
        op.execute(ddl)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in POSTGRESQL if postgresql else SQLITE:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON deals" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS open_deal_stages_count()")
    op.drop_table("open_deal_stages")
