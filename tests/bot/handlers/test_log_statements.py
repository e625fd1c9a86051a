"""`/kpi log` writes lean (issue 18: log ≤ 2× ping): statements are counted, never timed.

The event goes in with one INSERT ... ON CONFLICT DO NOTHING RETURNING id (no look-up first,
no savepoint), the workspace and user are read with one statement, an event naming no deal
or account touches no deal or account, a chat command's deadline does not set SQLite's
busy timeout anew on every command, and no ORM object is loaded or built but the Workspace
(the deal rewritten by one UPDATE of the columns that changed). What it guarantees stays:
a replayed request stores one event, rollups and deals follow."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bot.core import CommandRequest
from bot.handlers import describe
from storage.deals import refresh_deals
from storage.models import DailyRollup, Deal, Event, MonthlyRollup, User, Workspace
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TLEAN"


@pytest.fixture
def chat(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WORKSPACE, user_id="U1", display_name="Ann",
                    now=NOW)
    return Chat(database, workspace=WORKSPACE, now=NOW, admins=(), default_user="U1")


class _Statements:
    """The SQL statements run on `database`, with the connection each ran on."""

    def __init__(self, database) -> None:
        self.engine = database.engine
        self.seen: list[tuple[int, str]] = []

    def _record(self, connection, _cursor, statement, *_args) -> None:
        self.seen.append((id(connection.connection.dbapi_connection),
                          " ".join(statement.split())))

    def __enter__(self) -> _Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def sql(self) -> list[str]:
        # Transaction control (SQLite's BEGIN, a busy timeout), PostgreSQL's per-transaction
        # limits and its derived-rows lock are not the log's own.
        return [s for _, s in self.seen if not s.startswith(("BEGIN", "PRAGMA"))
                and "set_config(" not in s and "pg_advisory" not in s]


def _ask(chat: Chat, text: str, key: str, deadline: float | None = None):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WORKSPACE, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), deadline)


def test_an_event_without_a_deal_is_one_read_and_one_insert_plus_its_rollup(chat, database):
    with _Statements(database) as statements:
        reply = _ask(chat, "log call 3", "k1")
    assert reply.ok and "Logged 3 × call" in reply.text
    sql = statements.sql
    assert sql[0].startswith("SELECT") and "FROM workspaces LEFT OUTER JOIN users" in sql[0]
    writes = sql[1:]  # workspace and user were read with one statement
    if database.dialect == "postgresql":  # one statement: the event and, if stored, its rollups
        assert len(writes) == 1, writes
        assert writes[0].startswith("WITH stored_event AS (INSERT INTO events")
        assert "ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING" in writes[0]
        assert all(f"INSERT INTO {t} " in writes[0] and "FROM stored_event ON CONFLICT"
                   in writes[0] for t in ("daily_rollups", "monthly_rollups"))
    else:
        events = [s for s in writes if s.startswith("INSERT INTO events")]
        assert len(events) == 1 and "ON CONFLICT" in events[0] and "RETURNING" in events[0]
        others = [s for s in writes if s not in events]
        assert others and all(s.startswith("INSERT INTO") and "rollups" in s.split()[2]
                              for s in others), others  # the rollups, no read, no savepoint
    with database.read() as session:
        stored = session.scalars(select(Event).where(Event.workspace_id == WORKSPACE)).all()
        rollup = session.scalars(select(DailyRollup).where(
            DailyRollup.workspace_id == WORKSPACE)).one()
        month = session.scalars(select(MonthlyRollup).where(
            MonthlyRollup.workspace_id == WORKSPACE)).one()
    assert [(e.kind, e.count) for e in stored] == [("call", 3)]
    assert (rollup.events, rollup.count_sum) == (1, 3)
    assert (month.month, month.events, month.count_sum) == (rollup.day.replace(day=1), 1, 3)


def test_a_replayed_request_stores_one_event_and_says_so(chat, database):
    first = _ask(chat, "log demo-booked acme", "retry-1")
    with _Statements(database) as statements:
        again = _ask(chat, "log demo-booked acme", "retry-1")
    assert first.ok and again.ok
    assert "already stored as #" in again.plain_text()
    assert not any(s.startswith(("INSERT INTO daily_rollups", "INSERT INTO deals",
                                 "UPDATE deals")) for s in statements.sql)
    with database.read() as session:
        assert len(session.scalars(select(Event).where(Event.workspace_id == WORKSPACE)).all()) == 1
        rollup = session.scalars(select(DailyRollup).where(
            DailyRollup.workspace_id == WORKSPACE)).one()
        month = session.scalars(select(MonthlyRollup).where(
            MonthlyRollup.workspace_id == WORKSPACE)).one()
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert rollup.events == 1 and month.events == 1 and deal.demo_at is not None


def test_an_event_on_a_deal_reads_what_its_upkeep_needs_once(chat, database):
    _ask(chat, "log meeting-booked acme", "d1")
    with _Statements(database) as statements:  # backdated, it moves the deal: refreshed in
        # full (PostgreSQL moves it from its row alone at the present moment, in the insert)
        reply = _ask(chat, f"log demo-booked acme on {(NOW - timedelta(days=2)):%Y-%m-%d}", "d2")
    assert reply.ok
    sql = statements.sql
    assert len(sql) == len(set(sql)), sql  # no statement twice
    assert not any("SELECT workspaces.timezone" in s for s in sql)  # the caller's zone
    assert not any(s.startswith("SELECT deals.account_key FROM deals") for s in sql)
    assert not any(s.startswith("SAVEPOINT") for s in sql)
    # the deal is read by the upkeep alone (the win before and after: only for deal-won)
    assert sum(1 for s in sql if s.startswith("SELECT deals.id,")) == 1
    assert not any("accounts" in s for s in sql)  # an open deal's stage: no account reads it
    # 19 before issue 18 (21 with BEGIN and PRAGMA); 7, and the history version's UPDATE
    # (a backdated stage moves it)
    assert len(sql) <= 8, sql


def _deal_row(database) -> tuple:
    with database.read() as session:
        return tuple(session.connection().execute(sa.select(Deal.__table__).where(
            Deal.__table__.c.workspace_id == WORKSPACE)).one())


def test_an_event_that_changes_nothing_of_its_deal_only_stamps_it(chat, database):
    """A meeting on a deal, named as the deal is named, changes nothing of it but
    `updated_at` (reports.deal_state.changes_only_the_name): one UPDATE that checks the name,
    no read of the deal's events or row, and the row is what a full refresh writes."""
    _ask(chat, "log demo-booked acme", "s1")
    chat.now = NOW + timedelta(hours=1)
    with _Statements(database) as statements:
        assert _ask(chat, "log meeting-booked acme", "s2").ok
    upkeep = [s for s in statements.sql if "deals" in s or "FROM events" in s]
    if database.dialect == "postgresql":  # the stamp is part of the event's insert
        inserts = [s for _, s in statements.seen if "INSERT INTO events" in s]
        assert len(inserts) == 1 and "deal_stamp AS (UPDATE deals SET " in inserts[0]
        upkeep = [inserts[0][inserts[0].index("deal_stamp AS"):]]
    else:
        assert len(upkeep) == 1 and upkeep[0].startswith("UPDATE deals SET updated_at"), upkeep
    assert "deals.name =" in upkeep[0]
    stamped = _deal_row(database)
    with database.write() as session:
        refresh_deals(session=session, workspace_id=WORKSPACE, deal_keys=["acme"],
                      now=chat.now)
    assert _deal_row(database) == stamped
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert (deal.name, deal.stage, deal.updated_at) == ("acme", "demo", NOW + timedelta(hours=1))
    # Another name (the latest event's name is the deal's) or a source: refreshed in full
    # (PostgreSQL: another name is stamped too, after reading whether a later event names the
    # deal, storage/deals.py `stamp_after(renaming=True)`).
    for key, text, named, source in (("s3", "log meeting-booked Acme", "Acme", None),
                                     ("s4", "log inbound-request acme source=web", "acme",
                                      "organic")):
        with _Statements(database) as statements:
            assert _ask(chat, text, key).ok
        # (the event's insert holds the renaming stamp and the lock: not in `sql`)
        read = statements.sql + [s for _, s in statements.seen if "INSERT INTO events" in s]
        assert any("FROM events" in s for s in read), (text, statements.sql)
        with database.read() as session:
            deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
        assert (deal.name, deal.source) == (named, source)


def test_the_command_deadline_does_not_set_the_busy_timeout_on_every_command(chat, database):
    if database.dialect != "sqlite":
        pytest.skip("SQLite's busy timeout")
    with _Statements(database) as statements:
        for i in range(6):  # each with a budget a few ms different from the last
            assert _ask(chat, "log call", f"b{i}", deadline=time.monotonic() + 2.0).ok
    pragmas: dict[int, int] = {}
    for connection, statement in statements.seen:
        if statement.startswith("PRAGMA busy_timeout="):
            pragmas[connection] = pragmas.get(connection, 0) + 1
    assert pragmas and all(count == 1 for count in pragmas.values()), pragmas


class _OrmObjects:
    """ORM objects loaded from rows or built by their constructor while in the block."""

    CLASSES = (Workspace, User, Event, Deal)

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._listeners = [(cls, name, functools.partial(self._record, cls.__name__, name))
                           for cls in self.CLASSES for name in ("load", "init")]

    def _record(self, cls: str, how: str, *_args) -> None:
        self.seen.append((cls, how))

    def __enter__(self) -> _OrmObjects:
        for cls, name, listener in self._listeners:
            sa.event.listen(cls, name, listener)
        return self

    def __exit__(self, *_exc) -> None:
        for cls, name, listener in self._listeners:
            sa.event.remove(cls, name, listener)


def test_a_stage_event_is_stored_without_orm_objects(chat, database):
    """Loading and flushing the deal, the event and the workspace through the ORM cost more
    than their SQL: the log reads and writes rows with Core. The Workspace handed to the
    handlers is made from its row as the ORM makes a loaded one, without its validating
    constructor."""
    _ask(chat, "log meeting-booked acme", "o1")
    with _OrmObjects() as objects, _Statements(database) as statements:
        reply = _ask(chat, "log demo-booked acme", "o2")
    assert reply.ok and "Logged demo-booked" in reply.text
    assert objects.seen == [], objects.seen  # the Workspace too: built as a loaded row is
    # the deal rewritten by one UPDATE (PostgreSQL: in the event's insert, from its row,
    # storage/deals.py `advance_after`)
    updates = [s for _, s in statements.seen
               if s.startswith("UPDATE deals") or "(UPDATE deals SET" in s]
    assert len(updates) == 1, statements.sql
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert (deal.stage, deal.demo_at) == ("demo", NOW)


def test_a_deal_is_rewritten_by_one_update_of_what_changed(chat, database):
    _ask(chat, "log demo-booked acme", "u1")
    chat.now = NOW + timedelta(days=2)
    with _Statements(database) as statements:
        reply = _ask(chat, "log deal-lost acme reason=price", "u2")
    assert reply.ok
    updates = [s for s in statements.sql if s.startswith("UPDATE deals")]
    assert len(updates) == 1, statements.sql
    changed = {part.split("=")[0].strip() for part in
               updates[0].split(" SET ", 1)[1].split(" WHERE ", 1)[0].split(",")}
    assert {"outcome", "lost_at", "closed_at", "stage", "reason", "updated_at"} <= changed
    assert not changed & {"name", "owner_id", "lead_at", "demo_at", "first_event_at"}, changed
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert (deal.outcome, deal.lost_at, deal.demo_at, deal.reason) == (
        "lost", NOW + timedelta(days=2), NOW, "price")


def test_a_call_is_stored_without_orm_objects(chat, database):
    with _OrmObjects() as objects:
        reply = _ask(chat, "log call 2", "c1")
    assert reply.ok and "Logged 2 × call" in reply.text and "#" in reply.text
    assert objects.seen == [], objects.seen


def test_the_workspace_read_opens_no_transaction_on_sqlite(chat, database):
    """Every command's first read is one statement: on SQLite it runs without a Session and
    without BEGIN (one statement reads one snapshot by itself); the write then has its own."""
    _ask(chat, "log call 1", "w0")  # the pooled connection's busy timeout is set by now
    with _Statements(database) as statements:
        reply = _ask(chat, "log call 3", "w1")
    assert reply.ok
    sql = [s for _, s in statements.seen]
    assert "FROM workspaces LEFT OUTER JOIN users" in sql[0]
    if database.dialect == "sqlite":
        assert [s for s in sql if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"], sql
        assert sql[0].startswith("SELECT")


def test_a_log_runs_its_statements_on_the_driver_on_sqlite(chat, database):
    """SQLAlchemy's execution cost three to five times what SQLite takes for a log's small
    statements: on SQLite each of them (the workspace read, BEGIN, the event, its rollups, the
    deal's reads and its update) goes to the driver (storage/driver.py), and the engine's
    listeners still see every one."""
    _ask(chat, "log meeting-booked acme", "x0")
    executions: list[object] = []

    def execution(_connection, statement, *_args) -> None:
        executions.append(statement)

    sa.event.listen(database.engine, "before_execute", execution)
    try:
        with _Statements(database) as statements:
            reply = _ask(chat, "log demo-booked acme", "x1")
    finally:
        sa.event.remove(database.engine, "before_execute", execution)
    assert reply.ok and "Logged demo-booked" in reply.text
    assert any(s.startswith("UPDATE deals") or "(UPDATE deals SET" in s
               for _, s in statements.seen), statements.sql
    if database.dialect == "sqlite":
        assert [s for _, s in statements.seen][:2] == [statements.seen[0][1], "BEGIN IMMEDIATE"]
        assert len(statements.sql) == 7, statements.sql  # workspace, event, 2 rollups, deal 3
        assert executions == [], executions


def test_the_words_of_a_day_are_found_once(chat, monkeypatch):
    """Babel took a fifth of the log handler's CPU to name the day in every reply."""
    found: list[object] = []
    real = describe.format_date

    def counted(*args, **kwargs):
        found.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(describe, "format_date", counted)
    describe.day_words.cache_clear()
    replies = [_ask(chat, text, f"day{i}") for i, text in enumerate(
        ("log call 3", "log email-sent 40x", "log demo-booked acme"))]
    assert all("on Wed 18 Nov 2026" in reply.text for reply in replies), replies
    assert len(found) == 1


def test_a_deal_without_stage_events_follows_its_latest_rep(chat, database):
    """Before any stage event a deal is owned by its latest event's rep: a meeting another
    rep logs is no stamp, it makes them the owner."""
    _ask(chat, "log meeting-booked acme", "r1")
    reply = chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WORKSPACE, user_id="U2", user_name="Bo",
        text="log meeting-booked acme", channel_id="C1", idempotency_key="r2"))
    assert reply.ok
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert (deal.owner_id, deal.stage) == ("U2", None)
