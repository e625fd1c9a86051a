"""A log whose COMMIT got no answer (the connection broke after it was sent): the reply says
what is stored, never "nothing was stored" for an event that was.

The first write is made to end as storage/pg_pipeline.py ends it when the connection breaks
after the COMMIT went out (CommitOutcomeUnknown), once after really storing the event (the
server committed, its answer was lost) and once without (it never got the COMMIT). Either way
bot/handlers/log.py writes the same event again with the same idempotency key: one event, and
a plain confirmation. While the database stays away, the reply says the outcome is unknown.
Both databases; tests/storage/test_postgres_commit_then_fatal.py cuts a real connection."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import COMMIT_UNKNOWN_REPLY, DATABASE_DOWN_REPLY, CommandRequest
from bot.handlers import log as log_handler
from storage.commit_unknown import CommitOutcomeUnknown
from storage.engine import Database
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TUNKNOWN"


def _events(database: Database, key: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
            {"w": WS, "k": f"slack:{key}"}).scalar_one()


def _ask(chat: Chat, text: str, key: str, *, seconds: float = 30):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + seconds)


def _first_write_lost(monkeypatch, *, stored: bool, then_away: bool = False) -> list[str]:
    """The first write ends with CommitOutcomeUnknown (after storing, if `stored`); with
    `then_away` every later one finds the database gone."""
    real = log_handler._write
    calls: list[str] = []

    def write(*args, **kwargs):
        calls.append("write")
        if len(calls) == 1:
            if stored:
                real(*args, **kwargs)
            raise CommitOutcomeUnknown("COMMIT", None, ConnectionError("connection lost"))
        if then_away:
            raise sa.exc.OperationalError("BEGIN", None, ConnectionError("connection refused"))
        return real(*args, **kwargs)

    monkeypatch.setattr(log_handler, "_write", write)
    monkeypatch.setattr(log_handler, "_RETRY_PAUSE", 0.0)
    return calls


@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme"])
@pytest.mark.parametrize("stored", [True, False], ids=["committed", "not-committed"])
def test_a_log_whose_commit_got_no_answer_is_stored_once_and_confirmed(
        database, monkeypatch, text, stored):
    chat = Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")
    calls = _first_write_lost(monkeypatch, stored=stored)
    reply = _ask(chat, text, "lost-answer")
    assert calls == ["write", "write"]
    assert _events(database, "lost-answer") == 1
    assert reply.text.startswith("Logged "), reply.plain_text()
    assert "already stored" not in reply.plain_text()  # this request's own event
    assert "nothing was stored" not in reply.plain_text()


def test_while_the_database_stays_away_the_reply_says_the_outcome_is_unknown(
        database, monkeypatch):
    chat = Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")
    calls = _first_write_lost(monkeypatch, stored=True, then_away=True)
    reply = _ask(chat, "log call 2", "away", seconds=0.5)
    assert len(calls) >= 2  # asked again until the deadline
    assert _events(database, "away") == 1
    text = reply.plain_text()
    assert text.startswith(COMMIT_UNKNOWN_REPLY[:40]), text
    assert DATABASE_DOWN_REPLY[:40] not in text and "nothing was stored" not in text


def test_a_slack_retry_after_an_unknown_outcome_finds_the_event(database, monkeypatch):
    chat = Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")
    _first_write_lost(monkeypatch, stored=True, then_away=True)
    _ask(chat, "log call 2", "retried", seconds=0.3)
    monkeypatch.undo()
    again = _ask(chat, "log call 2", "retried")
    assert _events(database, "retried") == 1
    assert "already stored" in again.plain_text()


def test_a_lost_commit_of_the_callers_own_rows_is_the_database_down(database, monkeypatch):
    """The caller's workspace and user rows are written before the command (first contact, a
    new name); if that COMMIT gets no answer, nothing the request asked for was stored: the
    reply says so, as for any outage, not that the outcome is unknown."""
    from bot.core import CommandHandler

    chat = Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")

    def lost(*_args, **_kwargs):
        raise CommitOutcomeUnknown("COMMIT", None, ConnectionError("connection lost"))

    monkeypatch.setattr(CommandHandler, "_workspace", lost)
    reply = _ask(chat, "log call 2", "first-contact")
    assert reply.plain_text().startswith(DATABASE_DOWN_REPLY[:40]), reply.plain_text()
    assert _events(database, "first-contact") == 0
