"""open_deal_stages always equals the open deals counted from `deals`, whatever wrote them:
chat logs, wins, losses, reopenings, undo, a CSV import (the bulk path), a rep link, SQL
written by hand (the triggers of migration 0006 keep it, not the code), and the migration that
fills it for an existing database. `open_deal_counts` reads it and only the recent deals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from reports.events import STAGE_ORDER, Stage
from storage import migrate
from storage.facts import SqlFacts
from storage.models import Deal, OpenDealStage, Workspace
from storage.recording import record_event, void_event
from storage.reps import link_rep
from storage.workspaces import ensure_user, ensure_workspace
from tests.storage.deal_tables import import_rows, sqlite_instructions, trigger_names

WS = "slack:TOPEN"
OTHER = "slack:TOTHER"
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
DAY = timedelta(days=1)
OPEN_STAGES = [stage for stage in STAGE_ORDER if stage is not Stage.WON]


def _expected(session) -> dict[tuple[str, str, str], int]:
    """The open deals per (workspace, owner, stage), counted from `deals`."""
    rows = session.execute(sa.text(
        "SELECT workspace_id, coalesce(owner_id, ''), stage, count(*) FROM deals "
        "WHERE outcome = 'open' AND stage IS NOT NULL "
        "GROUP BY workspace_id, coalesce(owner_id, ''), stage"))
    return {(ws, owner, stage): n for ws, owner, stage, n in rows}


def _counted(session) -> dict[tuple[str, str, str], int]:
    rows = session.execute(sa.select(OpenDealStage.workspace_id, OpenDealStage.owner_id,
                                     OpenDealStage.stage, OpenDealStage.deals)).all()
    assert all(n >= 0 for *_, n in rows), rows
    return {(ws, owner, stage): n for ws, owner, stage, n in rows if n}


def _assert_in_step(database) -> dict[tuple[str, str], int]:
    """Asserts the counter equals the deals; returns WS's counts per (owner, stage)."""
    with database.read() as session:
        expected = _expected(session)
        assert _counted(session) == expected
    return {(owner, stage): n for (ws, owner, stage), n in expected.items() if ws == WS}


def _log(database, kind: str, deal: str, at: datetime, user: str = "U1", **more) -> int:
    from storage.recording import NewEvent

    with database.write() as session:
        ws = session.get(Workspace, WS)
        new = NewEvent(kind=kind, user_id=user, logged_by=user, occurred_at=at, deal_key=deal,
                       idempotency_key=str(uuid.uuid4()), **more)
        return record_event(session=session, workspace=ws, new=new).event.id


def _setup(database) -> None:
    with database.write() as session:
        for workspace in (WS, OTHER):
            ensure_workspace(session=session, workspace_id=workspace, platform="slack",
                             now=NOW - 400 * DAY)
            for user in ("U1", "U2"):
                ensure_user(session=session, workspace_id=workspace, user_id=user)




def test_every_write_path_keeps_the_counts(database, tmp_path):
    _setup(database)
    _log(database, "lead", "acme", NOW - 9 * DAY)
    _log(database, "lead", "globex", NOW - 9 * DAY, user="U2")
    _log(database, "mql", "acme", NOW - 8 * DAY)
    assert _assert_in_step(database) == {("U1", "mql"): 1, ("U2", "lead"): 1}

    _log(database, "deal-won", "acme", NOW - 7 * DAY, amount_minor=100_00, currency="USD")
    _log(database, "deal-lost", "globex", NOW - 7 * DAY, user="U2", reason="price")
    assert _assert_in_step(database) == {}

    _log(database, "demo-booked", "globex", NOW - 6 * DAY, user="U2")  # reopened
    only = _log(database, "lead", "hooli", NOW - 5 * DAY)
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("U1", "lead"): 1}

    with database.write() as session:  # undo of the only event: the deal goes away
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=only,
                   voided_by="U1", now=NOW)
    assert _assert_in_step(database) == {("U2", "demo"): 1}

    # A CSV import (bot/transfer/importer.py: the bulk path, deals written with Core at the end):
    # 40 new deals of a named rep, half of them moved on to sql, and an existing deal moved.
    rows = [f"2026-10-21,lead,,,,imp-{i},,Jane Doe,,," for i in range(40)]
    rows += [f"2026-10-31,sql,,,,imp-{i},,Jane Doe,,," for i in range(0, 40, 2)]
    rows += ["2026-11-16,sql,,,,globex,,U2,,,", "2026-11-16,deal-won,,100,USD,imp-39,,U2,,,"]
    import_rows(database, tmp_path, rows, workspace_id=WS, now=NOW)
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("rep:jane-doe", "lead"): 19,
                                         ("rep:jane-doe", "sql"): 20}

    with database.write() as session:  # the named rep's deals move to U1 (owner changes)
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U1")
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("U1", "lead"): 19,
                                         ("U1", "sql"): 20}


def _deal(key: str, *, workspace: str = WS, owner: str | None = "U1",
          outcome: str = "open", stage: str | None = "lead",
          changed: datetime | None = NOW) -> dict:
    return {"workspace_id": workspace, "key": key, "name": key, "owner_id": owner,
            "outcome": outcome, "stage": stage, "stage_changed_at": changed, "updated_at": NOW}


def test_sql_written_by_hand_keeps_the_counts(database):
    """The triggers count every write to `deals`, not only storage.deals'."""
    _setup(database)
    deals = Deal.__table__

    def change(statement) -> None:
        with database.write() as session:
            session.execute(statement)
        _assert_in_step(database)

    change(sa.insert(deals).values([
        _deal("a"), _deal("b", owner=None), _deal("c", outcome="won", stage="won"),
        _deal("d", stage=None), _deal("e", stage="mql"), _deal("f", workspace=OTHER)]))
    assert _assert_in_step(database) == {("U1", "lead"): 1, ("", "lead"): 1, ("U1", "mql"): 1}

    by_key = deals.c.key
    change(sa.update(deals).where(by_key == "a").values(stage="sql"))
    change(sa.update(deals).where(by_key == "b").values(owner_id="U2"))
    change(sa.update(deals).where(by_key == "e").values(owner_id=None, stage="demo"))
    change(sa.update(deals).where(by_key == "c").values(outcome="open", stage="demo"))  # reopened
    change(sa.update(deals).where(by_key == "d").values(stage="lead"))
    change(sa.update(deals).where(by_key == "a").values(outcome="lost", stage="lost"))
    change(sa.update(deals).where(by_key == "f").values(workspace_id=WS, key="f2"))
    assert _assert_in_step(database) == {("U2", "lead"): 1, ("", "demo"): 1,
                                         ("U1", "demo"): 1, ("U1", "lead"): 2}
    # Columns set to what they hold, and other columns: nothing moves.
    change(sa.update(deals).values(outcome=deals.c.outcome, stage=deals.c.stage,
                                   owner_id=deals.c.owner_id, name="renamed"))
    change(sa.update(deals).where(deals.c.stage == "lead").values(outcome="won", stage="won"))
    change(sa.delete(deals).where(by_key.in_(["a", "e"])))
    assert _assert_in_step(database) == {("U1", "demo"): 1}
    change(sa.delete(deals))
    assert _assert_in_step(database) == {}


def test_the_triggers_exist_at_head(database):
    """SQLite drops a table's triggers with it: a migration that rebuilds `deals` must create
    them again."""
    mine = {name for name in trigger_names(database) if name.startswith("open_deal_stages")}
    if database.dialect == "sqlite":
        assert mine == {"open_deal_stages_insert", "open_deal_stages_delete",
                        "open_deal_stages_update_old", "open_deal_stages_update_new"}
    else:
        assert mine == {"open_deal_stages_insert", "open_deal_stages_delete",
                        "open_deal_stages_update"}


def test_the_migration_fills_it_from_existing_deals(database, database_url):
    from alembic import command

    _setup(database)
    for i in range(7):
        _log(database, "lead", f"old-{i}", NOW - timedelta(days=3), user=f"U{1 + i % 2}")
    _log(database, "mql", "old-0", NOW - timedelta(days=2))
    database.engine.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0005")
    with database.write() as session:  # written at 0005: no triggers, no counter
        assert not sa.inspect(session.connection()).has_table("open_deal_stages")
        session.execute(sa.insert(Deal.__table__).values([
            _deal("no-owner", owner=None, stage="sql"), _deal("other", workspace=OTHER),
            _deal("closed", outcome="lost", stage="lost"), _deal("no-stage", stage=None)]))
    database.engine.dispose()
    migrate.upgrade(database_url, "0006")
    with database.read() as session:
        assert _counted(session) == _expected(session) == {
            (WS, "U1", "lead"): 3, (WS, "U1", "mql"): 1, (WS, "U2", "lead"): 3,
            (WS, "", "sql"): 1, (OTHER, "U1", "lead"): 1}
    database.engine.dispose()
    migrate.upgrade(database_url)
    _log(database, "sql", "old-1", NOW - DAY, user="U2")  # the triggers run after it
    assert _assert_in_step(database)[("U2", "sql")] == 1


# ---------------------------------------------------------------------------------------------
# open_deal_counts: the counter and the recent deals, never the idle history
# ---------------------------------------------------------------------------------------------

IDLE_BEFORE = {stage: NOW - 14 * DAY for stage in OPEN_STAGES}


def _write_deals(database, prefix: str, count: int, changed: datetime, *,
                 stage: str = "lead") -> None:
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), [
            _deal(f"{prefix}-{i}", owner=f"U{1 + i % 2}", stage=stage, changed=changed)
            for i in range(count)])


def _facts_history(database) -> None:
    _setup(database)
    for i, stage in enumerate(OPEN_STAGES):
        _write_deals(database, f"recent-{stage.value}", 3 + i, NOW - DAY, stage=stage.value)
        _write_deals(database, f"idle-{stage.value}", 10, NOW - 30 * DAY, stage=stage.value)
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), [
            _deal("never-changed", changed=None), _deal("never-changed-2", changed=None,
                                                        owner="U2", stage="demo")])


def test_open_deal_counts_read_only_the_recent_index_ranges_on_sqlite(database):
    from tests.storage.query_plans import _captured, _plans

    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _facts_history(database)
    for user in (None, "U1"):
        def run(user=user) -> None:
            with database.read() as session:
                SqlFacts(session=session, workspace=session.get(Workspace, WS)) \
                    .open_deal_counts(user=user, idle_before=IDLE_BEFORE)

        statements = _captured(database, run)
        assert len(statements) == 1
        plan = _plans(database, statements, "open_deal_counts").splitlines()
        counter = [line for line in plan if "open_deal_stages" in line]
        owner = " AND owner_id=?" if user else ""
        assert counter == [f"SEARCH open_deal_stages USING INDEX "
                           f"sqlite_autoindex_open_deal_stages_1 (workspace_id=?{owner})"]
        deals = [line for line in plan if " deals " in f"{line} "]
        assert len(deals) == 2 * len(OPEN_STAGES)
        index = "INDEX" if user else "COVERING INDEX"  # the owner is in the table
        prefix = f"SEARCH deals USING {index} ix_deals_open_stage (workspace_id=? AND " \
                 "outcome=? AND stage=?"
        for line in deals:  # after the idle instant, or without a stage change: no more
            assert line in (f"{prefix} AND stage_changed_at>?)",
                            f"{prefix} AND stage_changed_at=?)"), line




def test_open_deal_counts_cost_the_same_with_ten_times_the_idle_deals_on_sqlite(database):
    if database.dialect != "sqlite":
        pytest.skip("the virtual machine's instruction count is SQLite's")
    _facts_history(database)

    def counts(facts):
        return facts.open_deal_counts(idle_before=IDLE_BEFORE), \
            facts.open_deal_counts(user="U2", idle_before=IDLE_BEFORE)

    before, (team, rep) = sqlite_instructions(database, WS, counts)
    assert team["lead"] == (3 + 10 + 1, 10)
    for stage in OPEN_STAGES:
        _write_deals(database, f"older-{stage.value}", 200, NOW - 300 * DAY, stage=stage.value)
    after, (team_after, rep_after) = sqlite_instructions(database, WS, counts)
    assert team_after["lead"] == (3 + 210 + 1, 210)
    assert team_after["demo"] == (7 + 210 + 1, 210)
    assert rep_after["demo"][1] == rep["demo"][1] + 100
    # 1,000 more idle deals; the old range counts stepped ~10 instructions over each of them.
    assert after <= before * 1.1, (before, after)


@pytest.mark.parametrize("user", [None, "U1", "U2", "U9"])
def test_open_deal_counts_equal_counting_the_deals(database, user):
    _facts_history(database)
    with database.write() as session:  # some closed, one reopened later, one without owner
        deals = Deal.__table__
        session.execute(sa.update(deals).where(deals.c.key.in_(["idle-lead-0", "recent-mql-1"]))
                        .values(outcome="won", stage="won"))
        session.execute(sa.update(deals).where(deals.c.key == "idle-sql-3")
                        .values(owner_id=None))
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        for idle_before in (IDLE_BEFORE, {Stage.LEAD: NOW - 14 * DAY, Stage.DEMO: NOW},
                            {Stage.SQL: NOW - 400 * DAY}, {}, None):
            got = facts.open_deal_counts(user=user, idle_before=idle_before)
            expected: dict[str, tuple[int, int]] = {}
            for stage in OPEN_STAGES:
                n = facts.count_open_deals(user=user, stages=(stage,))
                at = (idle_before or {}).get(stage)
                idle = facts.count_open_deals(user=user, stages=(stage,), idle_before=at) \
                    if at is not None else 0
                if n:
                    expected[stage.value] = (n, idle)
            assert got == expected, (user, idle_before)
