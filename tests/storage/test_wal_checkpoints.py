"""SQLite's WAL checkpoints leave the request path in `kpibot serve` (issue 18: `/kpi log` p99).

Counted, never timed: how many frames the WAL holds tells whether a commit checkpointed (after
a checkpoint the next commit starts the WAL over), and a crash between commit and checkpoint
loses nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli.serve import serving_bot
from bot.settings import Settings
from bot.wiring import build_bot
from storage.checkpoints import SERVE_AUTOCHECKPOINT_PAGES, WalCheckpointer, wal_checkpoint
from storage.engine import SQLITE_BUSY_TIMEOUT_MS, Database, writer_turn
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TWAL"
SQLITE_DEFAULT_PAGES = 1000  # SQLite's own wal_autocheckpoint
COMMANDS = 300  # about 3,000 WAL pages
LOGS = ("log call 3", "log email-sent 40x", "log demo-booked deal-{n}",
        "log meeting-booked deal-{n}")


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "wal.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _log(database: Database, commands: int) -> None:
    """`commands` /kpi log commands through the real handler (about ten WAL pages each)."""
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WORKSPACE, user_id="U1", display_name="Ann",
                    now=NOW)
    chat = Chat(database, workspace=WORKSPACE, now=NOW, admins=(), default_user="U1")
    for n in range(commands):
        reply = chat.ask(LOGS[n % len(LOGS)].format(n=n // 8))
        assert reply.ok, reply.text


def _events(url: str) -> int:
    database = Database.from_url(url)
    try:
        with database.read() as session:
            return session.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    finally:
        database.dispose()


def test_serve_commits_leave_the_checkpoint_to_the_thread(sqlite_url):
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    try:
        _log(database, COMMANDS)
        checkpoint = wal_checkpoint(database.engine)
    finally:
        database.dispose()
    # Every frame the commands wrote is still in the WAL: none of their commits checkpointed.
    assert not checkpoint.busy
    assert checkpoint.wal_frames > 2 * SQLITE_DEFAULT_PAGES
    assert checkpoint.checkpointed == checkpoint.wal_frames
    assert _events(sqlite_url) == COMMANDS


def test_by_default_a_commit_checkpoints_past_a_thousand_pages(sqlite_url):
    """The CLI and the tests keep SQLite's default: the contrast that makes the test above
    mean something (the WAL starts over after the checkpoint in a commit)."""
    database = Database.from_url(sqlite_url)
    try:
        _log(database, COMMANDS)
        checkpoint = wal_checkpoint(database.engine)
    finally:
        database.dispose()
    assert checkpoint.wal_frames < SQLITE_DEFAULT_PAGES + 100  # started over in a commit


def test_the_thread_checkpoints_and_stop_runs_a_last_one(sqlite_url):
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    checkpointer = WalCheckpointer(database.engine, interval=3600).start()  # never ticks here
    try:
        _log(database, 20)
        assert checkpointer.checkpoints == 0
        last = checkpointer.stop()
        assert checkpointer.checkpoints == 1
        assert last is not None and not last.busy and last.wal_frames > 100
        assert last.checkpointed == last.wal_frames
        # The next commit starts the WAL over: the thread's checkpoint copied everything.
        _log(database, 1)
        assert wal_checkpoint(database.engine).wal_frames < 100
    finally:
        checkpointer.stop()
        database.dispose()


def _wal_salt(url: str) -> bytes:
    """The salts of the WAL's header: new ones each time a writer starts the WAL over."""
    with open(url.removeprefix("sqlite:///") + "-wal", "rb") as wal:
        return wal.read(32)[16:24]


def test_the_thread_starts_a_checkpointed_wal_over_not_the_next_command(sqlite_url):
    """The writer that starts a checkpointed WAL over syncs its new header (the one sync of
    a commit with synchronous=NORMAL, 5-20 ms on a busy disk): the thread is that writer, so
    the next command appends to the WAL, with no header to write."""
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    checkpointer = WalCheckpointer(database.engine, interval=3600)  # ticks run here
    try:
        _log(database, 20)
        before = _wal_salt(sqlite_url)
        tick = checkpointer.checkpoint()
        assert tick.checkpointed == tick.wal_frames > 100
        assert checkpointer.starts_over == 1
        started_over = _wal_salt(sqlite_url)
        assert started_over != before
        with database.engine.connect() as connection:  # the pooled connection it wrote on
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == \
                SQLITE_BUSY_TIMEOUT_MS  # its own wait of 0 ms undone
        _log(database, 4)
        assert _wal_salt(sqlite_url) == started_over  # no command started it over
        assert checkpointer.checkpoint().wal_frames > 10  # the commands' frames follow its own
        assert checkpointer.starts_over == 2
        idle = checkpointer.checkpoint()  # only its own page since: nothing more is written
        assert (idle, checkpointer.starts_over, checkpointer.idle) == (None, 2, 1)
        assert _events(sqlite_url) == 24
    finally:
        checkpointer.stop()
        database.dispose()


def test_an_idle_tick_leaves_the_threads_page_to_the_next_command(sqlite_url):
    """A checkpoint that copied the thread's own page (the WAL started over) made the WAL
    wholly copied again, and the next command started it over, syncing its header in the
    command: an idle tick (nothing committed by another connection since everything was
    copied, `PRAGMA data_version`) now copies nothing, so the command appends after it."""
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    checkpointer = WalCheckpointer(database.engine, interval=3600)  # ticks run here
    try:
        for round_ in range(3):  # a log, then ticks with no command between them
            _log(database, 1)
            assert checkpointer.checkpoint().wal_frames > 1
            started_over = _wal_salt(sqlite_url)
            for _ in range(3):
                checkpointer.checkpoint()
            _log(database, 1)
            assert _wal_salt(sqlite_url) == started_over, round_  # no command started it over
            assert wal_checkpoint(database.engine).wal_frames > 1  # its page, then the log's
        assert (checkpointer.starts_over, checkpointer.idle) == (3, 9)
        # Another process's commit moves data_version too: the next tick copies it.
        other = Database.from_url(sqlite_url)
        try:
            with other.write() as session:
                session.execute(sa.text("UPDATE workspaces SET timezone = timezone"))
        finally:
            other.dispose()
        tick = checkpointer.checkpoint()
        assert tick is not None and tick.checkpointed == tick.wal_frames >= 1
        assert _events(sqlite_url) == 6
    finally:
        checkpointer.stop()
        database.dispose()


def test_the_thread_never_waits_for_a_writer(sqlite_url):
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    checkpointer = WalCheckpointer(database.engine, interval=3600)
    holding, done = threading.Event(), threading.Event()

    def command_writing() -> None:
        with writer_turn(database.engine):
            holding.set()
            done.wait()

    try:
        _log(database, 4)
        writer = threading.Thread(target=command_writing)
        writer.start()
        holding.wait()
        tick = checkpointer.checkpoint()
        done.set()
        writer.join()
        assert tick.checkpointed == tick.wal_frames > 10
        assert checkpointer.starts_over == 0  # left for the next tick
        checkpointer.checkpoint()
        assert checkpointer.starts_over == 1
    finally:
        database.dispose()


def test_the_thread_keeps_checkpointing_until_stopped(sqlite_url):
    database = Database.from_url(sqlite_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
    checkpointer = WalCheckpointer(database.engine, interval=0.001)
    with checkpointer:
        # Waits for the thread's ticks, whatever their pace (a tick after no commit: idle).
        while checkpointer.checkpoints + checkpointer.idle < 3:
            with database.write() as session:
                session.execute(sa.text("UPDATE workspaces SET timezone = timezone"))
    stopped_at = checkpointer.checkpoints + checkpointer.idle
    assert checkpointer._thread is None
    database.dispose()
    assert stopped_at >= 4  # three ticks or more, and the last one at stop


def test_a_crash_between_commit_and_checkpoint_loses_nothing(sqlite_url, tmp_path: Path):
    """A server process killed (no final checkpoint, no close) after its commits: every
    logged event is there when the database is opened again."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path.cwd())!r})
        from tests.storage.test_wal_checkpoints import COMMANDS, _log
        from storage.checkpoints import SERVE_AUTOCHECKPOINT_PAGES
        from storage.engine import SQLITE_BUSY_TIMEOUT_MS, Database, writer_turn
        database = Database.from_url({sqlite_url!r},
                                     wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES)
        _log(database, COMMANDS)
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=600)
    wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
    assert wal.stat().st_size > 2 * SQLITE_DEFAULT_PAGES * 4096  # the commits: in the WAL only
    assert _events(sqlite_url) == COMMANDS


def test_postgresql_has_no_checkpointer(database):
    checkpointer = WalCheckpointer(database.engine).start()
    assert checkpointer._thread is not None if database.dialect == "sqlite" else \
        checkpointer._thread is None
    checkpointer.stop()


def test_kpibot_serve_raises_the_threshold_and_other_entry_points_keep_the_default(sqlite_url):
    settings = Settings(database_url=sqlite_url)
    for bot, pages in ((serving_bot(settings), SERVE_AUTOCHECKPOINT_PAGES),
                       (build_bot(settings), SQLITE_DEFAULT_PAGES)):
        with bot.database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == pages
        bot.database.dispose()
