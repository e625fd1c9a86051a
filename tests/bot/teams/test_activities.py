"""Teams activities as CommandRequests: mentions, prefixes, ids (no HTTP, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from microsoft_agents.activity import Activity

from bot.teams.activities import (
    base_conversation_id,
    channel_key,
    command_text,
    reference_from_activity,
    request_from_activity,
    short_id,
)
from tests.support.teams import (
    APP_ID,
    TENANT_ID,
    channel_message,
    group_message,
    personal_message,
    user,
)

SERVICE = "https://smba.trafficmanager.net/emea/"
CHANNEL = "19:c0ffee0123456789abcdef0123456789@thread.tacv2"
BOB = user("aad-bob", "Bob Rep")
BOT_IDS = {f"28:{APP_ID}"}


def _activity(payload: dict) -> Activity:
    return Activity.model_validate(payload)


def test_channel_message_with_the_bot_mention():
    payload = channel_message("kpi log demo-booked acme", service_url=SERVICE,
                              activity_id="1763476200999")
    request = request_from_activity(_activity(payload), app_id=APP_ID)
    assert request.platform == "teams"
    assert request.workspace_id == f"teams:{TENANT_ID}"
    assert request.user_id == "aad-alice" and request.user_name == "Alice Rep"
    assert request.channel_id == CHANNEL
    assert request.text == "log demo-booked acme"
    assert request.idempotency_key == f"{CHANNEL}/1763476200999"


@pytest.mark.parametrize(("locale", "language"), [
    ("nb-NO", "nb"), ("sv-SE", "sv"), ("ro-RO", "ro"), ("zh-CN", "zh"), ("en-US", "en"),
    ("de-DE", None)])
def test_the_users_locale_becomes_the_reply_language(locale, language):
    payload = channel_message("kpi win-rate", service_url=SERVICE)
    payload["locale"] = locale
    assert request_from_activity(_activity(payload), app_id=APP_ID).user_language == language


@pytest.mark.parametrize(("typed", "expected"), [
    ("kpi log call 3", "log call 3"),
    ("/kpi log call 3", "log call 3"),
    ("KPI   help", "help"),
    ("kpi", ""),
    ("log call 3", "log call 3"),
    ("kpibot help", "kpibot help"),  # only the word kpi is a prefix
    ("kpi\u00a0log\u00a0call", "log call"),
])
def test_prefixes_and_spaces(typed, expected):
    activity = _activity(personal_message(typed, service_url=SERVICE))
    assert command_text(activity, BOT_IDS) == expected


def test_other_users_mentions_become_grammar_mentions():
    payload = channel_message("kpi log demo-booked acme @Bob Rep", mentions=(BOB,),
                              service_url=SERVICE)
    activity = _activity(payload)
    assert command_text(activity, BOT_IDS) == "log demo-booked acme <@aad-bob|Bob Rep>"
    # without an aadObjectId on the entity, the roster answer is used, else the Teams id
    payload = channel_message("kpi log demo-booked acme @Bob Rep", mentions=(BOB,),
                              mention_aad=False, service_url=SERVICE)
    activity = _activity(payload)
    assert command_text(activity, BOT_IDS, {BOB["id"]: "aad-bob"}).endswith("<@aad-bob|Bob Rep>")
    assert command_text(activity, BOT_IDS).endswith(f"<@{BOB['id']}|Bob Rep>")


def test_names_cannot_break_the_mention_markup():
    evil = user("aad-eve", "Eve <@U1|x> | >")
    payload = channel_message("kpi log call @Eve <@U1|x> | >", mentions=(evil,),
                              service_url=SERVICE)
    assert command_text(_activity(payload), BOT_IDS) == "log call <@aad-eve|Eve @U1x>"


def test_channel_and_unknown_mentions_stay_typed_text():
    payload = channel_message("kpi log call", service_url=SERVICE)
    payload["text"] += " <at>General</at> <at>Nobody</at>"
    payload["entities"].append({"type": "mention", "text": "<at>General</at>",
                                "mentioned": {"id": CHANNEL, "name": "General"}})
    assert command_text(_activity(payload), BOT_IDS) == "log call @General @Nobody"


def test_group_chat_and_personal_ids():
    group = request_from_activity(_activity(group_message("kpi me", service_url=SERVICE)),
                                  app_id=APP_ID)
    assert group.channel_id == "19:meeting_5a1e5c4a11@thread.v2" and group.text == "me"
    personal_payload = personal_message("kpi me", service_url=SERVICE)
    personal = request_from_activity(_activity(personal_payload), app_id=APP_ID)
    conversation = personal_payload["conversation"]["id"]
    assert len(conversation) > 80
    assert personal.channel_id == short_id(conversation) == channel_key(conversation)
    assert personal.channel_id.startswith("h:") and len(personal.channel_id) == 42


def test_user_falls_back_to_the_teams_id_and_tenant_to_the_conversation():
    payload = personal_message("kpi help", service_url=SERVICE)
    del payload["from"]["aadObjectId"]
    payload["channelData"] = {}
    request = request_from_activity(_activity(payload), app_id=APP_ID)
    assert request.user_id == payload["from"]["id"]
    assert request.workspace_id == f"teams:{TENANT_ID}"


def test_no_tenant_no_request():
    payload = personal_message("kpi help", service_url=SERVICE)
    payload["channelData"] = {}
    del payload["conversation"]["tenantId"]
    assert request_from_activity(_activity(payload), app_id=APP_ID) is None


def test_thread_suffix_and_references():
    assert base_conversation_id(f"{CHANNEL};messageid=17") == CHANNEL
    now = datetime(2026, 11, 18, tzinfo=UTC)
    payload = channel_message("kpi help", service_url=SERVICE, thread_id="1763476200000")
    reference = reference_from_activity(_activity(payload), now=now)
    assert (reference.conversation_key, reference.conversation_id) == (CHANNEL, CHANNEL)
    assert reference.service_url == SERVICE and reference.bot_id == f"28:{APP_ID}"
    assert reference.team_id == "19:7ea1234567890abcdef1234567890ab@thread.tacv2"
    assert reference.user_id is None and reference.updated_at == now
    personal = reference_from_activity(
        _activity(personal_message("kpi help", service_url=SERVICE)), now=now)
    assert personal.conversation_type == "personal" and personal.user_id == "aad-alice"
