"""PostgreSQL: a `/kpi log` that only stamps its deal goes out with its COMMIT, in one round
trip (storage/recording.py `store_event`), renaming the deal as a refresh would. What must
hold: when the stamp does not apply (the deal is new or gone, a later event names it) nothing
of the first try is committed, the event is stored once and its deal refreshed in full, and
the connection is left idle with its statements prepared; a Slack retry stores nothing more
and stamps nothing. Counts and states, never timings."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.deals import refresh_deal
from storage.models import Workspace
from storage.recording import NewEvent, record_event
from tests.support.dialog import Chat, served_chat
from tests.support.locks import hold_derived_rows_lock, wait_for_lock_waiter
from tests.support.round_trips import RoundTrips
from tests.support.statements import executed

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TSTAMP"


@pytest.fixture
def chat(database):
    return served_chat(database, workspace=WS, now=NOW)


def _ask(chat: Chat, text: str, key: str):
    return chat.ask_served(text, key)


def _deal(database, key: str = "acme") -> tuple | None:
    return database.read_first(sa.text(
        "SELECT name, stage, updated_at FROM deals WHERE workspace_id = :w AND key = :k"),
        {"w": WS, "k": key})


def _row(database, key: str = "acme") -> dict:
    with database.engine.connect() as connection:
        return dict(connection.execute(sa.text(
            "SELECT * FROM deals WHERE workspace_id = :w AND key = :k"),
            {"w": WS, "k": key}).mappings().one())


def _stored(database, key: str) -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": f"slack:{key}"})[0]


def _server_default_isolation(database, level: str) -> None:
    """The test database's default isolation for every connection opened from now on."""
    with database.engine.connect() as connection:
        name = connection.execute(sa.text("SELECT current_database()")).scalar_one()
        connection.execute(sa.text(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = '{level}'"))
        connection.commit()
    database.engine.dispose()


def _day_events(database) -> int:
    return database.read_first(sa.text(
        "SELECT coalesce(sum(events), 0) FROM daily_rollups WHERE workspace_id = :w "
        "AND kind = 'meeting-booked'"), {"w": WS})[0]


def test_a_meeting_on_a_deal_just_written_is_one_round_trip_and_stamps_it(chat, database):
    assert _ask(chat, "log sql acme", "first").ok  # the deal, written by this process
    with RoundTrips(database.engine) as trips:
        reply = _ask(chat, "log meeting-booked acme", "meeting")
    assert reply.ok, reply.text
    assert trips.count == 1, trips.parsed
    name, stage, updated_at = _deal(database)
    assert (name, stage) == ("acme", "sql")
    assert updated_at == database.read_first(sa.text(
        "SELECT logged_at FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": "slack:meeting"})[0]
    assert _stored(database, "meeting") == 1 and _day_events(database) == 1


def test_a_meeting_naming_the_deal_otherwise_renames_it_as_a_refresh_would(chat, database):
    """The deal's name is its latest named event's: a meeting that names it otherwise is
    stamped in one round trip, the deal renamed, and the row is what a full refresh gives."""
    assert _ask(chat, "log sql acme", "first").ok
    with RoundTrips(database.engine) as trips:
        assert _ask(chat, "log meeting-booked ACME", "renaming").ok
    assert trips.count == 1, trips.parsed
    stamped = _row(database)
    assert stamped["name"] == "ACME" and stamped["stage"] == "sql"
    with database.write() as session:
        refresh_deal(session=session, workspace_id=WS, deal_key="acme")
    assert {**_row(database), "updated_at": None} == {**stamped, "updated_at": None}


@pytest.mark.parametrize("elsewhere", ["deleted", "named later"])
def test_a_stamp_refused_stores_the_event_once_and_refreshes_its_deal(chat, database, elsewhere):
    """Another process voided the deal's events (it is gone), or logged an event that names
    it later than this one: the stamp tried with the COMMIT is refused, nothing of it is
    committed, and the event is written again, its deal refreshed in full."""
    assert _ask(chat, "log sql acme", "first").ok
    if elsewhere == "deleted":
        with database.write() as session:  # (its events voided: refreshed away)
            session.execute(sa.text("UPDATE events SET voided_at = :at WHERE workspace_id = :w"),
                            {"w": WS, "at": NOW})
            refresh_deal(session=session, workspace_id=WS, deal_key="acme")
        assert _deal(database) is None
    else:  # an event an hour later than this one's, named "Acme Inc"
        later = Chat(database, workspace=WS, now=NOW + timedelta(hours=1), admins=(),
                     default_user="U1")
        assert _ask(later, "log meeting-booked Acme", "later").ok
    with executed(database.engine) as seen:
        reply = _ask(chat, "log meeting-booked acme", "meeting")
    assert reply.ok, reply.text
    tried = [s for s, _p in seen if "kpibot: the deal stamp missed" in s]
    assert len(tried) == 1 and len(seen) > 2  # the refused try, then the full write
    assert _stored(database, "meeting") == 1 and _day_events(database) == (
        1 if elsewhere == "deleted" else 2)
    name, stage, _updated = _deal(database)
    assert (name, stage) == ("acme" if elsewhere == "deleted" else "Acme", None if
                             elsewhere == "deleted" else "sql")
    # the next meeting on it is stamped in one round trip again
    with RoundTrips(database.engine) as trips:
        assert _ask(chat, "log meeting-booked Acme", "again").ok
    assert trips.count == 1 and _stored(database, "again") == 1


def test_a_retry_of_a_stamped_meeting_stores_nothing_more(chat, database):
    assert _ask(chat, "log sql acme", "first").ok
    assert _ask(chat, "log meeting-booked acme", "meeting").ok
    stamped = _deal(database)
    again = _ask(chat, "log meeting-booked acme", "meeting")
    assert again.ok and "already stored" in again.text + str(again.sections)
    assert _stored(database, "meeting") == 1 and _day_events(database) == 1
    assert _deal(database) == stamped  # not stamped again by the retry


def test_a_refused_try_leaves_its_connection_idle_with_its_statements_prepared(chat, database):
    """A meeting on a deal that does not exist yet is tried and refused: the failed
    transaction ends with the COMMIT sent after it (storage/pg_pipeline.py), so the connection
    needs no ROLLBACK of its own, and what was prepared on it before stays prepared."""
    assert _ask(chat, "log call 1", "before").ok  # the pool's connection, its statements
    database.engine.dispose()
    assert _ask(chat, "log call 1", "warm").ok  # BEGIN, limits, check, call's insert prepared
    with RoundTrips(database.engine, keep_pool=True) as trips:
        assert _ask(chat, "log meeting-booked globex", "new deal").ok
    # the refused try, then the full write's three (the deal's INSERT wants its id)
    assert trips.count == 4, trips.parsed
    assert "ROLLBACK" not in " ".join(trips.queries), trips.queries
    assert _stored(database, "new deal") == 1 and _deal(database, "globex")[0] == "globex"
    with RoundTrips(database.engine, keep_pool=True) as trips:
        assert _ask(chat, "log call 1", "after").ok
    assert trips.count == 1 and trips.lines
    assert not [p for p in trips.parsed if "BEGIN" in p or "set_config" in p
                or "stored_event" in p], trips.parsed  # nothing parsed again


@pytest.mark.parametrize("server_default", [None, "repeatable read"])
def test_the_renaming_stamp_sees_what_the_lock_holder_committed(chat, database,
                                                                server_default):
    """The stamp reads the deal's events to know whether this event is its latest named one,
    so its statement runs after the derived-rows lock, taken by a statement before it: it
    sees an event the lock's holder committed while it waited, named later than this one,
    and is refused (with the lock only in its own statement, its snapshot would predate the
    holder's COMMIT and it would rename the deal "acme", against the later event's name).
    Whatever isolation the server defaults to: the transaction has no BEGIN to name its own,
    and runs READ COMMITTED all the same (storage/pg_begin.py `_read_committed`)."""
    if server_default is not None:
        _server_default_isolation(database, server_default)
    assert _ask(chat, "log sql acme", "first").ok
    done: list = []
    with database.engine.connect() as holder:
        hold_derived_rows_lock(holder, WS)
        logging = threading.Thread(target=lambda: done.append(
            _ask(chat, "log meeting-booked acme", "meeting")))
        logging.start()
        wait_for_lock_waiter(holder, logging)
        with Session(bind=holder) as session:  # another process's log, an hour later
            workspace = session.get(Workspace, WS)
            record_event(session=session, workspace=workspace, new=NewEvent.of(
                kind="meeting-booked", user_id="U1", logged_by="U1",
                occurred_at=NOW + timedelta(hours=1), idempotency_key="slack:later",
                deal_key="acme", deal_name="Acme Later"), now=NOW)
            session.flush()
        holder.commit()
    logging.join()
    assert done[0].ok, done[0].plain_text()
    assert _stored(database, "meeting") == 1 and _day_events(database) == 2
    assert _deal(database)[:2] == ("Acme Later", "sql")
