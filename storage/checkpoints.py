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

CLI commands and tests keep SQLite's default (checkpoint in the commit at 1,000 pages).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

import sqlalchemy as sa

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


class WalCheckpointer:
    """A daemon thread checkpointing `engine` every `interval` seconds until `stop()`, which
    runs a last checkpoint. A no-op for a database that is not SQLite."""

    def __init__(self, engine: sa.Engine, *, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.engine = engine
        self.interval = interval
        self.checkpoints = 0  # checkpoints this thread (and stop) ran
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def applies(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def start(self) -> WalCheckpointer:
        if self.applies and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kpibot-wal-checkpoint",
                                            daemon=True)
            self._thread.start()
        return self

    def checkpoint(self) -> Checkpoint | None:
        """One PASSIVE checkpoint (what each tick runs); None when it failed (logged)."""
        try:
            result = wal_checkpoint(self.engine)
        except (sa.exc.DBAPIError, sqlite3.Error):  # the next tick tries again
            log.warning("WAL checkpoint failed", exc_info=True)
            return None
        self.checkpoints += 1
        return result

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.checkpoint()

    def stop(self) -> Checkpoint | None:
        """Stop the thread and checkpoint once more (the server is shutting down)."""
        if self._thread is None:
            return None
        self._stopping.set()
        self._thread.join()
        self._thread = None
        return self.checkpoint()

    def __enter__(self) -> WalCheckpointer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
