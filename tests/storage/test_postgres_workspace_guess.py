"""The caller's workspace and user rows guessed and checked in the command's first pipeline
(storage/workspace_guess.py, bot/core.py `_guessed`): a guess that another process made wrong
answers nothing from it and stores nothing; the command is answered again the normal way, from
one snapshot, and a log is stored once, with the values of the rows as they are.

Another process is a statement on a connection of its own: this process's memo of the rows is
not told of it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage import pg_pool, workspace_guess
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import forget_prepared

WS = "slack:TGUESS"


@pytest.fixture
def pooled_a_while(monkeypatch):
    """Connections count as just returned however slow the machine is (no wall clock)."""
    monkeypatch.setattr(pg_pool, "PING_AFTER_IDLE_S", 3600.0)


def _chat(database, now: datetime, admins: tuple[str, ...] = ()) -> Chat:
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=now)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=now)
    return Chat(database, workspace=WS, now=now, admins=admins, default_user="U1")


def _ask(chat: Chat, text: str, key: str | None = None):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)  # as served: a deadline


def _misses(trips: RoundTrips) -> list[str]:
    """The server's answers that a guess of the workspace missed (the check's error)."""
    return [line for line in trips.lines if "ErrorResponse" in line and "22P02" in line
            and workspace_guess.MISSED in line]


def _elsewhere(database, sql: str) -> None:
    """A change committed by another process (nothing of this process's memo hears of it)."""
    with database.engine.begin() as connection:
        connection.execute(sa.text(sql), {"w": WS})


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_funnel_whose_workspace_guess_misses_answers_in_the_new_zone(database,
                                                                       pooled_a_while):
    """New Year's Eve 20:00 UTC is already 2027 in Auckland: the funnel's this-quarter is Q4
    2026 in UTC and Q1 2027 there. Another process sets the zone; the funnel guessed in UTC
    (PostgreSQL) meets the check in its pipeline, which fails the read: nothing of that
    snapshot is answered, the rows are read again and the funnel answers for Auckland's
    quarter, as a process that remembered nothing answers. SQLite reads its rows every time."""
    chat = _chat(database, datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    for i, stage in enumerate(("lead", "mql", "sql")):
        assert _ask(chat, f"log {stage} deal{i} on 2026-12-0{i + 1}", f"k{i}").ok
    before = _ask(chat, "funnel this-quarter")  # the rows read: remembered (PostgreSQL)
    assert before.ok and "2026" in before.text, before.text
    postgresql = database.dialect == "postgresql"
    _elsewhere(database, "UPDATE workspaces SET timezone = 'Pacific/Auckland' WHERE id = :w")
    with RoundTrips(database.engine) if postgresql else _nothing() as trips:
        answered = _ask(chat, "funnel this-quarter")
    assert answered.ok and "2027" in answered.text and answered.text != before.text
    if postgresql:  # the guess was sent, it missed, its transaction rolled back: one miss
        assert len(_misses(trips)) == 1
        assert sum("ROLLBACK" in q for q in trips.queries) == 1, trips.queries
        with RoundTrips(database.engine) as trips:  # the new rows are remembered
            again = _ask(chat, "funnel this-quarter")
        assert again == answered and not _misses(trips)
        workspace_guess.forget(database.engine, WS, "U1")
    assert _ask(chat, "funnel this-quarter") == answered  # as if nothing was remembered


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_funnel_read_again_after_its_statements_were_forgotten_still_checks_its_guess(
        database, pooled_a_while, monkeypatch):
    """DEALLOCATE ALL behind the pipeline's back: the funnel's pipeline meets "prepared
    statement does not exist" at its BEGIN, nothing after it runs, the check of the guess
    included, and the funnel reads again (storage/pg_batch.py). The check never answered, so
    the read again sends it: a guess another process made wrong meanwhile is caught there
    (counted as sent, the check went out once, unanswered, and the funnel answered for UTC's
    quarter; without reading again, "the database refused this request")."""
    # one connection, nothing kept out of the pool (storage/pg_pool.py): the funnel's read
    # runs through the Session on the connection whose statements are forgotten
    monkeypatch.setattr(pg_pool, "KEEP", 0)
    chat = _chat(database, datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    for i, stage in enumerate(("lead", "mql", "sql")):
        assert _ask(chat, f"log {stage} deal{i} on 2026-12-0{i + 1}", f"k{i}").ok
    for _ in range(6):  # the read's COMMIT goes ahead; psycopg prepares at a fifth run
        before = _ask(chat, "funnel this-quarter")
    assert before.ok and "2026" in before.text, before.text
    _elsewhere(database, "UPDATE workspaces SET timezone = 'Pacific/Auckland' WHERE id = :w")
    forget_prepared(database.engine)
    with RoundTrips(database.engine, keep_pool=True) as trips:
        answered = _ask(chat, "funnel this-quarter")
    assert [line for line in trips.lines if "ErrorResponse" in line and '"26000"' in line]
    assert len(_misses(trips)) == 1
    assert answered.ok and "2027" in answered.text, answered.text


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *_exc):
        return None


# text -> (the change another process makes, the column read back, its value)
CHANGES = {
    # an event alone (`Database.write_one`: the COMMIT in the check's pipeline)
    "log call 3 on 2026-11-10": ("timezone = 'Asia/Tokyo'", "occurred_at",
                                 datetime(2026, 11, 10, 3, 0, tzinfo=UTC)),  # Tokyo's noon
    # an event on a deal (its insert and the deal's reads in the check's pipeline)
    "log demo-booked acme on 2026-11-10": ("timezone = 'Asia/Tokyo'", "occurred_at",
                                           datetime(2026, 11, 10, 3, 0, tzinfo=UTC)),
    # a win on a deal: the deal's win read first, through the ORM (the check joined to BEGIN)
    "log deal-won acme 500": ("currency = 'EUR'", "currency", "EUR"),
}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("text", list(CHANGES))
def test_a_log_on_a_wrong_guess_stores_nothing_and_is_stored_once_right(database,
                                                                        pooled_a_while, text):
    """The write's transaction sends the check right after its limits: a guess another
    process made wrong fails it there, before the insert, and its COMMIT (in the same
    pipeline for an event alone) is not run. The log is then written again the normal way,
    with the rows as they are: stored once, with the new zone's day or the new currency."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC))
    assert _ask(chat, "log meeting-booked acme", "first").ok  # the deal; the rows remembered
    change, column, value = CHANGES[text]
    _elsewhere(database, f"UPDATE workspaces SET {change} WHERE id = :w")
    with RoundTrips(database.engine) as trips:
        assert _ask(chat, text, "the-key").ok
    assert len(_misses(trips)) == 1  # the check failed the first transaction: rolled back,
    # by the COMMIT in its pipeline for an event alone (storage/pg_pipeline.py), else by a
    # ROLLBACK of its own
    alone = text.startswith("log call")
    assert sum("ROLLBACK" in q for q in trips.queries) == (0 if alone else 1), trips.queries
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text(
            f"SELECT {column} FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
            {"w": WS, "k": "slack:the-key"}).all()
    assert [row[0] for row in rows] == [value]
    # the rows as they are now: guessed right, or (a backdated log moved the workspace's
    # history version, so the guesses of it were dropped) read again; never a miss
    with RoundTrips(database.engine) as trips:
        assert _ask(chat, "log call 1", "next").ok
    assert not _misses(trips) and not trips.queries and trips.count <= 2, "\n".join(trips.lines)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_guess_is_never_used_for_another_user_or_a_changed_name(database, pooled_a_while):
    """The guess is keyed by (workspace, user): another user of the workspace is read (and
    created) the normal way; a caller whose name changed too, so that the row is written."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC))
    assert _ask(chat, "log call 1", "a").ok  # U1 remembered
    assert workspace_guess.recall(database.engine, WS, "U2") is None
    with RoundTrips(database.engine) as trips:
        assert chat.handler.handle(CommandRequest(
            platform="slack", workspace_id=WS, user_id="U1", user_name="Ann B", text="log call 1",
            channel_id="C1", idempotency_key="b"), time.monotonic() + 30).ok
    assert not [p for p in trips.parsed + trips.queries if workspace_guess.MISSED in p]
    with database.engine.connect() as connection:
        assert connection.execute(sa.text(
            "SELECT display_name FROM users WHERE workspace_id = :w AND id = 'U1'"),
            {"w": WS}).scalar() == "Ann B"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("text", ["funnel this-quarter", "quota", "win-rate this-year",
                                  "show win-rate", "me", "leaderboard", "churn",
                                  "quota history", "digest list", "digest status",
                                  "digest preview", "rep list"])
def test_a_report_on_a_guess_is_one_round_trip_fewer_and_the_same(database, pooled_a_while,
                                                                  text):
    """A report whose read sends the check (`Database.read`, storage/pg_light.py): the same
    answer as after a read of the rows, one round trip fewer (the workspace read's)."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC))
    for i, stage in enumerate(("lead", "mql", "deal-won")):
        assert _ask(chat, f"log {stage} deal{i} 100", f"k{i}").ok
    for _ in range(6):  # what reads remember, and psycopg's prepared statements, settled
        _ask(chat, text)
    workspace_guess.forget(database.engine, WS, "U1")
    with RoundTrips(database.engine) as trips:
        read = _ask(chat, text)
    with RoundTrips(database.engine) as guessed_trips:
        guessed = _ask(chat, text)
    assert guessed == read
    assert not _misses(guessed_trips)
    assert guessed_trips.count == trips.count - 1, (guessed_trips.count, trips.count)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("text", ["undo", "undo {id}"])
def test_an_undo_on_a_guess_is_one_round_trip_fewer(database, pooled_a_while, text):
    """`/kpi undo` (its write transaction sends the check): the same reply as after a read
    of the rows, one round trip fewer (the workspace read's), each event voided once."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC))
    ids = [_ask(chat, "log call 1", f"k{i}").undo_event for i in range(3)]
    workspace_guess.forget(database.engine, WS, "U1")
    with RoundTrips(database.engine) as trips:
        read = _ask(chat, text.format(id=ids[2]))
    assert workspace_guess.recall(database.engine, WS, "U1") is not None  # (the rows read)
    with RoundTrips(database.engine) as guessed_trips:
        guessed = _ask(chat, text.format(id=ids[1]))
    assert not _misses(guessed_trips)
    assert read.ok and guessed.ok, (read.text, guessed.text)
    assert guessed.text.replace(f"#{ids[1]}", "#N") == read.text.replace(f"#{ids[2]}", "#N")
    assert guessed_trips.count == trips.count - 1, (guessed_trips.count, trips.count)
    with database.engine.connect() as connection:
        voided = connection.execute(sa.text(
            "SELECT id FROM events WHERE workspace_id = :w AND voided_at IS NOT NULL "
            "ORDER BY id"), {"w": WS}).scalars().all()
    assert voided == ids[1:]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_undo_on_a_wrong_guess_voids_once_and_answers_right(database, pooled_a_while):
    """A guess another process made wrong fails the undo's transaction at its first
    statement: nothing voided there; the undo is answered again from the rows read."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC))
    assert _ask(chat, "log call 1", "one").ok
    assert _ask(chat, "log call 1", "two").ok  # remembered
    assert workspace_guess.recall(database.engine, WS, "U1") is not None
    _elsewhere(database, "UPDATE workspaces SET timezone = 'Asia/Tokyo' WHERE id = :w")
    with RoundTrips(database.engine) as trips:
        reply = _ask(chat, "undo")
    assert reply.ok, reply.text
    assert len(_misses(trips)) == 1
    with database.engine.connect() as connection:
        voided = connection.execute(sa.text(
            "SELECT idempotency_key FROM events WHERE workspace_id = :w AND voided_at IS NOT "
            "NULL"), {"w": WS}).scalars().all()
    assert voided == ["slack:two"]


# an admin's write, in two rounds -> (the round's value, as typed and as stored; whether a
# named rep is made first; what the write stored, read back)
ADMIN_WRITES = {
    "quota set <@U1> {}k quarterly": ((("50", 5_000_000), ("60", 6_000_000)), False,
                                      "SELECT target FROM quota_changes WHERE workspace_id = :w "
                                      "ORDER BY id DESC LIMIT 1"),
    "digest here weekly mon {}:00": ((("09", 9), ("10", 10)), False,
                                     "SELECT hour FROM digest_schedules WHERE workspace_id = :w"),
    "rep link rep:jane-doe{} <@U1>": ((("-1", 0), ("-2", 0)), True,
                                      "SELECT count(*) FROM users WHERE workspace_id = :w "
                                      "AND id LIKE 'rep:%'"),
}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("text", list(ADMIN_WRITES))
def test_an_admins_write_on_a_guess_is_one_round_trip_fewer_and_the_same(
        database, pooled_a_while, text):
    """`/kpi quota set`, `/kpi digest here`, `/kpi rep link` (their write transaction sends the
    check): stored, and answered as after a read of the rows, one round trip fewer."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC), admins=("U1",))
    rounds, named_rep, stored = ADMIN_WRITES[text]
    replies, trips_counts = [], []
    for i, (typed, value) in enumerate(rounds):
        if named_rep:
            _named_rep(database, f"rep:jane-doe{typed}", chat.now)
        if i == 0:
            workspace_guess.forget(database.engine, WS, "U1")
        with RoundTrips(database.engine) as trips:
            reply = _ask(chat, text.format(typed), f"admin-{i}")
        assert reply.ok, reply.text
        assert not _misses(trips)
        assert _read_back(database, stored) == value
        replies.append(reply.text.replace(typed, "X"))
        trips_counts.append(trips.count)
    assert replies[1] == replies[0]
    assert trips_counts[1] == trips_counts[0] - 1, trips_counts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_digest_set_on_a_wrong_guess_takes_the_zone_as_it_is_now(database, pooled_a_while):
    """`/kpi digest here` without a zone takes the workspace's: when another process changed
    it, the guess fails the write's transaction before it stores anything, and the digest is
    set once, in the new zone."""
    chat = _chat(database, datetime(2026, 11, 18, 14, 30, tzinfo=UTC), admins=("U1",))
    assert _ask(chat, "log call 1", "first").ok  # the rows remembered
    _elsewhere(database, "UPDATE workspaces SET timezone = 'Asia/Tokyo' WHERE id = :w")
    with RoundTrips(database.engine) as trips:
        reply = _ask(chat, "digest here weekly mon 09:00")
    assert reply.ok, reply.text
    assert len(_misses(trips)) == 1
    assert _read_back(database, "SELECT string_agg(timezone, ',') FROM digest_schedules "
                                "WHERE workspace_id = :w") == "Asia/Tokyo"  # one, in Tokyo


def _read_back(database, sql: str):
    """The one value `sql` reads for the workspace (:w), on a connection of its own."""
    with database.engine.connect() as connection:
        return connection.execute(sa.text(sql), {"w": WS}).scalar()


def _named_rep(database, rep_id: str, now: datetime) -> None:
    """A named rep with one call, as an import of a file with an unknown person makes it."""
    from storage.models import Workspace
    from storage.recording import NewEvent, record_event

    with database.write() as session:
        ensure_user(session=session, workspace_id=WS, user_id=rep_id,
                    display_name="Jane Doe", now=now)
        record_event(session=session, workspace=session.get(Workspace, WS), new=NewEvent(
            kind="call", user_id=rep_id, logged_by="U1", occurred_at=now,
            idempotency_key=f"import:{time.time_ns()}"), now=now)
