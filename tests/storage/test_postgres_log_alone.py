"""PostgreSQL: a `/kpi log` whose event is all it writes is one pipeline with its limits,
committed at its end (storage/pg_begin.py `pipelined`, `Database.write_one`). What must hold, as
for a write transaction: all of it is stored or none of it (the event, its day's and month's
rollups), a Slack retry stores nothing more, a write that cannot finish by the deadline stores
nothing and says so, and undo takes it out again. Counts, never timings."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.core import DATABASE_DOWN_REPLY, CommandRequest
from storage.commit_unknown import CommitOutcomeUnknown
from storage.engine import Database, DeadlinePassed
from storage.recording import NewEvent, store_event
from storage.workspaces import ensure_user, ensure_workspace, workspace_and_user
from tests.support.dialog import Chat
from tests.support.locks import hold_derived_rows_lock, wait_for_lock_waiter
from tests.support.postgres_host import free_port
from tests.support.round_trips import RoundTrips

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TALONE"


@pytest.fixture
def chat(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _ask(chat: Chat, text: str, key: str | None, seconds: float = 30):
    """As served: the caller's name in the request, a deadline."""
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + seconds)


def _stored(database, key: str) -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k "
        "AND voided_at IS NULL"), {"w": WS, "k": f"slack:{key}"})[0]


def _rollups(database) -> tuple:
    """(events, count sum) of the calls in the daily and in the monthly rollups."""
    return tuple(database.read_first(sa.text(
        f"SELECT coalesce(sum(events), 0), coalesce(sum(count_sum), 0) FROM {table} "
        "WHERE workspace_id = :w AND kind = 'call'"), {"w": WS}) for table in (
            "daily_rollups", "monthly_rollups"))


def test_an_event_alone_is_stored_once_with_its_rollups_and_undone(chat, database):
    with RoundTrips(database.engine) as trips:
        first = _ask(chat, "log call 3", "once")
    assert first.ok and "Logged" in first.text
    # the workspace read, then the limits and the insert: one pipeline, one round trip, a
    # transaction the server commits at its Sync (no BEGIN, no COMMIT: storage/pg_pipeline.py)
    assert trips.queries == [] and trips.count == trips.exchanges == 2, trips.queries
    assert [p for p in trips.parsed if "WITH stored_event AS" in p], trips.parsed
    assert not [p for p in trips.parsed if "BEGIN" in p or '"COMMIT"' in p], trips.parsed
    again = _ask(chat, "log call 3", "once")  # Slack's retry of the same request
    assert "already stored" in again.plain_text()
    assert again.undo_event == first.undo_event
    assert _stored(database, "once") == 1
    assert _rollups(database) == ((1, 3), (1, 3))
    undone = _ask(chat, f"undo {first.undo_event}", "undo")
    assert undone.ok, undone.plain_text()
    assert _stored(database, "once") == 0
    assert _rollups(database) == ((0, 0), (0, 0))


def test_an_event_alone_that_cannot_finish_by_the_deadline_stores_nothing(chat, database):
    """The insert waits for a rollup row another transaction holds, past the deadline: the
    server cancels it, the event's row goes with it, and the reply says nothing was stored.
    Slack's retry afterwards stores it once, on the same pooled connection."""
    _ask(chat, "log call 1", "before")  # the day's and month's rollup rows exist
    with database.engine.connect() as holder:
        holder.execute(sa.text("UPDATE daily_rollups SET events = events "
                               "WHERE workspace_id = :w AND kind = 'call'"), {"w": WS})
        late = _ask(chat, "log call 2", "late", seconds=0.4)
        holder.rollback()
    assert not late.ok and DATABASE_DOWN_REPLY in late.text, late.plain_text()
    assert _stored(database, "late") == 0
    assert _rollups(database) == ((1, 1), (1, 1))
    assert database.engine.pool.checkedin() >= 1
    retried = _ask(chat, "log call 2", "late")
    assert retried.ok and "Logged" in retried.text
    assert _stored(database, "late") == 1
    assert _rollups(database) == ((2, 3), (2, 3))


def test_a_write_alone_past_its_deadline_sends_nothing(chat, database):
    statement = sa.text("UPDATE workspaces SET name = 'late' WHERE id = :w RETURNING id")
    with RoundTrips(database.engine) as trips, pytest.raises(DeadlinePassed):
        database.until(time.monotonic() - 0.1).write_one(statement, {"w": WS})
    assert trips.count == 0
    assert database.until(time.monotonic() + 30).write_one(statement, {"w": WS}) == [(WS,)]
    assert database.read_first(sa.text("SELECT name FROM workspaces WHERE id = :w"),
                               {"w": WS}) == ("late",)


def test_the_stamp_in_the_events_insert_waits_for_the_derived_rows_lock_first(chat, database):
    """A meeting on a deal stamps it in the statement that stores the event (4 → 3 round
    trips), after the workspace's derived-rows lock, never before: a writer that holds the
    lock can still update the deal's row (the other order would deadlock the two), and the
    stamp then applies to the row as that writer left it."""
    _ask(chat, "log demo-booked acme", "deal")
    done: list = []
    with database.engine.connect() as holder:
        hold_derived_rows_lock(holder, WS)
        logging = threading.Thread(target=lambda: done.append(
            _ask(chat, "log meeting-booked acme", "stamp")))
        logging.start()
        wait_for_lock_waiter(holder, logging)
        holder.execute(sa.text("UPDATE deals SET updated_at = updated_at "
                               "WHERE workspace_id = :w AND key = 'acme'"), {"w": WS})
        holder.commit()
    logging.join()
    assert done[0].ok, done[0].plain_text()
    assert _stored(database, "stamp") == 1
    assert database.read_first(sa.text(
        "SELECT updated_at FROM deals WHERE workspace_id = :w AND key = 'acme'"),
        {"w": WS})[0] == NOW


def test_a_write_alone_the_server_runs_late_is_not_committed(chat, database):
    """Its COMMIT goes out with it, before the bot checks its deadline: a server that reads
    the query late (frozen before it read it) must still refuse the COMMIT past the deadline,
    which it counts from the command's workspace read (`note_server_clock`), not from when it
    runs the query. Here the read "was" 40 s before on the server's clock (30 s deadline)."""
    command = database.until(time.monotonic() + 30)
    workspace, _user = workspace_and_user(command, WS, "U1")
    server_now, _answered = command.server_clock["at"]
    command.note_server_clock(server_now - timedelta(seconds=40), time.monotonic())
    new = NewEvent(kind="call", user_id="U1", logged_by="U1", occurred_at=NOW,
                   idempotency_key="slack:thawed")
    with pytest.raises(sa.exc.OperationalError, match="deadline passed") as refused:
        store_event(database=command, workspace=workspace, new=new, now=NOW)
    # the server refused the commit (its ERROR before the pipeline's end): known, not stored
    assert not isinstance(refused.value, CommitOutcomeUnknown)
    assert _stored(database, "thawed") == 0 and _rollups(database) == ((0, 0), (0, 0))
    # a command without its workspace read's clock: the COMMIT waits for the bot's own check
    with RoundTrips(database.engine) as trips:
        stored = store_event(database=database.until(time.monotonic() + 30),
                             workspace=workspace, new=new, now=NOW)
    # (its COMMIT a message of its own, after the bot's check: storage/pg_commit.py)
    assert not stored.duplicate and trips.parsed[-1].endswith('"COMMIT" 0'), trips.parsed
    assert _stored(database, "thawed") == 1


def test_a_failed_write_alone_hands_its_connection_back_as_it_took_it(chat, database):
    """The workspace read and a write alone run on a pooled connection without SQLAlchemy's
    Connection (storage/pg_driver.py `run_pooled`), put in autocommit for them: one whose
    write failed in its transaction (a lock timeout) goes back to the pool out of that
    transaction and out of autocommit, so the next transactional user of it (an import) gets
    a transaction that a failure rolls back whole."""
    _ask(chat, "log call 1", "before")  # the day's and month's rollup rows exist
    database.engine.dispose()
    with database.engine.connect() as holder:
        holder.execute(sa.text("UPDATE daily_rollups SET events = events "
                               "WHERE workspace_id = :w AND kind = 'call'"), {"w": WS})
        late = _ask(chat, "log call 2", "late", seconds=0.4)
        holder.rollback()
    assert not late.ok and DATABASE_DOWN_REPLY in late.text, late.plain_text()
    with database.engine.connect() as connection:  # the pool's last-returned: the command's
        raw = connection.connection.driver_connection
        assert (raw.autocommit, raw.info.transaction_status.name) == (False, "IDLE")
        assert connection.exec_driver_sql(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
            "coalesce(current_setting('kpibot.commit_by', true), '')").one() == ("0", "0", "")
    with pytest.raises(RuntimeError), database.write() as session:  # no deadline: an import
        session.execute(sa.text("UPDATE workspaces SET name = 'changed' WHERE id = :w"),
                        {"w": WS})
        raise RuntimeError("the import fails")
    assert database.read_first(sa.text("SELECT name FROM workspaces WHERE id = :w"),
                               {"w": WS})[0] != "changed"
    assert _stored(database, "late") == 0


def test_no_server_is_a_database_error_as_core_raises_it(chat, database):
    """The workspace read and a write alone check a connection out of the pool themselves
    (storage/pg_driver.py `run_pooled`): a server that cannot be reached is SQLAlchemy's
    OperationalError there too (the command answers "database down"), never psycopg's own
    (an HTTP 500 in the server: tests/reliability/test_database_restart.py)."""
    url = database.engine.url.set(port=free_port())
    down = Database.from_url(url.render_as_string(hide_password=False)).until(
        time.monotonic() + 30)
    try:
        with pytest.raises(sa.exc.OperationalError):
            down.read_first(sa.text("SELECT 1"), {})
        alone = down.with_lock_timeout(500)
        alone.note_server_clock(datetime.now(UTC), time.monotonic())  # (else: `write`)
        with pytest.raises(sa.exc.OperationalError):
            alone.write_one(sa.text("SELECT 1"), {})
    finally:
        down.dispose()
