"""`/kpi log` and `/kpi undo` rules in chat: mistakes are named and store nothing, undo voids the
caller's own last event, logging for someone else needs an admin — through the command handler
(tests/support/dialog.py). Signatures, retries and Block Kit: tests/bot/test_slack_http.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.models import Event
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:T0001"


@pytest.fixture
def chat(database):
    return Chat(database, workspace=WORKSPACE, now=NOW, admins={"U_BOSS"}, default_user="U1")


def _events(database):
    with database.read() as session:
        return session.scalars(
            select(Event).where(Event.workspace_id == WORKSPACE).order_by(Event.id)).all()


@pytest.mark.parametrize(("text", "problem"), [
    ("log wonn acme", '"wonn"'),
    ("log deal-won acme 12kk", "12kk"),
    ("log deal-won acme 12000 EUR", "EUR"),
    ("log call on 2099-01-01", "future"),
    ("log call colour=red", "colour"),
    ("log deal-won acme", "amount"),
])
def test_bad_log_commands_name_the_problem_and_store_nothing(chat, database, text, problem):
    reply = chat.ask(text)
    assert not reply.ok
    assert problem.lower() in reply.plain_text().lower()
    assert "Example: /kpi" in reply.plain_text()
    assert _events(database) == []


def test_undo_voids_the_callers_last_event_not_someone_elses(chat, database):
    chat.ask("log call 3", user="U1")
    chat.ask("log meeting-booked globex", user="U2")
    text = chat.ask("undo", user="U1").plain_text()
    mine, theirs = _events(database)
    assert mine.voided_at is not None and mine.voided_by == "U1"
    assert theirs.voided_at is None
    assert f"Undone #{mine.id}" in text and "call" in text


def test_logging_for_someone_else_needs_an_admin(chat, database):
    assert "Only admins" in chat.ask("log demo-booked acme <@U_REP|rep>", user="U1").text
    assert _events(database) == []
    chat.ask("log demo-booked acme <@U_REP|rep>", user="U_BOSS")
    (event,) = _events(database)
    assert (event.user_id, event.logged_by) == ("U_REP", "U_BOSS")
