"""SQLite's WAL checkpoints on a background thread, off the request path (`kpibot serve`).

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
database file. By default SQLite checkpoints inside the commit that takes the WAL past 1,000
pages: with a `/kpi log` writing about ten pages, one command in a hundred waited ~10 ms for
it (the log's p99). The server's request connections raise that threshold to a high-water
mark (`SERVE_AUTOCHECKPOINT_PAGES`, see `build_engine`) and a `WalCheckpointer` thread runs a
PASSIVE checkpoint every `interval` seconds on a connection of its own: PASSIVE never waits
for a lock and never blocks a writer or a reader, and one with nothing to copy costs about
10 µs. Python's sqlite3 releases the interpreter lock while SQLite works.

Bounds. When the thread is starved (or stopped), the WAL does not grow without limit: the
request connections still checkpoint in their commit once it passes the high-water mark.
With `kpibot serve --workers N` each worker runs its own thread; checkpoints from several
processes are harmless (SQLite lets one at a time copy; a PASSIVE one that finds another
running reports busy and the next tick tries again). A commit is durable once in the WAL:
a crash between commit and checkpoint loses nothing (SQLite replays the WAL on the next open).

Starting the WAL over. Once a checkpoint has copied every frame, the next writer starts the
WAL from its beginning, and that writer syncs the WAL's new header (`fdatasync`, the one sync
a commit makes with `synchronous=NORMAL`): 0.2 ms on an idle disk, 5-20 ms when other
processes keep it busy, in whichever command wrote first after a checkpoint, about one log
in six in the benchmark (its p90-p99). So after a checkpoint that copied everything, the
thread starts the WAL over itself: it writes one unchanged page (the database's
`user_version`, which kpibot does not use, set to what it is) under this process's writer
turn, never waiting for it (a command writing: the next tick tries again), and pays that
sync. The commands that follow append to a WAL that has frames, with no header to write.
A WAL holding only such a page (one frame) is not started over again, so an idle server
writes nothing. With `--workers N` another worker's checkpoint may copy that page before a
command writes: that command starts the WAL over, as without this.

Leaving that page alone. A checkpoint that copied the thread's own page made the WAL wholly
copied again, so the next command started it over and synced its header after all: whenever
no command wrote for a tick (0.25 s) after the thread started it over, as between the
benchmark's logs (about one log in four at 1M events, 7-24 ms each under load). So the thread
works on a connection of its own (out of the pool) and asks it `PRAGMA data_version`, which
moves only when another connection (of this or another process) commits: unchanged since a
checkpoint that copied everything, there is nothing to copy and the tick does nothing.

CLI commands and tests keep SQLite's default (checkpoint in the commit at 1,000 pages).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.engine import BUSY_TIMEOUT_INFO, SQLITE_BUSY_TIMEOUT_MS, writer_turn

log = logging.getLogger(__name__)

# The request connections' own checkpoint threshold in `kpibot serve` (pages of 4 KiB: 40 MiB):
# reached only when the background thread has not kept up for a while.
SERVE_AUTOCHECKPOINT_PAGES = 10_000
CHECKPOINT_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Checkpoint:
    """One `PRAGMA wal_checkpoint(PASSIVE)`: whether another checkpoint held the lock, the
    WAL's frames, and how many of them are now in the database file."""

    busy: bool
    wal_frames: int
    checkpointed: int


def wal_checkpoint(engine: sa.Engine, mode: str = "PASSIVE") -> Checkpoint:
    """Checkpoint `engine`'s SQLite database now, on a connection outside any transaction."""
    if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
        raise ValueError(f"unknown checkpoint mode {mode!r}")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()  # isolation_level None (build_engine): no BEGIN around it
        busy, frames, done = cursor.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        cursor.close()
    finally:
        raw.close()
    return Checkpoint(busy=bool(busy), wal_frames=frames, checkpointed=done)


def start_wal_over(engine: sa.Engine, sqlite: sqlite3.Connection | None = None) -> bool:
    """Make this thread the WAL's next writer: one unchanged page in a write transaction,
    so a checkpointed WAL starts over here and not in a command's commit (see above), on
    `sqlite` (the checkpointer's own connection, whose busy timeout is 0) or a pooled one.
    False when a writer of this or another process had the lock (nothing was waited for)."""
    turn = writer_turn(engine)
    if not turn.acquire(blocking=False):
        return False
    try:
        if sqlite is not None:
            return _write_unchanged_page(sqlite)
        raw = engine.raw_connection()
        try:
            pooled = raw.driver_connection
            pooled.execute("PRAGMA busy_timeout=0")  # another process writing: not now
            return _write_unchanged_page(pooled)
        finally:  # the pooled connection's own busy timeout back (as storage.engine keeps it)
            pooled.execute("PRAGMA busy_timeout="
                           f"{int(raw.info.get(BUSY_TIMEOUT_INFO, SQLITE_BUSY_TIMEOUT_MS))}")
            raw.close()
    finally:
        turn.release()


def _write_unchanged_page(sqlite: sqlite3.Connection) -> bool:
    try:
        sqlite.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:  # busy
        return False
    try:
        (version,) = sqlite.execute("PRAGMA user_version").fetchone()
        sqlite.execute(f"PRAGMA user_version={int(version)}")
        sqlite.execute("COMMIT")
    except BaseException:
        sqlite.execute("ROLLBACK")
        raise
    return True


class WalCheckpointer:
    """A daemon thread checkpointing `engine` every `interval` seconds until `stop()`, which
    runs a last checkpoint. A no-op for a database that is not SQLite."""

    def __init__(self, engine: sa.Engine, *, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.engine = engine
        self.interval = interval
        self.checkpoints = 0  # checkpoints this thread (and stop) ran
        self.starts_over = 0  # times it started the WAL over (start_wal_over)
        self.idle = 0  # ticks with nothing committed since a checkpoint copied everything
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None  # its own SQLite connection, out of the pool
        self._copied_at: int | None = None  # data_version when a checkpoint copied everything

    @property
    def applies(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def start(self) -> WalCheckpointer:
        if self.applies and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kpibot-wal-checkpoint",
                                            daemon=True)
            self._thread.start()
        return self

    def checkpoint(self, *, start_over: bool = True) -> Checkpoint | None:
        """What each tick runs: nothing when no other connection has committed since a
        checkpoint copied everything (None, counted in `idle`); else one PASSIVE checkpoint,
        then, when it copied everything, the WAL started over (`start_wal_over`). None also
        when it failed (logged)."""
        try:
            sqlite = self._own_connection()
            (version,) = sqlite.execute("PRAGMA data_version").fetchone()
            if start_over and version == self._copied_at:
                self.idle += 1
                return None
            busy, frames, done = sqlite.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            result = Checkpoint(busy=bool(busy), wal_frames=frames, checkpointed=done)
            copied = not result.busy and result.checkpointed == result.wal_frames
            if start_over and copied and result.wal_frames > 1:
                started = start_wal_over(self.engine, sqlite)
                self.starts_over += started
                copied = started  # else the next tick tries again
            # Read before the checkpoint: a commit since then is seen by the next tick.
            self._copied_at = version if copied else None
        except (sa.exc.DBAPIError, sqlite3.Error):  # the next tick tries again
            log.warning("WAL checkpoint failed", exc_info=True)
            self._close_connection()
            return None
        self.checkpoints += 1
        return result

    def _own_connection(self) -> sqlite3.Connection:
        """The thread's SQLite connection, made by the engine (its settings) and detached
        from the pool: `data_version` is a property of one connection, and its own commits
        (starting the WAL over) do not move it. Busy timeout 0: it never waits."""
        if self._connection is None:
            raw = self.engine.raw_connection()
            raw.detach()  # closed by `_close_connection`, never returned to the pool
            raw.dbapi_connection.execute("PRAGMA busy_timeout=0")
            self._connection = raw
        return self._connection.dbapi_connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._copied_at = None

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.checkpoint()

    def stop(self) -> Checkpoint | None:
        """Stop the thread and checkpoint once more (the server is shutting down)."""
        if self._thread is None:
            self._close_connection()
            return None
        self._stopping.set()
        self._thread.join()
        self._thread = None
        try:
            return self.checkpoint(start_over=False)  # the WAL left empty behind
        finally:
            self._close_connection()

    def __enter__(self) -> WalCheckpointer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
