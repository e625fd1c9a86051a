"""Teams: a command answered "cannot tell yet" at its deadline (its COMMIT out, the answer
held up) gets its own reply later, as a new message in the conversation (tests/bot/
test_late_commit.py has the rule and Slack's response_url). The relay holds a real commit's
confirmation (tests/support/fatal_after_commit.py): deterministic, no timing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bot.core import COMMAND_DEADLINE, COMMIT_LATE_FOLLOWED_REPLY
from bot.settings import build_settings
from bot.wiring import build_bot
from tests.support.fatal_after_commit import FatalAfterCommit, through_relay
from tests.support.teams import (
    APP_ID,
    APP_PASSWORD,
    channel_message,
    post_activity,
    running_bot_server,
)

WAIT = 30.0  # seconds a test waits for what must happen (never reached when it works)


@contextlib.contextmanager
def _served(database_url: str, teams_cloud) -> Iterator[tuple[FatalAfterCommit, str]]:
    """The bot with Teams on a database reached through a relay; (the relay, its URL)."""
    with through_relay(database_url) as (relay, database):
        bot = build_bot(build_settings(
            DATABASE_URL=database.engine.url.render_as_string(hide_password=False),
            TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=APP_PASSWORD,
            TEAMS_OPENID_METADATA_URL=teams_cloud.metadata_url,
            TEAMS_CONNECTOR_TOKEN_URL=teams_cloud.token_url,
            KPIBOT_COMMAND_DEADLINE=COMMAND_DEADLINE),
            database=database)
        with running_bot_server(bot) as base_url:
            yield relay, base_url


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_served_on_teams_the_late_outcome_is_a_new_message_in_the_conversation(
        database_url, teams_cloud):
    with _served(database_url, teams_cloud) as (relay, base_url):
        def send(text: str) -> dict:
            activity = channel_message(text, service_url=teams_cloud.service_url)
            status, _ = post_activity(base_url, activity, token=teams_cloud.token())
            assert status in (200, 202)
            return activity

        send("kpi log call")  # the caller's rows
        relay.armed = relay.hold_answer = True
        activity = send("kpi log call 3")
        assert relay.held == 1
        first, told = teams_cloud.connector_calls("reply")
        assert first.body["text"].startswith("Logged ")
        assert told.body["text"] == COMMIT_LATE_FOLLOWED_REPLY
        assert teams_cloud.connector_calls("send") == []
        relay.release()
        teams_cloud.wait_for_replies(3, timeout=WAIT)
    [late] = teams_cloud.connector_calls("send")
    assert late.conversation_id == activity["conversation"]["id"]
    assert late.body["text"].startswith(
        "Update on “/kpi log call 3”, which the database answered late: Logged "), late.body
    [card] = [attachment["content"] for attachment in late.body["attachments"]]
    assert [action["title"] for action in card["actions"]] == ["Undo"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_served_on_teams_a_card_undo_answered_late_is_followed_up_in_the_conversation(
        database_url, teams_cloud):
    """A card action runs its command as typed: its late outcome is a new message too."""
    with _served(database_url, teams_cloud) as (relay, base_url):
        def send(text: str, value: dict | None = None) -> dict:
            activity = channel_message(text, service_url=teams_cloud.service_url)
            if value is not None:
                activity["value"] = value
            count = len(teams_cloud.connector_calls("reply"))
            status, _ = post_activity(base_url, activity, token=teams_cloud.token())
            assert status in (200, 202)
            return teams_cloud.wait_for_replies(count + 1, timeout=WAIT)[-1].body

        logged = send("kpi log call 3")
        [undo] = [action["data"] for attachment in logged["attachments"]
                  for action in attachment["content"]["actions"]
                  if action["title"] == "Undo"]
        relay.armed = relay.hold_answer = True
        told = send("", value=undo)
        assert relay.held == 1 and told["text"] == COMMIT_LATE_FOLLOWED_REPLY, told
        relay.release()
        teams_cloud.wait_for_replies(3, timeout=WAIT)
    [late] = teams_cloud.connector_calls("send")
    assert late.body["text"].startswith("Update on “/kpi undo ") and \
        "which the database answered late: Undone #" in late.body["text"], late.body
