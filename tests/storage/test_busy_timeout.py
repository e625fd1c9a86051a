"""SQLite: a chat command's reads and writes do not switch the busy timeout back and forth."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

from storage.engine import SQLITE_BUSY_TIMEOUT_MS, Database


def _busy_pragmas(database: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("PRAGMA busy_timeout"):
            seen.append(statement)

    return seen


def _busy_now(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.exec_driver_sql("PRAGMA busy_timeout").scalar()


def test_reads_between_command_writes_keep_the_commands_timeout(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'busy.db'}", pool_size=1)
    seen = _busy_pragmas(database)
    command = database.with_lock_timeout(2000)
    try:
        for _ in range(3):  # what /kpi log does: reads, then its write
            with command.read() as session:
                session.execute(sa.text("SELECT 1")).all()
            with command.write() as session:
                session.execute(sa.text("SELECT 1")).all()
        assert seen == ["PRAGMA busy_timeout=2000"]  # once, not twice per command
        assert _busy_now(database) == 2000
        with database.write() as session:  # a write without a lock timeout waits the default
            session.execute(sa.text("SELECT 1")).all()
        assert _busy_now(database) == SQLITE_BUSY_TIMEOUT_MS
        short = database.with_lock_timeout(50)
        with short.write() as session:
            session.execute(sa.text("SELECT 1")).all()
        with database.read() as session:  # a short timeout left behind is raised for reads
            session.execute(sa.text("SELECT 1")).all()
        assert _busy_now(database) == SQLITE_BUSY_TIMEOUT_MS
    finally:
        database.dispose()
