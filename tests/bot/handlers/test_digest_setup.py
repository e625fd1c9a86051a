"""`/kpi digest here|off|now` rules in chat: who may set a channel's digest, what is stored, and
the reply naming each mistake — through the command handler (tests/support/dialog.py). Posting,
previews in Block Kit and the running scheduler: tests/bot/test_digest_commands.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sampledata import seed_workspace
from storage import digests as ledger
from tests.support.dialog import Chat

TEAM = "TDIG"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


@pytest.fixture
def chat(database):
    seed_workspace(database=database, workspace_id=f"slack:{TEAM}", target_events=600,
                   end=NOW, seed=3, timezone="Europe/Oslo")
    return Chat(database, workspace=f"slack:{TEAM}", now=NOW, admins={"U_BOSS"},
                channel="C_SALES")


def _ask(chat, text, user=None) -> str:
    return chat.ask(text, user=user).plain_text()


def _schedules(database):
    with database.read() as session:
        return ledger.list_schedules(session=session)


def test_digest_here_by_an_admin_sets_this_channel(chat, database):
    text = _ask(chat, "digest here weekly fri 16:30 Europe/Oslo lang=nb")
    assert "weekly on Friday at 16:30 Europe/Oslo" in text
    assert "Norwegian" in text
    (schedule,) = _schedules(database)
    assert (schedule.channel_id, schedule.cadence, schedule.day, schedule.hour,
            schedule.minute, schedule.timezone, schedule.language, schedule.owner_id) == \
        ("C_SALES", "weekly", 4, 16, 30, "Europe/Oslo", "nb", "U_BOSS")
    _ask(chat, "digest here")  # defaults: Monday 09:00, workspace zone; still one row
    (schedule,) = _schedules(database)
    assert (schedule.day, schedule.hour, schedule.timezone, schedule.language) == \
        (0, 9, "Europe/Oslo", "en")


def test_non_admins_cannot_change_digests_and_nothing_is_stored(chat, database):
    text = _ask(chat, "digest here", user="U_REP")
    assert "Only admins" in text and "nothing was changed" in text
    assert _schedules(database) == []
    _ask(chat, "digest here")
    for action in ("off", "now"):
        assert "Only admins" in _ask(chat, f"digest {action}", user="U_REP")
    assert _schedules(database)[0].enabled


def test_bad_digest_setup_names_the_problem(chat, database):
    for text, problem in (("digest here weekly 15 09:00", "day of the month"),
                          ("digest here monthly 30", "day 1 to 28"),
                          ("digest here lang=xx", "xx"),
                          ("digest here webhook=https://x.example/hook", "Teams")):
        reply = _ask(chat, text)
        assert problem in reply, (text, reply)
    assert _schedules(database) == []
