"""PostgreSQL: a write's statements prepared on the connection (storage/pg_pipeline.py) and a
deal's UPDATE held for the COMMIT (storage/pg_commit.py). What must hold: a server that has
forgotten the statements (psycopg's DEALLOCATE ALL, which drops them all) costs a retry, never
a lost log; a statement held for the COMMIT runs before anything after it in the transaction
and never outlives a rollback. Counts and rows, never timings."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage import pg_commit, pg_pipeline, pg_pool
from storage.engine import Database
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import forget_prepared

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TPIPE"


@pytest.fixture
def database(database_url):
    """One idle connection at most (the others are closed when handed back): the one that
    served the last log is the one the next log gets."""
    db = Database.from_url(database_url, pool_size=1)
    yield db
    db.dispose()


@pytest.fixture
def chat(database, monkeypatch):
    monkeypatch.setattr(pg_pool, "PING_AFTER_IDLE_S", 3600.0)  # no ping, however slow
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _ask(chat: Chat, text: str, key: str):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)


def _stored(database, key: str) -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": f"slack:{key}"})[0]


@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme"])
def test_statements_the_server_forgot_are_prepared_again(chat, database, text):
    """DEALLOCATE ALL behind the pipeline's back (psycopg sends it after a ROLLBACK it was
    not seen to send): the next log's first statement is one the server no longer has, and
    the pipeline starts over, its statements prepared again; stored once (without the
    retry: "nothing was stored")."""
    _ask(chat, "log meeting-booked acme", "deal")
    assert _ask(chat, text, "first").ok  # its statements prepared on the pooled connection
    forget_prepared(database.engine)
    with RoundTrips(database.engine, keep_pool=True) as trips:
        again = _ask(chat, text, "again")
    assert again.ok and "Logged" in again.text, again.plain_text()
    assert _stored(database, "again") == 1
    forgotten = [line for line in trips.lines if "ErrorResponse" in line and '"26000"' in line]
    assert len(forgotten) == 1  # the first try met it at its first statement, nothing ran
    assert [p for p in trips.parsed if "set_config('statement_timeout'" in p]  # prepared again


def test_a_funnel_whose_statements_the_server_forgot_reads_again(chat, database, monkeypatch):
    """The funnel's statements read ahead are prepared by name on the connection
    (storage/pg_batch.py); DEALLOCATE ALL behind their back makes the next funnel's pipeline
    meet "prepared statement does not exist" once, with nothing committed: it reads again,
    its statements prepared again, and answers as before (without the read again: "the
    database refused this request"; on main the same steps meet no 26000: psycopg had not
    prepared them by name yet)."""
    # one connection, nothing kept out of the pool (storage/pg_pool.py): the read again runs
    # through the Session on the connection whose statements were forgotten
    monkeypatch.setattr(pg_pool, "KEEP", 0)
    for i in range(3):
        for stage, day in (("lead", 1 + i), ("mql", 9 + i)):
            assert _ask(chat, f"log {stage} deal{i} on 2026-11-{day:02}", f"f{i}{stage}").ok
    for _ in range(6):  # (psycopg prepares its own at a statement's fifth run)
        before = _ask(chat, "funnel this-quarter", "f")
    forget_prepared(database.engine)
    with RoundTrips(database.engine, keep_pool=True) as trips:
        again = _ask(chat, "funnel this-quarter", "g")
    assert again.ok and again == before, again.plain_text()
    forgotten = [line for line in trips.lines if "ErrorResponse" in line and '"26000"' in line]
    assert len(forgotten) == 1
    assert [p for p in trips.parsed if "deal_counts" in p]  # prepared again
    assert _ask(chat, "funnel this-quarter", "h") == before


def test_a_held_update_runs_before_what_follows_and_not_after_a_rollback(chat, database):
    _ask(chat, "log meeting-booked acme", "deal")
    update = sa.text("UPDATE deals SET source = 'held' WHERE workspace_id = :w AND key = 'acme'")
    source = sa.text("SELECT source FROM deals WHERE workspace_id = :w AND key = 'acme'")
    command = database.until(time.monotonic() + 30)
    with command.write() as session:
        session.execute(sa.text("SELECT 1"))  # (the BEGIN goes out with a first statement)
        pg_commit.run_at_commit(session.connection(), sa.update(sa.table(
            "deals", sa.column("workspace_id"), sa.column("key"), sa.column("source"))).where(
            sa.column("workspace_id") == WS, sa.column("key") == "acme").values(source="held"),
            {})
        assert session.execute(source, {"w": WS}).scalar() == "held"  # sent before the read
    assert database.read_first(source, {"w": WS})[0] == "held"
    with pytest.raises(RuntimeError), command.write() as session:
        session.execute(sa.text("SELECT 1"))
        pg_commit.run_at_commit(session.connection(), update.bindparams(w=WS).compile(
            dialect=session.connection().dialect).statement, {})
        session.execute(sa.text("UPDATE deals SET source = 'other' WHERE workspace_id = :w "
                                "AND key = 'acme'"), {"w": WS})
        raise RuntimeError("the command fails")
    assert database.read_first(source, {"w": WS})[0] == "held"  # rolled back, nothing sent


def test_past_its_limit_a_connection_prepares_no_more_statements(database, monkeypatch):
    """A connection keeps at most `MAX_PREPARED` statements of its own (each combination of
    parameter types is one): past it, a statement is sent unnamed, parsed where it runs, and
    answers the same."""
    monkeypatch.setattr(pg_pipeline, "MAX_PREPARED", 2)
    pooled = database.engine.raw_connection()
    try:
        driver_connection = pooled.driver_connection
        driver_connection.autocommit = True
        statements = [(f"SELECT %(x)s::int + {n}", {"x": 1}) for n in range(3)]
        for _round in range(2):
            answers, transformer = pg_pipeline.send(driver_connection, statements)
            assert answers.error is None
            assert [answers.rows(transformer, i) for i in range(3)] == [[(1,)], [(2,)], [(3,)]]
        names = driver_connection.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'kpibot_%'").fetchone()
        assert names == (2,)
        driver_connection.autocommit = False
    finally:
        pooled.close()


def test_what_the_orm_still_holds_at_the_end_commits_in_the_same_transaction(chat, database):
    """A limited write commits with its own COMMIT (pg_commit.commit_held): a row added to
    the Session after its last statement is flushed before it, in the same transaction, not
    by SQLAlchemy's commit afterwards in a second one without the command's limits."""
    from storage.models import User

    with database.until(time.monotonic() + 30).write() as session:
        transaction = session.execute(sa.text("SELECT txid_current()")).scalar_one()
        session.add(User(workspace_id=WS, id="U_LATE", display_name="Late", created_at=NOW))
    written_by = database.read_first(sa.text(
        "SELECT xmin::text::bigint FROM users WHERE workspace_id = :w AND id = 'U_LATE'"),
        {"w": WS})[0]
    assert written_by == transaction % 2**32
