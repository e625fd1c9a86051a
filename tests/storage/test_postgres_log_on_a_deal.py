"""PostgreSQL: a `/kpi log` on a deal in four round trips (issue 18, session 12). The deal's
two refresh reads go out in the insert's query, after it (storage/pg_begin.py
`pipelined`). What must still hold: the reads see every event committed by whoever held the
derived-rows lock before (so no deal misses an event), a Slack retry racing its original
stores one event and moves the deal once, a write's COMMIT is refused past the deadline on the
server's clock however late the server runs it, an UPDATE that cannot finish stores nothing
and says so, and a stamped log's unread events are read when the stamp missed. Counts and
states, never timings."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.core import DATABASE_DOWN_REPLY, CommandRequest
from storage.recording import NewEvent, record_event
from storage.workspaces import ensure_user, ensure_workspace, workspace_and_user
from tests.support.dialog import Chat
from tests.support.locks import hold_derived_rows_lock, wait_for_lock_waiter
from tests.support.round_trips import RoundTrips

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TONDEAL"


@pytest.fixture
def chat(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _ask(chat: Chat, text: str, key: str | None, seconds: float = 30, user: str = "U1"):
    """As served: the caller's name in the request, a deadline."""
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id=user, user_name=f"Name {user}", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + seconds)


def _owner(database, key: str = "acme") -> str:
    return database.read_first(sa.text(
        "SELECT owner_id FROM deals WHERE workspace_id = :w AND key = :k"),
        {"w": WS, "k": key})[0]


def _deal(database, key: str = "acme") -> tuple | None:
    return database.read_first(sa.text(
        "SELECT name, stage, demo_at, updated_at FROM deals WHERE workspace_id = :w "
        "AND key = :k"), {"w": WS, "k": key})


def _events(database, key: str = "acme") -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND deal_key = :k "
        "AND voided_at IS NULL"), {"w": WS, "k": key})[0]


def test_the_refresh_reads_what_the_lock_holder_committed(chat, database):
    """The reads go out in the insert's query, after it: each statement of the query takes
    its own snapshot, so they see an event committed by the writer that held the lock while
    the insert waited for it (one read with the insert's snapshot would miss it: the deal
    would stay at its stage, without the demo)."""
    _ask(chat, "log meeting-booked acme", "deal")
    assert _deal(database)[1:3] == (None, None)  # a meeting is no stage
    done: list = []
    with database.engine.connect() as holder:
        hold_derived_rows_lock(holder, WS)
        logging = threading.Thread(target=lambda: done.append(
            _ask(chat, "log inbound-request acme source=web", "sourced")))  # a refresh
        logging.start()
        wait_for_lock_waiter(holder, logging)
        holder.execute(sa.text(  # a demo the holder stores (its deal left to the next writer)
            "INSERT INTO events (workspace_id, kind, count, deal_key, deal_name, user_id, "
            "logged_by, occurred_at, logged_at, idempotency_key) VALUES (:w, 'demo-booked', "
            "1, 'acme', 'acme', 'U1', 'U1', :at, :at, 'held')"), {"w": WS, "at": NOW})
        holder.commit()
    logging.join()
    assert done[0].ok, done[0].plain_text()
    assert _deal(database)[1:3] == ("demo", NOW)
    assert _events(database) == 3


def test_a_retry_racing_its_original_stores_once_and_moves_the_deal_once(chat, database):
    """Slack's retry arrives while the original still waits: one event, one refresh; the
    retry's reads (in its insert's query) are not used, and it writes nothing."""
    _ask(chat, "log meeting-booked acme", "deal")
    replies: list = []
    with database.engine.connect() as holder:
        hold_derived_rows_lock(holder, WS)
        first = threading.Thread(target=lambda: replies.append(
            _ask(chat, "log demo-booked acme", "twice")))
        first.start()
        wait_for_lock_waiter(holder, first)
        second = threading.Thread(target=lambda: replies.append(
            _ask(chat, "log demo-booked acme", "twice")))
        second.start()
        for _ in range(3000):  # the retry waits for the original's row (its unique key)
            waiting = holder.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar()
            if waiting >= 2:
                break
            second.join(0.01)
        holder.commit()
    first.join()
    second.join()
    assert all(reply.ok for reply in replies), [r.plain_text() for r in replies]
    assert sorted("already stored" in r.plain_text() for r in replies) == [False, True]
    assert len({r.undo_event for r in replies}) == 1
    assert _events(database) == 2
    assert _deal(database)[1:3] == ("demo", NOW)
    undone = _ask(chat, f"undo {replies[0].undo_event}", "undo")
    assert undone.ok, undone.plain_text()
    assert _deal(database)[1:3] == (None, None) and _events(database) == 1


# a demo: the deal's UPDATE goes out with the COMMIT; a meeting stamps the deal in its
# insert: the COMMIT goes out alone (storage/pg_commit.py)
@pytest.mark.parametrize("kind", ["demo-booked", "meeting-booked"])
def test_a_writes_commit_is_refused_past_the_deadline_on_the_servers_clock(chat, database,
                                                                          kind):
    """`Database.write` bounds `kpibot.commit_by` by the command's workspace read on the
    server's clock (`note_server_clock`), as `write_one` does: a server that runs the
    transaction late (here: the read "was" 40 s before on its clock, against a 30 s deadline)
    refuses its COMMIT although the bot's own check passed, and nothing of the command is
    stored."""
    _ask(chat, "log meeting-booked acme", "deal")
    before = _deal(database)
    command = database.until(time.monotonic() + 30)
    workspace, _user = workspace_and_user(command, WS, "U1")
    server_now, _answered = command.server_clock["at"]
    command.note_server_clock(server_now - timedelta(seconds=40), time.monotonic())
    new = NewEvent(kind=kind, user_id="U1", logged_by="U1", occurred_at=NOW,
                   idempotency_key="slack:thawed", deal_key="acme", deal_name="acme")
    with RoundTrips(database.engine) as trips, \
            pytest.raises(sa.exc.OperationalError, match="deadline passed"), \
            command.write() as session:
        record_event(session=session, workspace=workspace, new=new, now=NOW)
    # sent (with the deal's UPDATE, storage/pg_commit.py): the bot's own check passed; the
    # server refused it
    assert [p for p in trips.parsed if p.endswith('"COMMIT" 0')], trips.parsed
    assert _deal(database) == before and _events(database) == 1


def test_a_deals_update_that_cannot_finish_stores_nothing(chat, database):
    """The UPDATE kept for the COMMIT waits for the deal's row, which another transaction
    holds past the deadline: the server cancels it, the event goes with it, the reply says
    nothing was stored, and Slack's retry afterwards stores it once."""
    _ask(chat, "log meeting-booked acme", "deal")
    with database.engine.connect() as holder:
        holder.execute(sa.text("UPDATE deals SET source = source WHERE workspace_id = :w "
                               "AND key = 'acme'"), {"w": WS})
        late = _ask(chat, "log demo-booked acme", "late", seconds=0.5)
        holder.rollback()
    assert not late.ok and DATABASE_DOWN_REPLY in late.text, late.plain_text()
    assert _events(database) == 1 and _deal(database)[1] is None
    retried = _ask(chat, "log demo-booked acme", "late")
    assert retried.ok and "Logged" in retried.text
    assert _events(database) == 2 and _deal(database)[1:3] == ("demo", NOW)


def test_a_meeting_the_stamp_missed_on_a_deal_that_looks_stamped_is_refreshed(chat, database):
    """A meeting tries the stamp, and its insert's query reads the deal's events only if the
    deal does not look stamped by it (its `updated_at` the meeting's instant, the same name):
    a stamped deal's events are not sent for nothing. Here another rep's meeting at the very
    same instant left the deal looking so, but the stamp does not apply (a deal with no stage
    yet is owned by its latest event's rep, now U1): the refresh reads the events itself."""
    _ask(chat, "log meeting-booked acme", "theirs", user="U2")
    assert _owner(database) == "U2" and _deal(database)[3] == NOW
    reply = _ask(chat, "log meeting-booked acme", "mine")
    assert reply.ok, reply.plain_text()
    assert _owner(database) == "U1" and _events(database) == 2
