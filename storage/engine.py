"""Engine and session setup for SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite gets WAL, foreign keys, a busy timeout, and `BEGIN IMMEDIATE` for write transactions so
that concurrent writers queue on the lock instead of failing on upgrade.

Deadlines. `database.until(deadline)` (a `time.monotonic()` instant) is the same database for
one chat command: every transaction gets what is left of the budget as its PostgreSQL
`statement_timeout` and `lock_timeout` (SQLite: busy timeout and the writers' turn), and a
write transaction whose deadline has passed when it is about to commit is rolled back instead
(DeadlinePassed). Nothing commits after the deadline, so a command can be answered "nothing was
stored" at the deadline and be right.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from storage import commit_watch, driver, pg_begin, pg_pool, plans

_writer_locks: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()
_writer_locks_guard = threading.Lock()

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_READ_BUSY_MIN_MS = 1_000  # a read raises a shorter busy timeout back to the default
_BUSY_STEP_MS = 100  # a write's busy timeout is rounded down to whole steps of this
_WRITE = "kpibot_write"
_LOCK_TIMEOUT = "kpibot_lock_timeout_ms"
_ONE_STATEMENT = "kpibot_one_statement"  # SQLite: no BEGIN (see Database.read_first)


def build_engine(url: str, *, echo: bool = False, pool_size: int = 10,
                 wal_autocheckpoint: int | None = None) -> sa.Engine:
    """An engine for `url` with the connection settings kpibot relies on. SQLite:
    `wal_autocheckpoint` pages in the WAL make a commit checkpoint (None: SQLite's 1,000;
    `kpibot serve` raises it and checkpoints on a thread, storage/checkpoints.py)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=20,
            # Last in, first out: the connection just returned is the next one handed out, so
            # a quiet moment uses one connection and a burst only as many as it needs. Each
            # SQLite connection keeps its own page cache (up to 2 MB): first in, first out
            # cycled through all ten pooled connections and filled every cache (the digest
            # fan-out's server memory).
            pool_use_lifo=True,
        )
        _configure_sqlite(engine, wal_autocheckpoint)
        return engine
    engine = sa.create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=20,
        # Last in, first out: a command's write gets the connection its workspace read has
        # just handed back, which needs no ping (storage/pg_pool.py).
        pool_use_lifo=True,
        connect_args={"connect_timeout": 5},
    )
    if engine.dialect.name == "postgresql":
        pg_pool.install(engine)  # pings a connection that may have gone bad, not every one
        pg_begin.install(engine)  # a limited write's BEGIN and limits ride on its statement
        plans.configure(engine)  # reads keep their plans; some statements carry their values
        from storage import pg_pipeline  # (psycopg's modules: PostgreSQL only)

        pg_pipeline.install(engine)  # a write's statements prepared, forgotten at a rollback
        from storage import pg_commit

        pg_commit.install(engine)  # a write's last statement sent with its COMMIT
    return engine


def _configure_sqlite(engine: sa.Engine, wal_autocheckpoint: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transaction control away from the sqlite3 module; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if wal_autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        options = connection.get_execution_options()
        write = options.get(_WRITE, False)
        busy_ms = int(options.get(_LOCK_TIMEOUT) or SQLITE_BUSY_TIMEOUT_MS)
        if busy_ms > _BUSY_STEP_MS:  # whole steps, never more than allowed
            busy_ms -= busy_ms % _BUSY_STEP_MS
        info = connection.connection.info  # lives as long as the SQLite connection
        current = info.get(_LOCK_TIMEOUT, SQLITE_BUSY_TIMEOUT_MS)
        # A read in WAL mode waits on no writer, so it keeps whatever timeout the connection
        # has (unless a short one was left behind). A write keeps it while it is no longer than
        # the wait allowed and at least half of it: a chat command's deadline leaves a slightly
        # different budget each time (1,997 ms, 1,993 ms, ...; 1,900 ms in whole steps), and
        # setting it anew would cost a statement per command for a difference of milliseconds.
        if write:
            switch = current > busy_ms or current < busy_ms // 2
        else:
            switch = current < SQLITE_READ_BUSY_MIN_MS and current != busy_ms
        if switch:
            driver.execute_sql(connection, f"PRAGMA busy_timeout={busy_ms}")
            info[_LOCK_TIMEOUT] = busy_ms
        if not options.get(_ONE_STATEMENT):
            driver.execute_sql(connection, "BEGIN IMMEDIATE" if write else "BEGIN")


def _write_bind(engine: sa.Engine, lock_ms: int | None) -> sa.Engine:
    """The engine with the write options (and SQLite's busy timeout in whole steps, as
    `_on_begin` sets it), one per engine and step: making one per transaction cost a tenth
    of an empty write transaction."""
    if lock_ms and lock_ms > _BUSY_STEP_MS:
        lock_ms -= lock_ms % _BUSY_STEP_MS
    with _writer_locks_guard:
        # on the engine itself: a weak-keyed table would keep it alive through its bind
        binds = engine.__dict__.setdefault("_kpibot_write_binds", {})
        bind = binds.get(lock_ms)
        if bind is None:
            options: dict[str, object] = {_WRITE: True}
            if lock_ms:
                options[_LOCK_TIMEOUT] = lock_ms
                if engine.dialect.name == "postgresql":  # psycopg sends no BEGIN of its own
                    options["isolation_level"] = "AUTOCOMMIT"  # (storage/pg_begin.py)
            bind = binds[lock_ms] = engine.execution_options(**options)
    return bind


_LIMITS = sa.text(
    "SELECT set_config('statement_timeout', :statement, true), "
    "set_config('lock_timeout', :lock, true), "
    "set_config('kpibot.commit_by', CASE WHEN :commit_by = 0 THEN '' ELSE CAST("
    "clock_timestamp() + make_interval(secs => :commit_by / 1000.0) AS text) END, true)")


class DeadlinePassed(Exception):
    """The command's deadline passed before its transaction could commit; it was rolled back."""


@dataclass(frozen=True)
class Database:
    """The engine plus the two ways to use it: short read sessions and write transactions."""

    engine: sa.Engine
    # Write transactions give up waiting for a lock after this long (None: SQLite's busy
    # timeout, no limit on PostgreSQL); see with_lock_timeout.
    lock_timeout_ms: int | None = None
    deadline: float | None = None  # time.monotonic() instant; see `until`
    # PostgreSQL, one command's: the server's clock as its workspace read saw it, and when that
    # answer was back (time.monotonic()); see `note_server_clock`
    server_clock: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    # PostgreSQL, one command's: the check of its guessed workspace and user rows, sent by its
    # first transaction (storage/workspace_guess.py); see `checking`
    workspace_check: object | None = dataclasses.field(default=None, compare=False, repr=False)

    def until(self, deadline: float | None) -> Database:
        """The same engine for one command that must be done by `deadline` (monotonic): each
        statement and lock wait is limited to what is left, and nothing commits after it."""
        return dataclasses.replace(self, deadline=deadline, server_clock={})

    def checking(self, check: object, clock: tuple | None) -> Database:
        """The same engine for one command answered from a guess of its workspace and user rows
        (storage/workspace_guess.py): its first transaction sends `check` right after its BEGIN
        and settings (`read`, `write`, `write_one`, storage/pg_light.py); `clock`, the engine's
        last server clock (`workspace_guess.server_clock`), stands for the workspace read's
        (`note_server_clock`)."""
        return dataclasses.replace(self, workspace_check=check,
                                   server_clock={} if clock is None else {"at": clock})

    def note_server_clock(self, server_now: datetime, answered: float) -> None:
        """PostgreSQL: the server's `statement_timestamp()` of a statement of this command
        whose answer was back at `answered` (monotonic). The server read that statement before
        it answered, so its clock at `answered` was at least `server_now`: `server_now` plus
        what was left of the deadline at `answered` is an instant on the server's clock no
        later than the deadline, whenever a later query reaches the server (`write_one`)."""
        self.server_clock["at"] = (server_now, answered)

    def _write_lock_ms(self) -> int | None:
        """A write's lock timeout: the shorter of `lock_timeout_ms` and what is left of the
        deadline (None: neither); DeadlinePassed at 0."""
        left = self.remaining_ms()
        limits = [ms for ms in (self.lock_timeout_ms, left) if ms]
        return min(limits) if limits else None

    def remaining_ms(self) -> int | None:
        """Milliseconds left before the deadline (None: no deadline); DeadlinePassed at 0."""
        if self.deadline is None:
            return None
        left = int((self.deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise DeadlinePassed("the command's deadline has passed")
        return left

    def _limit(self, session: Session, lock_ms: int | None) -> None:
        """PostgreSQL: this transaction's statement and lock timeouts, and `kpibot.commit_by`,
        the server-clock instant after which its COMMIT is refused by the server itself
        (migration 0010), so that a COMMIT in flight when the server froze cannot take effect
        after the deadline. One round trip."""
        statement_ms = self.remaining_ms()
        if self.dialect != "postgresql" or (statement_ms is None and lock_ms is None):
            return
        session.execute(_LIMITS, {"statement": str(statement_ms or 0), "lock": str(lock_ms or 0),
                                  "commit_by": statement_ms or 0})

    def with_lock_timeout(self, milliseconds: int) -> Database:
        """The same engine, with writes that fail (OperationalError, rolled back) instead of
        waiting longer than `milliseconds` for a lock: a chat command must be answered within
        Slack's 3 s, not stored after its answer has timed out."""
        return dataclasses.replace(self, lock_timeout_ms=milliseconds)

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> Database:
        return cls(build_engine(url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction: every statement in it sees one snapshot of the database.
        SQLite's transactions do; PostgreSQL's READ COMMITTED gives each statement its own,
        so an answer read in several statements (a percentile: the histogram's counts, then
        the values at the ranks they give) could mix two histories, so there reads run at
        REPEATABLE READ (a read-only transaction never fails to serialize), with generic
        plans, ending with COMMIT, which keeps the connection's prepared statements
        (storage/plans.py)."""
        with Session(self.read_bind(), expire_on_commit=False) as session:
            if self.dialect == "postgresql":  # BEGIN and the settings: with the first statement
                plans.begin_read(session.connection(), self.remaining_ms, self.workspace_check)
            elif self.deadline is not None:
                self._limit(session, None)
            yield session
            if self.dialect == "postgresql":
                plans.end_read(session)

    def read_bind(self) -> sa.Engine:
        """The engine a read's session is bound to: PostgreSQL's in psycopg's autocommit
        mode (psycopg sends no BEGIN of its own: plans.begin_read), one per engine; what a
        process remembers of reads is kept per this engine (storage/stage_durations.py), so
        a read without a Session gives it too (storage/pg_light.py)."""
        if self.dialect != "postgresql":
            return self.engine
        bind = self.engine.__dict__.get("_kpibot_snapshot_reads")
        if bind is None:
            bind = self.engine.__dict__["_kpibot_snapshot_reads"] = \
                self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return bind

    def read_first(self, statement: sa.Executable, params: dict) -> tuple | None:
        """The first row of one read statement (every command's workspace read), on a pooled
        connection with no Session and no transaction, since one statement outside a
        transaction reads one snapshot by itself. SQLite: no BEGIN, and the statement runs on
        the driver (storage/driver.py; the two were a fifth of a `/kpi log`'s CPU).
        PostgreSQL: autocommit, one round trip instead of four (BEGIN, the deadline's limits,
        the statement, ROLLBACK); the statement gets no timeout of its own: a read waits on no
        row lock, and nothing the command writes afterwards commits past the deadline
        (`write`); it runs on a pooled connection without SQLAlchemy's Connection
        (storage/pg_driver.py `run_pooled`)."""
        self.remaining_ms()  # past the deadline nothing starts
        if self.dialect == "postgresql":  # without SQLAlchemy's Connection (pg_driver)
            from storage import pg_driver

            rows = pg_driver.run_pooled(self.engine, statement, params)
            return rows[0] if rows else None
        with self._one_statement_bind().connect() as connection:
            rows = driver.run(connection, statement, params)
        return rows[0] if rows else None

    def write_one(self, statement: sa.Executable, params: dict, *,
                  first: tuple[sa.Executable, dict] | None = None) -> list[tuple]:
        """The rows of one write statement run as a transaction of its own (a `/kpi log`
        whose event needs no upkeep after its insert); `first`: a statement (and its
        parameters) run before it in the same transaction, whose rows are not wanted (a lock:
        the statement's snapshot is then taken under it). PostgreSQL under a deadline or lock
        timeout (a chat command): the limits `write` sets and the statement go out as one
        pipeline that the server commits at its Sync (no BEGIN, no COMMIT), in one round
        trip, on a pooled connection with no Session (storage/pg_begin.py `pipelined`). All
        of it commits or none of it: the server stops at the first error, a timeout included,
        and refuses a commit past the deadline (`kpibot.commit_by`, migration 0010), as it
        does `write`'s; a deadline already passed raises DeadlinePassed before anything is
        sent. The commit
        is not gated by the bot's own deadline check, so `kpibot.commit_by` must not be
        counted from when the server runs the query (a server frozen before it read the query
        would count from its thaw): it is also bounded by the instant the command's workspace
        read gives (`note_server_clock`); a command without one runs `write`. Elsewhere: a
        `write` transaction with the statement on the driver."""
        lock_ms = self._write_lock_ms()
        anchor = self.server_clock.get("at")
        if lock_ms is None or self.dialect != "postgresql" or (
                self.deadline is not None and anchor is None):
            with self.write() as session:  # (COMMIT after the deadline is checked here)
                if first is not None:
                    driver.run(session.connection(), *first)
                return driver.run(session.connection(), statement, params)
        from storage import pg_driver  # (psycopg's modules: PostgreSQL only)

        return pg_driver.run_pooled(self.engine, statement, params,
                                    alone=(self.deadline, lock_ms, self._server_commit_by(),
                                           self.workspace_check), first=first)

    def _server_commit_by(self) -> datetime | None:
        """An instant on the server's clock no later than the deadline, from the command's
        workspace read (`note_server_clock`); None without a deadline or that read."""
        anchor = self.server_clock.get("at")
        if self.deadline is None or anchor is None:
            return None
        return anchor[0] + timedelta(seconds=self.deadline - anchor[1])

    def _one_statement_bind(self) -> sa.Engine:
        """The engine for one statement outside a transaction block: PostgreSQL's autocommit,
        SQLite's no BEGIN (`read_first`, `write_one`)."""
        bind = self.engine.__dict__.get("_kpibot_one_statement")
        if bind is None:
            options = ({_ONE_STATEMENT: True} if self.dialect == "sqlite"
                       else {"isolation_level": "AUTOCOMMIT"})
            bind = self.engine.__dict__["_kpibot_one_statement"] = self.engine.execution_options(
                **options)
        return bind

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction: committed on success, rolled back on any error, and
        rolled back (DeadlinePassed) when the deadline has passed by the time it would commit.
        PostgreSQL, under a deadline or lock timeout: BEGIN and the limits (`_limit`'s) go out
        with the transaction's first statement, in its round trip (storage/pg_begin.py), and
        `kpibot.commit_by` is also bounded by the command's workspace read's server clock
        (`note_server_clock`, as `write_one`'s): a COMMIT the server runs late is refused
        past the deadline, however late it ran the first statement."""
        lock_ms = self._write_lock_ms()
        bind = _write_bind(self.engine, lock_ms)
        if lock_ms is None or self.dialect != "postgresql":
            with self._sqlite_writer_turn(lock_ms), \
                    Session(bind, expire_on_commit=False) as session, \
                    session.begin() as transaction:
                yield session
                with commit_watch.committing():  # (from the deadline's check on)
                    self.remaining_ms()  # raises DeadlinePassed past the deadline: rolled back
                    if transaction.is_active:  # (not rolled back inside the block)
                        transaction.commit()
            return
        yield from self._limited_pg_write(bind, lock_ms)

    def _limited_pg_write(self, bind: sa.Engine, lock_ms: int) -> Iterator[Session]:
        """`write` on PostgreSQL under a deadline or lock timeout: BEGIN and the limits go out
        with the first statement (storage/pg_begin.py), a deal's last UPDATE with the COMMIT
        (storage/pg_commit.py). A COMMIT the server confirmed stands even if the connection
        broke after it (then SQLAlchemy's own commit, finding the connection closed, fails,
        and that failure is not the write's)."""
        from storage import pg_commit  # (psycopg's modules: PostgreSQL only)
        from storage.commit_unknown import CommitOutcomeUnknown

        committed, unknown = False, None
        try:
            with Session(bind, expire_on_commit=False) as session, session.begin():
                connection = session.connection()
                opened = pg_begin.begin_with_next_statement(
                    connection, self.deadline, lock_ms, self._server_commit_by(),
                    self.workspace_check)
                pg_commit.commits_here(connection)
                try:
                    yield session
                    session.flush()  # (what the ORM still holds goes in this transaction)
                    self.remaining_ms()  # raises DeadlinePassed past the deadline: rolled back
                    try:
                        committed = pg_commit.commit_held(connection)
                    except CommitOutcomeUnknown as error:  # (not hidden by the rollback's
                        unknown = error  # failure on the broken connection, below)
                        raise
                finally:
                    pg_begin.forget_pending(opened)
                    pg_commit.done(opened)
        except sa.exc.DBAPIError:
            if unknown is not None:
                raise unknown from None
            if not committed:
                raise

    @contextmanager
    def _sqlite_writer_turn(self, lock_ms: int | None) -> Iterator[None]:
        """SQLite: this process's writers take turns on a lock before BEGIN IMMEDIATE.

        SQLite's busy handler polls with growing sleeps, so under many concurrent writers one
        can wait seconds while others keep taking the lock (p99 1.3 s, max 2 s with 16
        clients); a thread lock hands over at once. Other processes still meet the busy timeout.
        """
        if self.dialect != "sqlite":
            yield
            return
        lock = writer_turn(self.engine)
        timeout = (lock_ms or SQLITE_BUSY_TIMEOUT_MS) / 1000
        if not lock.acquire(timeout=timeout):
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None,
                                          sqlite3.OperationalError("database is locked"))
        try:
            yield
        finally:
            lock.release()

    def ping(self) -> bool:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def writer_turn(engine: sa.Engine) -> threading.RLock:
    """SQLite: the lock this process's writers on `engine` take before BEGIN IMMEDIATE
    (`Database.write`; the WAL checkpointer's writes too, storage/checkpoints.py)."""
    with _writer_locks_guard:
        return _writer_locks.setdefault(engine, threading.RLock())


BUSY_TIMEOUT_INFO = _LOCK_TIMEOUT  # a pooled connection's busy timeout, as _on_begin keeps it


def dialect_insert(dialect: str):
    """`insert` of the dialect named (`postgresql` or `sqlite`), for its ON CONFLICT clauses.
    Imported when first asked: the PostgreSQL dialect's modules were ~4% of `kpibot kpi NAME
    --json` on SQLite (tests/bot/test_startup_imports.py)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
