"""What a chat command costs PostgreSQL in round trips (issue 18: `/kpi log` ≤ 2× ping, the
funnel ≤ 0.2× its SQL floor), counted from libpq's protocol trace (tests/support/round_trips.py),
never timed.

- The workspace read is one round trip: autocommit, no BEGIN, no limits, no ROLLBACK.
- A log's write: BEGIN and the limits ride on its first statement (storage/pg_begin.py), and
  a connection just returned is not pinged (storage/pg_pool.py), and an event that is the
  write's only statement carries its COMMIT too (storage/pg_begin.py `pipelined`): a call
  is 2 round trips.
- A pooled connection the server closed is replaced before use (the last test)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage import pg_pool, workspace_guess
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import executed, terminate

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TTRIPS"


def _ask(chat: Chat, text: str, key: str | None = None):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)  # as served: a deadline


@pytest.fixture
def chat(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _statements(database, run) -> list[str]:
    with executed(database.engine) as seen:
        run()
    return [" ".join(statement.split()) for statement, _parameters in seen]


@pytest.fixture
def pooled_a_while(monkeypatch):
    """Connections count as just returned however slow the machine is (no wall clock)."""
    monkeypatch.setattr(pg_pool, "PING_AFTER_IDLE_S", 3600.0)


# the benchmark's log mix, as round trips (55b43e3: 6, 6, 8, 10 on an empty pool, where the
# read's checkout was the pool's first and pinged nothing; one ping more on a used pool;
# 479ac65: 3, 3, 4, 6: a COMMIT of its own after an event without a deal, the stamp of the
# deal a statement of its own, a refresh's two reads two round trips; feb34f4: 2, 2, 3, 5, 5:
# a refresh's reads a round trip of their own)
# c583a54: 2, 2, 3, 4, 4: the deal's reads in the insert's query; the UPDATE and the COMMIT
# two round trips)
# session 14 (pgws): a caller this process has read before: the workspace and user rows
# guessed and checked in the write's first pipeline, 1, 1, 2, 2, 2 (main 9884bd0: 2, 2, 3, 3, 3)
# session 15: a meeting that only stamps (or renames) its deal sends its COMMIT with its insert
# and the derived-rows lock before it, and so does a stage event the deal's row decides,
# 1, 1, 1, 1, 1;
# on a deal that does not exist yet it is refused first, 4 (was 3)
ROUND_TRIPS = {"log call 3": 1, "log email-sent 40x": 1, "log meeting-booked acme": 1,
               # moved from its row alone (storage/deals.py `advance_after`): 1
               "log demo-booked acme": 1,
               # a close: refreshed in full, its UPDATE with the COMMIT (was the demo's)
               "log deal-lost acme reason=price": 2,
               # named otherwise than the deal (the benchmark's first meeting on a deal): the
               # stamp does not apply, the deal is refreshed (479ac65: 7, feb34f4: 5,
               # c583a54: 4, 9884bd0: 3)
               # session 15: stamped, renamed (it is the deal's latest event), 1
               "log meeting-booked Acme": 1,
               # a new deal: the stamp tried with the COMMIT is refused, then the deal is
               # written, its INSERT a round trip (its id wanted) before the COMMIT
               # (9884bd0: 4, b6e754e: 3)
               "log meeting-booked globex": 4}
# the insert is the whole transaction: no deal, or a deal it only stamps
ALONE = ("log call 3", "log email-sent 40x", "log meeting-booked acme",
         "log meeting-booked Acme", "log demo-booked acme")
REFRESHED = ("log deal-lost acme reason=price",)  # the deal's row rewritten
NEW_DEAL = ("log meeting-booked globex",)  # the deal's row inserted after a refused stamp


@pytest.mark.parametrize("text", list(ROUND_TRIPS))
def test_a_log_is_its_statements_plus_one_commit(chat, database, pooled_a_while, text):
    """The benchmark's log mix. BEGIN and the deadline's limits go out with the write's first
    statement, and the write's checkout of the connection the read has just returned pings
    nothing (was: plus the pre-ping, BEGIN and the limits, 6 round trips for a call). An
    event without a deal is the write's only statement: its COMMIT goes out with it
    (storage/pg_begin.py `pipelined`), so the log is two round trips; since session 16 such
    a whole transaction has no BEGIN and no COMMIT (the server commits it at its Sync). An
    event on a deal: the deal's two reads (its events, its row) go out in the insert's
    query, after it (`pipelined`): the read, the insert, the deal's UPDATE when it is
    refreshed, the COMMIT. Since session 14 the caller's workspace and user rows, read by
    the command before (it is no first contact), are guessed and checked by the write's
    first pipeline (storage/workspace_guess.py), right after the limits: one round trip
    fewer."""
    _ask(chat, "log meeting-booked acme", "first")  # the deal exists; the caller's rows read
    with RoundTrips(database.engine) as trips:
        statements = _statements(database, lambda: _ask(chat, text, f"k-{text}"))
    # no workspace read before it; an event that may only stamp its deal takes the
    # derived-rows lock first, a statement of its own in the insert's pipeline
    stamped = text.startswith("log meeting-booked") or text == "log demo-booked acme"
    locks = [s for s in statements if s.startswith("SELECT pg_advisory_xact_lock")]
    assert len(locks) == (1 if stamped else 0), statements
    if stamped:
        assert statements[0] == locks[0]
        statements = statements[1:]
    assert "WITH stored_event AS" in statements[0]
    check = [p for p in trips.parsed if workspace_guess.MISSED in p]
    assert len(check) == 1 and check[0].startswith('"kpibot_'), trips.parsed  # prepared
    # BEGIN, the limits and the insert (and the deal's reads, or the COMMIT) in one pipeline
    # of prepared statements: no simple-protocol query
    # (a refreshed deal's UPDATE goes out with the COMMIT, storage/pg_commit.py, and a
    # COMMIT with nothing before it goes out the same way, alone)
    assert trips.queries == [], trips.queries
    commits = [p for p in trips.parsed if p.endswith('"COMMIT" 0')]
    begin = [p for p in trips.parsed if "BEGIN ISOLATION LEVEL READ COMMITTED" in p]
    if text in ALONE:  # a whole transaction: no BEGIN, no COMMIT, committed at its Sync
        assert not commits and not begin, trips.parsed
        assert trips.count == len(statements)
    else:  # the deal refreshed in a transaction of SQLAlchemy's: BEGIN ... COMMIT
        assert commits and len(begin) == 1 and begin[0].startswith('"kpibot_'), trips.parsed
    if text in NEW_DEAL:  # the refused try, then the insert with the deal's reads, the
        # deal's INSERT (its id wanted), the COMMIT
        assert "the deal stamp missed" in statements[0]
        assert statements[-1].startswith("INSERT INTO deals ")
    elif text in REFRESHED:  # the insert's pipeline carries the deal's two reads; then the
        # UPDATE with the COMMIT
        assert trips.count == len(statements) - 2
        assert statements[-1].startswith("UPDATE deals SET ")
    # else the derived-rows lock rides on the insert of an event with a deal
    # (storage/rollups.py)
    assert not [s for s in statements if s.startswith("SELECT pg_advisory_xact_lock")]
    assert trips.count == trips.exchanges == ROUND_TRIPS[text], (trips.count, statements)
    assert database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": f"slack:k-{text}"})[0] == 1


@pytest.mark.parametrize("text", list(ROUND_TRIPS))
def test_a_logs_write_is_parsed_once_per_connection(chat, database, pooled_a_while, text):
    """The write's statements (BEGIN, the limits, the event's insert with its rollups, the
    deal's reads) are prepared on the connection the first time (storage/pg_begin.py
    `pipelined`): the next log of the kind on that connection sends only their Bind and
    Execute, so the server parses, analyses and plans none of them again (was: one
    simple-protocol query with the values written in, parsed and planned on every log,
    0.2-0.5 ms of the server's CPU a log)."""
    _ask(chat, "log meeting-booked acme", "first")  # the deal exists
    _ask(chat, text, f"warm-{text}")  # the same statements, met once on this connection
    _ask(chat, text, f"warm-again-{text}")  # (a deal named anew by the first: now stamped)
    with RoundTrips(database.engine, keep_pool=True) as trips:
        _ask(chat, text, f"k-{text}")
    insert = [p for p in trips.parsed if "stored_event" in p]
    queried = [q for q in trips.queries if "stored_event" in q]
    assert trips.lines and not insert and not queried, (insert, queried)
    assert not [p for p in trips.parsed if "BEGIN" in p or "set_config" in p], trips.parsed


def test_a_connection_idle_for_long_is_pinged_before_use(chat, database, monkeypatch):
    monkeypatch.setattr(pg_pool, "PING_AFTER_IDLE_S", -1.0)  # every connection: idle too long
    with RoundTrips(database.engine) as trips:
        _ask(chat, "log call 1", "pinged")
    assert trips.queries.count('";"') == 1  # the write's checkout; the read's was a new one
    assert trips.count == 3  # the read, the ping, the event with its BEGIN and COMMIT


def test_no_limit_or_autocommit_outlives_a_commands_write(chat, database, pooled_a_while):
    """The limits are the transaction's own, and the pooled connection the command wrote on
    is transactional again: an import's write on it that fails stores nothing."""
    database.engine.dispose()
    assert _ask(chat, "log call 2", "leak").ok
    # the one connection the command used, kept for the next command
    assert len(pg_pool.kept_connections(database.engine)) == 1
    pg_pool.let_go(database.engine)
    assert database.engine.pool.checkedin() == 1  # (the pool hands it out next)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
            "coalesce(current_setting('kpibot.commit_by', true), '')").one() == ("0", "0", "")
    with pytest.raises(RuntimeError), database.write() as session:  # no deadline: an import
        session.execute(sa.text("UPDATE workspaces SET name = 'changed' WHERE id = :w"),
                        {"w": WS})
        raise RuntimeError("the import fails")
    assert database.read_first(sa.text("SELECT name FROM workspaces WHERE id = :w"),
                               {"w": WS})[0] != "changed"


def test_a_writes_first_statement_runs_under_its_limits(chat, database):
    """The statement that carries BEGIN and the limits is itself limited: it waits for a
    lock no longer than the lock timeout and runs no longer than the deadline."""
    update = sa.text("UPDATE workspaces SET name = 'x' WHERE id = :w")
    with database.engine.connect() as holder:
        holder.execute(update, {"w": WS})  # holds the row's lock until the block ends
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"), \
                database.with_lock_timeout(200).write() as session:
            session.execute(update, {"w": WS})
        holder.rollback()
    with pytest.raises(sa.exc.OperationalError, match="statement timeout"), \
            database.until(time.monotonic() + 0.3).write() as session:
        session.execute(sa.text("SELECT pg_sleep(30)"))


def test_a_commands_first_statement_already_sees_its_deadline(chat, database):
    """The limits go out before the statement in the same query: a row the statement writes
    queues the server's commit check (migration 0010), which looks at `kpibot.commit_by`."""
    with database.until(time.monotonic() + 30).write() as session:
        timeout, commit_by = session.execute(sa.text(
            "SELECT current_setting('statement_timeout'), "
            "coalesce(current_setting('kpibot.commit_by', true), '')")).one()
    assert timeout not in ("0", "") and commit_by != ""


def test_the_workspace_read_is_one_round_trip(chat, database):
    with RoundTrips(database.engine) as trips:
        row = database.until(time.monotonic() + 30).read_first(
            sa.text("SELECT display_name FROM users WHERE workspace_id = :w AND id = :u"),
            {"w": WS, "u": "U1"})
    assert row == ("Ann",)
    assert trips.count == 1 and trips.queries == []


def test_a_connection_the_server_closed_is_replaced_before_use(chat, database, pooled_a_while):
    """However recently it was used: the server's goodbye on its socket has it pinged."""
    with database.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
    pid = terminate(database.engine, raw)
    reply = _ask(chat, "log call 1", "after-terminate")
    assert reply.ok and "Logged" in reply.text
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid


def test_a_read_sees_one_snapshot_across_its_statements(chat, database):
    """An answer read in several statements (counts, then the values at their ranks) must
    not mix two histories: a write committed between two statements of one read is not seen
    by the second (PostgreSQL's READ COMMITTED showed it)."""
    count = sa.text("SELECT count(*) FROM users WHERE workspace_id = :w")
    with database.read() as session:
        before = session.execute(count, {"w": WS}).scalar_one()
        with database.write() as other:
            ensure_user(session=other, workspace_id=WS, user_id="U_NEW", display_name="Nia",
                        now=NOW)
        assert session.execute(count, {"w": WS}).scalar_one() == before
    with database.read() as session:
        assert session.execute(count, {"w": WS}).scalar_one() == before + 1


def test_a_writes_first_statement_reads_its_values_back_as_bound(chat, database):
    """The values of the statement that carries BEGIN and the limits are written into its
    text (storage/plans.py `with_values`, psycopg's for other types): each reads back as the
    value bound on its own would, instants and days with their types."""
    at = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    given = {"text": "O'Brien \\ 100% -- done", "negative": -7, "none": None, "at": at,
             "day": at.date(), "ratio": -0.125, "money": Decimal("12.50"), "yes": True,
             "raw": b"\x00\x01'"}
    statement = sa.text("SELECT :text, 5 - :negative, :none, :at, :at - interval '1 day', "
                        ":day + 1, :ratio, :money, :yes, :raw, '50%'")
    with database.until(time.monotonic() + 30).write() as session:
        row = session.execute(statement, given).one()
    with database.engine.connect() as connection:  # the same, bound by psycopg
        bound = connection.execute(statement, given).one()
    assert tuple(row) == tuple(bound)
    assert row[:4] == (given["text"], 12, None, at) and row[6:9] == (-0.125, Decimal("12.50"),
                                                                     True)

@pytest.mark.parametrize("deadline", [True, False])
def test_a_read_begins_with_its_settings_in_one_round_trip(chat, database, pooled_a_while,
                                                           deadline):
    """A read transaction: BEGIN and its settings (generic plans; with a deadline, the
    statement timeout and `kpibot.commit_by`) are one round trip (storage/plans.py
    `begin_read`; psycopg's own BEGIN and the settings' statement were two), then its
    statement, then COMMIT: 3 (on a used pool: the checkout pings nothing)."""
    reading = database.until(time.monotonic() + 30) if deadline else database
    probe = sa.text("SELECT current_setting('plan_cache_mode'), "
                    "current_setting('transaction_isolation'), "
                    "current_setting('statement_timeout'), "
                    "coalesce(current_setting('kpibot.commit_by', true), '')")
    with reading.read() as session:  # the pool holds a used connection
        session.execute(sa.text("SELECT 1"))
    with RoundTrips(database.engine) as trips, reading.read() as session:
        plans_mode, isolation, timeout, commit_by = session.execute(probe).one()
    assert trips.count == 3
    assert (plans_mode, isolation) == ("force_generic_plan", "repeatable read")
    assert (timeout not in ("0", "") and commit_by != "") == deadline
    with database.engine.connect() as connection:  # nothing outlives the read
        assert connection.exec_driver_sql(
            "SELECT current_setting('plan_cache_mode')").scalar() == "auto"


_PROBE = sa.select(sa.func.current_setting("transaction_isolation"),
                   sa.func.current_setting("plan_cache_mode"),
                   sa.func.current_setting("statement_timeout"))


def _first_statement_runners():
    """Every way a read's statement reaches psycopg, each running `_PROBE` (name -> run)."""
    from storage import driver, pg_batch
    from storage.plans import CUSTOM_PLANS
    from storage.prepared import Prepared

    prepared, custom = Prepared(_PROBE), Prepared(_PROBE.execution_options(**CUSTOM_PLANS))

    def read_ahead(session):
        pg_batch.read_ahead(session.connection(), [(prepared, {}), (custom, {})])
        return prepared.rows(session.connection(), {})[0]

    return {
        "orm": lambda session: tuple(session.execute(_PROBE).one()),
        "driver sql": lambda session: tuple(session.connection().exec_driver_sql(
            "SELECT current_setting('transaction_isolation'), "
            "current_setting('plan_cache_mode'), current_setting('statement_timeout')").one()),
        "prepared": lambda session: prepared.rows(session.connection(), {})[0],
        "prepared, custom plans": lambda session: custom.rows(session.connection(), {})[0],
        "driver": lambda session: driver.run(session.connection(), _PROBE, {})[0],
        "driver, together": lambda session: driver.run_together(
            session.connection(), [(_PROBE, {}), (_PROBE, {})])[0][0],
        "read ahead": read_ahead,
    }


@pytest.mark.parametrize("runner", list(_first_statement_runners()))
def test_a_reads_first_statement_runs_in_its_transaction_whatever_runs_it(
        chat, database, pooled_a_while, runner):
    """A read's BEGIN and settings go out with its first statement (storage/plans.py
    `begin_read`): in the pipeline of a `Prepared` statement or of statements read ahead (2
    round trips with COMMIT, where BEGIN was one of its own), before anything else. Whatever
    runs the first statement, it runs inside the REPEATABLE READ transaction with the read's
    settings, and nothing outlives the read."""
    run = _first_statement_runners()[runner]
    reading = database.until(time.monotonic() + 30)
    with reading.read() as session:  # the pool holds a used connection, statements prepared
        for _ in range(6):
            run(session)
    with RoundTrips(database.engine) as trips, reading.read() as session:
        isolation, plans_mode, timeout = run(session)
    assert (isolation, plans_mode) == ("repeatable read", "force_generic_plan")
    assert timeout not in ("0", "")
    pipelined = runner in ("prepared", "read ahead")
    assert trips.count == (2 if pipelined else 3)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        assert connection.exec_driver_sql(  # nothing outlives the read
            "SELECT current_setting('plan_cache_mode')").scalar() == "auto"


def test_a_read_that_runs_no_statement_sends_nothing_and_leaves_nothing(chat, database,
                                                                        pooled_a_while):
    """A read that ends, or fails, before its first statement began nothing: no round trip,
    and the next user of the pooled connection runs outside any transaction."""
    reading = database.until(time.monotonic() + 30)
    with reading.read() as session:
        session.execute(sa.text("SELECT 1"))
    with RoundTrips(database.engine) as trips, reading.read():
        pass
    assert trips.count == 0
    with pytest.raises(LookupError), reading.read() as session:
        session.connection()
        raise LookupError("before any statement")
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        assert connection.exec_driver_sql(
            "SELECT current_setting('transaction_isolation')").scalar() == "read committed"
        raw = connection.connection.driver_connection
        assert raw.info.transaction_status == raw.info.transaction_status.IDLE


def test_the_funnels_independent_statements_go_in_one_round_trip(chat, database,
                                                                 pooled_a_while, monkeypatch):
    """`/kpi funnel`: the counts, the history version, the unsettled months' stage-time
    histograms, the names, and the open and idle deals for the stalled thresholds of the
    history version read last depend on nothing read before them and go out together
    (storage/pg_batch.py), after the read's BEGIN and settings (storage/plans.py
    `begin_read`); the deals counted since the last hour are read as rows, which give both
    their histogram and their values at the medians' ranks (storage/stage_durations.py
    `_recent_rows`; before session 13 the values were a round trip of their own, after the
    histograms); and since these are then all of the read's statements, its COMMIT goes with
    them (storage/plans.py `commit_ahead`): the workspace read and that pipeline — 2 round
    trips (main before session 13: 4; 8 one statement at a time). Since session 14 the
    caller's rows, read by an earlier command, are guessed and checked in that pipeline,
    right after the read's settings (storage/workspace_guess.py): 1 round trip. Every
    statement still runs, once, nothing is rolled back, and the answer is the same as without
    reading ahead."""
    for i in range(6):  # some deals, days in their stages, some of them stalled
        for stage, day in (("lead", 1 + i), ("mql", 9 + i), ("sql", 16)):
            assert _ask(chat, f"log {stage} deal{i} on 2026-11-{day:02}", f"f{i}{stage}").ok
    for _ in range(6):  # psycopg prepares at a statement's fifth run
        _ask(chat, "funnel this-quarter")
    with RoundTrips(database.engine) as trips:
        statements = _statements(database, lambda: _ask(chat, "funnel this-quarter"))
        ahead = _ask(chat, "funnel this-quarter")
    reads = [s for s in statements if s.startswith("SELECT") and "set_config(" not in s]
    assert trips.count == trips.exchanges == 2 * 1
    assert len(reads) == len(set(reads)) == 6, "\n".join(reads)  # no workspace read
    opening = [s for s in statements if "set_config(" in s]  # BEGIN, settings, the check
    assert len(opening) == 1 and workspace_guess.MISSED in opening[0], opening
    assert statements[-1] == "COMMIT"  # in the pipeline, after the reads
    assert not any("ROLLBACK" in line for line in trips.lines)
    from storage.facts import SqlFacts

    monkeypatch.setattr(SqlFacts, "read_ahead_funnel", lambda *args, **kwargs: None)
    with RoundTrips(database.engine) as trips:
        alone = _ask(chat, "funnel this-quarter")
    assert trips.count == 7  # (the first statement takes the BEGIN and the check along)
    assert alone.ok and alone == ahead


def test_the_funnels_statements_read_ahead_are_parsed_once_per_connection(
        chat, database, pooled_a_while):
    """The funnel's statements read ahead (storage/pg_batch.py), and the read's BEGIN and
    settings before them (the deadline as a parameter, storage/plans.py `SETTINGS_BOUND`; it
    was written into the text, a new statement for the server on every read), are prepared
    by name on the connection the first time they go out (storage/pg_pipeline.py
    `send_numbered`): once they have gone out on a connection, the server gets only their
    Bind and Execute (main before session 14: psycopg's pipeline, a cursor per statement,
    which prepares a statement at its fifth run: the third funnel parsed every one of them
    again)."""
    for i in range(3):
        for stage, day in (("lead", 1 + i), ("mql", 9 + i)):
            assert _ask(chat, f"log {stage} deal{i} on 2026-11-{day:02}", f"p{i}{stage}").ok
    _ask(chat, "funnel this-quarter")  # (the stalled thresholds' guess made: storage/facts.py)
    first = _ask(chat, "funnel this-quarter")
    with RoundTrips(database.engine, keep_pool=True) as trips:
        second = _ask(chat, "funnel this-quarter")
    read = [p for p in trips.parsed
            if "deal_counts" in p or "open_deal_stages" in p or "display_name" in p]
    assert trips.lines and not read, read
    opening = [p for p in trips.parsed if "BEGIN" in p or "set_config" in p]
    assert not opening, opening  # the read's BEGIN and settings too (the deadline bound)
    named = [b for b in trips.by_name if "kpibot_" in b]
    assert len(named) >= 3, trips.by_name  # the counts, the open deals, the names at least
    assert second == first


def test_a_funnel_whose_guess_misses_reads_again_in_one_snapshot(chat, database,
                                                                 pooled_a_while, monkeypatch):
    """The COMMIT goes out with the funnel's statements read ahead when they are likely all
    of them (the stalled thresholds and the settled histograms of the history version read
    last). A backdated log moves the version: the guess is wrong, the first statement that
    was not read ahead raises `plans.ReadAgain` before anything is sent, and the funnel
    reads again in a new transaction with nothing committed ahead. The answer is the one a
    read without reading ahead gives; the next funnel is 2 round trips again."""
    from storage import plans
    from storage.facts import SqlFacts

    for i in range(6):
        for stage, day in (("lead", 1 + i), ("mql", 9 + i), ("sql", 16)):
            assert _ask(chat, f"log {stage} deal{i} on 2026-11-{day:02}", f"g{i}{stage}").ok
    for _ in range(6):
        _ask(chat, "funnel this-quarter")
    assert _ask(chat, "log mql deal0 on 2026-11-05", "moved").ok  # before the settle
    # (the log moved the workspace's history version: the caller's rows read again, so that
    # the funnel's guess of them is right and what misses is the read's own guess)
    assert _ask(chat, "me").ok
    misses: list[bool] = []
    read_again = plans.ReadAgain.__init__

    def counted(self, *args) -> None:
        misses.append(True)
        read_again(self, *args)

    monkeypatch.setattr(plans.ReadAgain, "__init__", counted)
    with RoundTrips(database.engine) as trips:
        missed = _ask(chat, "funnel this-quarter")
    assert misses == [True]
    assert trips.count > 2 and not any("ROLLBACK" in line for line in trips.lines)
    with RoundTrips(database.engine) as trips:
        again = _ask(chat, "funnel this-quarter")
    assert trips.count == 1 and misses == [True]
    with monkeypatch.context() as alone:
        alone.setattr(SqlFacts, "read_ahead_funnel", lambda *args, **kwargs: None)
        expected = _ask(chat, "funnel this-quarter")
    assert missed.ok and missed == again == expected


def test_a_statement_after_a_commit_ahead_is_not_sent(chat, database, pooled_a_while):
    """After `read_ahead(..., commit=True)` (storage/pg_batch.py) the read's rows read ahead
    are handed out, and any other statement raises `plans.ReadAgain` without a round trip,
    whatever runs it; the read ends with nothing more sent, and the pooled connection is
    left outside any transaction, out of autocommit."""
    from storage import pg_batch, plans
    from storage.prepared import Prepared

    ahead, other = Prepared(sa.select(sa.literal(1))), Prepared(sa.select(sa.literal(2)))
    reading = database.until(time.monotonic() + 30)
    with reading.read() as session:
        session.execute(sa.text("SELECT 1"))
    for run in (lambda session: other.rows(session.connection(), {}),
                lambda session: session.execute(sa.text("SELECT 3")),
                lambda session: session.connection().exec_driver_sql("SELECT 4")):
        with RoundTrips(database.engine) as trips, reading.read() as session:
            assert pg_batch.read_ahead(session.connection(), [(ahead, {})], commit=True)
            assert ahead.rows(session.connection(), {}) == [(1,)]
            with pytest.raises(plans.ReadAgain):
                run(session)
        assert trips.count == 1 and sum("COMMIT" in line for line in trips.lines
                                        if line.startswith("F\t")) == 1
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw.autocommit is False
        assert raw.info.transaction_status == raw.info.transaction_status.IDLE
        assert connection.execute(sa.text("SELECT 5")).scalar() == 5
