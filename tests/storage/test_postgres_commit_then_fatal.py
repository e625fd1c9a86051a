"""PostgreSQL: a log whose COMMIT the server confirmed is reported stored, even when the
server's FATAL follows the confirmation (a fast shutdown: the FATAL can come before the
ReadyForQuery that ends the query). psycopg reads a query's or a pipeline's answers whole and
raises on the FATAL, so the reply said "nothing was stored" for an event that was
(session 12 saw it in tests/reliability/test_database_restart.py with an UPDATE and its COMMIT
in one query). storage/pg_pipeline.py keeps each answer as it arrives: a confirmed COMMIT
stands. The relay (tests/support/fatal_after_commit.py) cuts the connection right after the
server's CommandComplete "COMMIT": deterministic, no timing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage.engine import Database
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.fatal_after_commit import FatalAfterCommit, through_relay

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TFATAL"


def _stored(database_url: str, key: str) -> int:
    """What the server holds, asked directly (not through the relay, whose cut connection
    may still sit in the bot's pool: a server's FATAL that came in with a commit's
    confirmation is only found by the connection's next use)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM events WHERE workspace_id = :w "
                "AND idempotency_key = :k"), {"w": WS, "k": f"slack:{key}"}).scalar_one()
    finally:
        engine.dispose()


def _ask(chat: Chat, text: str, key: str):
    """As served: the caller's name in the request, a deadline."""
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)


@contextmanager
def _through_relay(database_url: str) -> Iterator[tuple[FatalAfterCommit, Database, Chat]]:
    """A database reached through the relay (not armed yet), its workspace and user Ann."""
    with through_relay(database_url) as (relay, database):
        with database.write() as session:
            ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
            ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann",
                        now=NOW)
        yield relay, database, Chat(database, workspace=WS, now=NOW, admins=(),
                                    default_user="U1")


# a call: its insert and COMMIT in one pipeline; a demo and a first meeting named otherwise
# refresh the deal: its UPDATE and the COMMIT in one pipeline (storage/pg_commit.py)
@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme", "log meeting-booked Acme"])
def test_a_confirmed_commit_followed_by_a_fatal_is_reported_stored(database_url, text):
    with _through_relay(database_url) as (relay, database, chat):
        _ask(chat, "log meeting-booked acme", "first")  # the deal exists: refreshed next
        relay.armed = True
        reply = _ask(chat, text, "once")
        relay.armed = False
        assert relay.cut == 1  # the connection was cut right after the COMMIT's answer
        assert _stored(database_url, "once") == 1
        assert "Logged" in reply.text, reply.plain_text()


@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme"])
def test_a_commit_whose_answer_never_came_is_written_again_and_stored_once(database_url, text):
    """The connection cut right before the COMMIT's answer (the server committed; the bot
    cannot know): storage/pg_pipeline.py raises CommitOutcomeUnknown, and the log is written
    again with the same key (bot/handlers/log.py): stored once, answered "Logged"."""
    with _through_relay(database_url) as (relay, database, chat):
        _ask(chat, "log meeting-booked acme", "first")
        relay.armed, relay.before_answer = True, True
        reply = _ask(chat, text, "once")
        assert relay.cut >= 1
        relay.armed = False
        assert _stored(database_url, "once") == 1
        assert "Logged" in reply.text, reply.plain_text()


@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme"])
def test_a_fatal_where_a_whole_transactions_commit_is_answered_leaves_it_unknown(
        database_url, text):
    """A transaction the server commits at its Sync (no BEGIN, no COMMIT:
    storage/pg_pipeline.py `whole`) is confirmed by the Sync's ReadyForQuery. The server's FATAL in
    its place (a fast shutdown right at the commit) may come just after the commit: the
    outcome is unknown, and the log is written again with the same key: stored once,
    answered "Logged" (taken for "nothing was stored", the reply would be false)."""
    with _through_relay(database_url) as (relay, database, chat):
        _ask(chat, "log meeting-booked acme", "first")
        relay.armed, relay.fatal_instead = True, True
        reply = _ask(chat, text, "once")
        assert relay.cut == 1
        relay.armed = False
        assert _stored(database_url, "once") == 1
        assert "Logged" in reply.text, reply.plain_text()
