"""`/kpi digest ...` through signed Slack requests into the running app (with its scheduler):
the preview in Block Kit, posting now. Who may set a digest and the errors:
tests/bot/handlers/test_digest_setup.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.settings import build_settings
from bot.wiring import build_bot
from sampledata import seed_workspace
from storage import digests as ledger
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "digest-secret"
TEAM = "TDIG"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


@pytest.fixture
def bot_url(database, slack_api, clock):
    seed_workspace(database=database, workspace_id=f"slack:{TEAM}", target_events=600,
                   end=NOW, seed=3, timezone="Europe/Oslo")
    url = database.engine.url.render_as_string(hide_password=False)
    settings = build_settings(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-test",
                              SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url,
                              KPIBOT_ADMINS="U_BOSS", KPIBOT_TIMEZONE="Europe/Oslo")
    bot = build_bot(settings, database=database, clock=clock)
    with running_server(bot, scheduler=True) as base_url:
        yield base_url


def _ask(base_url, text, user="U_BOSS", channel="C_SALES"):
    status, body, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                         user_id=user, channel_id=channel)
    assert status == 200
    return body


def _schedules(database):
    with database.read() as session:
        return ledger.list_schedules(session=session)


def test_preview_list_off_and_status(bot_url, database, slack_api):
    preview = _ask(bot_url, "digest preview", user="U_REP")
    assert preview["response_type"] == "ephemeral"
    assert len(preview["blocks"]) > 5 and "no digest yet" in preview["blocks"][0]["text"]["text"]
    _ask(bot_url, "digest here")
    listing = _ask(bot_url, "digest list", user="U_REP")
    assert "1 digest schedule" in listing["text"]
    assert "#sales" in str(listing["blocks"]) and "Mon 23 Nov 2026 09:00" in str(listing["blocks"])
    assert "turned off" in _ask(bot_url, "digest off")["text"]
    assert not _schedules(database)[0].enabled
    assert "no digest to turn off" in _ask(bot_url, "digest off")["text"]
    assert "No digest has been posted" in _ask(bot_url, "digest status")["text"]
    assert slack_api.calls_to("chat.postMessage") == []


def test_digest_now_posts_through_the_running_scheduler_once(bot_url, database, slack_api):
    _ask(bot_url, "digest here")
    body = _ask(bot_url, "digest now")
    assert "Posting" in body["text"]
    (post,) = slack_api.wait_for("chat.postMessage", 1, timeout=30)
    assert post.channel == "C_SALES" and post.body["text"]
    deadline = time.monotonic() + 10
    while True:
        with database.read() as session:
            rows = ledger.list_deliveries(session=session)
        if rows and rows[0].status == "sent":
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
    assert (rows[0].trigger, rows[0].attempts) == ("manual", 1)
    status = _ask(bot_url, "digest status", user="U_REP")
    assert "sent (manual)" in str(status["blocks"])
    # The chart goes into the thread after the post: wait for it, so the stand-in is not
    # stopped under an upload still in flight.
    slack_api.wait_for("files.completeUploadExternal", 1, timeout=30)
    assert len([c for c in slack_api.calls_to("chat.postMessage") if c.channel == "C_SALES"]) == 1
