"""PostgreSQL: a `/kpi log` that only stamps its deal goes out with its COMMIT, in one round
trip (storage/recording.py `store_event`, storage/deal_names.py). What must hold: when the
stamp does not apply after all (the deal was renamed or deleted by another process, or is new)
nothing of the first try is committed, the event is stored once and its deal refreshed in
full, and the connection is left idle with its statements prepared; a Slack retry stores
nothing more and stamps nothing; a deal this process last wrote under another name is not
tried. Counts and states, never timings."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage import deal_names
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import executed

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TSTAMP"


@pytest.fixture
def chat(database):
    from storage.workspaces import ensure_user, ensure_workspace

    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _ask(chat: Chat, text: str, key: str):
    """As served: the caller's name in the request, a deadline."""
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)


def _deal(database, key: str = "acme") -> tuple | None:
    return database.read_first(sa.text(
        "SELECT name, stage, updated_at FROM deals WHERE workspace_id = :w AND key = :k"),
        {"w": WS, "k": key})


def _stored(database, key: str) -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": f"slack:{key}"})[0]


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


@pytest.mark.parametrize("elsewhere", ["renamed", "deleted"])
def test_a_stamp_refused_stores_the_event_once_and_refreshes_its_deal(chat, database, elsewhere):
    """Another process renamed the deal (or voided its only events, so it is gone) after this
    one wrote it: the stamp tried with the COMMIT is refused, nothing of it is committed, and
    the event is written again, its deal refreshed in full (named by it again)."""
    assert _ask(chat, "log sql acme", "first").ok
    with database.write() as session:  # another process's write
        if elsewhere == "renamed":
            session.execute(sa.text("UPDATE deals SET name = 'ACME' WHERE workspace_id = :w"),
                            {"w": WS})
        else:
            session.execute(sa.text("DELETE FROM deals WHERE workspace_id = :w"), {"w": WS})
    with executed(database.engine) as seen:
        reply = _ask(chat, "log meeting-booked acme", "meeting")
    assert reply.ok, reply.text
    tried = [s for s, _p in seen if "kpibot: the deal stamp missed" in s]
    assert len(tried) == 1  # the refused try, then the full write
    assert _stored(database, "meeting") == 1 and _day_events(database) == 1
    assert _deal(database)[:2] == ("acme", "sql")
    # the next meeting on it is stamped in one round trip again
    with RoundTrips(database.engine) as trips:
        assert _ask(chat, "log meeting-booked acme", "again").ok
    assert trips.count == 1 and _stored(database, "again") == 1 and _day_events(database) == 2


def test_a_retry_of_a_stamped_meeting_stores_nothing_more(chat, database):
    assert _ask(chat, "log sql acme", "first").ok
    assert _ask(chat, "log meeting-booked acme", "meeting").ok
    stamped = _deal(database)
    again = _ask(chat, "log meeting-booked acme", "meeting")
    assert again.ok and "already stored" in again.text + str(again.sections)
    assert _stored(database, "meeting") == 1 and _day_events(database) == 1
    assert _deal(database) == stamped  # not stamped again by the retry


def test_a_deal_this_process_wrote_under_another_name_is_not_tried(chat, database):
    """A log that would rename a deal this process last wrote under another name costs no
    refused try: it is written the full way at once."""
    assert _ask(chat, "log sql acme", "first").ok
    with executed(database.engine) as seen:
        assert _ask(chat, "log meeting-booked Acme", "renaming").ok
    assert not [s for s, _p in seen if "kpibot: the deal stamp missed" in s]
    assert _deal(database)[0] == "Acme"
    assert deal_names.named_otherwise(database.engine, WS, "acme", "acme")
    assert not deal_names.named_otherwise(database.engine, WS, "acme", "Acme")


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
