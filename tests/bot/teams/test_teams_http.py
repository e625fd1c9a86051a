"""Teams over real HTTP: Bot Connector activities with locally signed JWTs, on both databases.

The bot runs on a loopback port (`POST /api/messages`); `TeamsCloud` serves the OpenID metadata
and key set, the token endpoint and the Bot Connector the replies go to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import pytest
from sqlalchemy import select

from bot.replies import Reply, Section
from bot.settings import build_settings
from bot.teams.activities import channel_key
from bot.teams.cards import CONTENT_TYPE, render_card
from bot.teams.connector import TeamsDeliveryError, post_to_workflow
from bot.wiring import build_bot
from storage.models import Event
from tests.bot.teams.card_schema import assert_valid_card
from tests.support.slack_signing import post_slash_command
from tests.support.teams import (
    APP_ID,
    APP_PASSWORD,
    LOOPBACK_WORKFLOWS,
    TENANT_ID,
    SigningKey,
    channel_message,
    conversation_update,
    group_message,
    installation_update,
    personal_message,
    post_activity,
    running_bot_server,
    sign_token,
    user,
)

WORKSPACE = f"teams:{TENANT_ID}"
CHANNEL = "19:c0ffee0123456789abcdef0123456789@thread.tacv2"
BOSS = user("aad-boss", "Boss Admin")
BOB = user("aad-bob", "Bob Rep")
SLACK_SECRET = "test-signing-secret"


def _settings(database, cloud, **extra):
    return build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        TEAMS_APP_ID=APP_ID,
        TEAMS_APP_PASSWORD=APP_PASSWORD,
        TEAMS_OPENID_METADATA_URL=cloud.metadata_url,
        TEAMS_CONNECTOR_TOKEN_URL=cloud.token_url,
        KPIBOT_ADMINS="aad-boss,U_BOSS",
        KPIBOT_TIMEZONE="Europe/Oslo",
        **extra,
    )


@pytest.fixture
def teams_bot(database, teams_cloud, clock):
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        yield bot, base_url


def _events(database, workspace=WORKSPACE):
    with database.read() as session:
        return session.scalars(
            select(Event).where(Event.workspace_id == workspace).order_by(Event.id)
        ).all()


def _send(cloud, base_url, activity, **token_claims):
    return post_activity(base_url, activity, token=cloud.token(**token_claims))


def _card(call) -> dict:
    (attachment,) = call.body["attachments"]
    assert attachment["contentType"] == CONTENT_TYPE
    return attachment["content"]


def test_channel_log_with_mention_is_stored_and_the_card_reaches_the_connector(
        teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log demo-booked acme", service_url=teams_cloud.service_url)
    assert activity["text"].startswith("<at>kpibot</at> kpi log")
    status, _ = _send(teams_cloud, base_url, activity)
    assert status in (200, 202)

    (event,) = _events(database)
    assert (event.kind, event.deal_key, event.user_id, event.logged_by, event.channel_id) == (
        "demo-booked", "acme", "aad-alice", "aad-alice", CHANNEL)

    (reply,) = teams_cloud.connector_calls("reply")
    # into the thread of the message: POST {serviceUrl}/v3/conversations/{id}/activities/{id}
    assert reply.conversation_id == activity["conversation"]["id"]
    assert reply.activity_id == activity["id"]
    assert reply.path == (f"/amer/v3/conversations/{activity['conversation']['id']}"
                          f"/activities/{activity['id']}")
    body = reply.body
    assert body["type"] == "message"
    assert body["replyToId"] == activity["id"]
    assert body["from"]["id"] == f"28:{APP_ID}"
    assert body["recipient"]["id"] == activity["from"]["id"]
    assert "Logged demo-booked" in body["text"] and f"#{event.id}" in body["text"]
    card = _card(reply)
    assert_valid_card(card)
    assert "undo" in card["fallbackText"]
    # the connector call carried the token our token endpoint issued for our app credentials
    (token_request,) = teams_cloud.token_requests
    assert token_request.form["client_id"] == APP_ID
    assert token_request.form["scope"] == "https://api.botframework.com/.default"
    assert reply.token and reply.token.startswith("connector-token-")


def test_personal_and_group_chats_work_too(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    personal = personal_message("log call 3", service_url=teams_cloud.service_url)
    group = group_message("/kpi log call 2", service_url=teams_cloud.service_url,
                          sender=BOB)
    assert _send(teams_cloud, base_url, personal)[0] in (200, 202)
    assert _send(teams_cloud, base_url, group)[0] in (200, 202)
    first, second = _events(database)
    assert (first.kind, first.count, first.user_id) == ("call", 3, "aad-alice")
    assert (second.kind, second.count, second.user_id) == ("call", 2, "aad-bob")
    # Teams personal conversation ids are ~130 characters: stored as a stable short key
    assert first.channel_id == channel_key(personal["conversation"]["id"])
    assert len(first.channel_id) <= 80
    assert second.channel_id == "19:meeting_5a1e5c4a11@thread.v2"
    replies = teams_cloud.connector_calls("reply")
    assert [r.conversation_id for r in replies] == [personal["conversation"]["id"],
                                                    group["conversation"]["id"]]
    # one connector token, cached for both replies
    assert len(teams_cloud.token_requests) == 1


FAULTS = {
    "forged_same_kid": lambda cloud: sign_token(SigningKey.generate(kid=cloud.key.kid),
                                                service_url=cloud.service_url),
    "forged_unknown_kid": lambda cloud: sign_token(SigningKey.generate(),
                                                   service_url=cloud.service_url),
    "expired": lambda cloud: cloud.token(issued_at=time.time() - 7200, expires_in=3600),
    "not_yet_valid": lambda cloud: cloud.token(not_before=time.time() + 3600),
    "wrong_audience": lambda cloud: cloud.token(audience="11111111-2222-4333-8444-555555555555"),
    "wrong_issuer": lambda cloud: cloud.token(issuer="https://sts.windows.net/evil/"),
    "serviceurl_mismatch": lambda cloud: cloud.token(service_url="https://evil.example/amer/"),
    "hs256_with_public_key": lambda cloud: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
    "garbage": lambda cloud: "not-a-jwt",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bad_tokens_get_401_and_nothing_runs(teams_bot, teams_cloud, database, fault):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log demo-booked acme", service_url=teams_cloud.service_url)
    status, body = post_activity(base_url, activity, token=FAULTS[fault](teams_cloud))
    assert status == 401
    assert body == {"error": "unauthorized"}
    assert _events(database) == []
    assert teams_cloud.connector_calls() == []


@pytest.mark.parametrize("header", ["missing", "basic"])
def test_missing_or_non_bearer_authorization_gets_401(teams_bot, teams_cloud, database, header):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log demo-booked acme", service_url=teams_cloud.service_url)
    if header == "missing":
        status, _ = post_activity(base_url, activity, token=None)
    else:
        status, _ = post_activity(base_url, activity, token=teams_cloud.token(), scheme="Basic")
    assert status == 401
    assert _events(database) == []
    assert teams_cloud.connector_calls() == []


def test_a_valid_token_for_another_service_url_cannot_redirect_replies(teams_bot, teams_cloud,
                                                                     database):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log call", service_url="http://127.0.0.1:9/evil/")
    status, _ = post_activity(base_url, activity, token=teams_cloud.token())
    assert status == 401
    assert _events(database) == []


def test_valid_token_with_a_broken_body_is_a_400(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    status, _ = post_activity(base_url, b"{not json", token=teams_cloud.token())
    assert status == 400
    assert _events(database) == []


def test_the_same_activity_delivered_twice_stores_once(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log call 12", service_url=teams_cloud.service_url)
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    (event,) = _events(database)
    assert event.count == 12
    first, second = teams_cloud.connector_calls("reply")
    assert "already stored" in _card(second)["fallbackText"]
    assert f"#{event.id}" in second.body["text"]


def test_other_peoples_mentions_become_the_grammars_at_user(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    # Bob's mention entity carries no aadObjectId: the bot asks the roster for it
    teams_cloud.set_member(BOB)
    activity = channel_message("kpi log demo-booked acme @Bob Rep", sender=BOSS,
                               mentions=(BOB,), mention_aad=False,
                               service_url=teams_cloud.service_url)
    assert "<at>Bob Rep</at>" in activity["text"]
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    (event,) = _events(database)
    assert (event.user_id, event.logged_by) == ("aad-bob", "aad-boss")
    (lookup,) = teams_cloud.connector_calls("member")
    assert lookup.member_id == BOB["id"] and lookup.conversation_id == CHANNEL


def test_logging_for_someone_else_needs_an_admin(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    activity = channel_message("kpi log demo-booked acme @Bob Rep", mentions=(BOB,),
                               service_url=teams_cloud.service_url)
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    assert _events(database) == []
    (reply,) = teams_cloud.connector_calls("reply")
    assert "Only admins" in reply.body["text"]
    card = _card(reply)
    assert_valid_card(card)
    assert card["body"][0]["inlines"][0]["color"] == "Attention"


def test_bad_commands_name_the_problem_and_store_nothing(teams_bot, teams_cloud, database):
    _bot, base_url = teams_bot
    activity = personal_message("kpi log wonn acme", service_url=teams_cloud.service_url)
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    assert _events(database) == []
    (reply,) = teams_cloud.connector_calls("reply")
    assert '"wonn"' in reply.body["text"].lower() or "wonn" in reply.body["text"].lower()
    assert "Example: /kpi" in _card(reply)["fallbackText"]


def test_connector_rate_limit_is_retried_and_the_event_is_stored_once(teams_bot, teams_cloud,
                                                                        database):
    _bot, base_url = teams_bot
    teams_cloud.fail_next("connector", status=429, retry_after=0)
    activity = channel_message("kpi log call", service_url=teams_cloud.service_url)
    assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
    assert len(_events(database)) == 1
    attempts = teams_cloud.connector_calls("reply")
    assert [a.status for a in attempts] == [429, 201]


def test_a_connector_outage_still_stores_and_answers_the_request(teams_bot, teams_cloud,
                                                                database):
    _bot, base_url = teams_bot
    teams_cloud.fail_next("connector", status=500, times=10)
    activity = channel_message("kpi log call", service_url=teams_cloud.service_url)
    status, _ = _send(teams_cloud, base_url, activity)
    assert status in (200, 202)
    assert len(_events(database)) == 1
    assert [a.status for a in teams_cloud.connector_calls("reply")] == [500, 500, 500]


def test_installs_store_conversation_references_and_proactive_cards_use_them(
        teams_bot, teams_cloud, database):
    bot, base_url = teams_bot
    store = bot.teams.references
    assert _send(teams_cloud, base_url,
                 conversation_update(service_url=teams_cloud.service_url))[0] in (200, 202)
    assert _send(teams_cloud, base_url,
                 installation_update(service_url=teams_cloud.service_url,
                                     sender=BOSS))[0] in (200, 202)
    channel_ref = store.get_reference(WORKSPACE, CHANNEL)
    assert channel_ref is not None
    assert (channel_ref.conversation_id, channel_ref.service_url, channel_ref.bot_id,
            channel_ref.conversation_type, channel_ref.tenant_id) == (
        CHANNEL, teams_cloud.service_url, f"28:{APP_ID}", "channel", TENANT_ID)
    personal_ref = store.personal_reference(WORKSPACE, "aad-boss")
    assert personal_ref is not None and personal_ref.conversation_type == "personal"
    assert teams_cloud.connector_calls() == []  # installs are remembered silently

    card = render_card(Reply(text="Weekly digest", sections=(
        Section(title="Funnel", table=(("stage", "deals"), ("lead", "12"), ("demo", "4"))),)))
    message_id = asyncio.run(bot.teams.send_card(channel_ref, card, "Weekly digest"))
    (sent,) = teams_cloud.connector_calls("send")
    assert sent.path == f"/amer/v3/conversations/{CHANNEL}/activities"
    assert message_id == sent.response["id"]
    assert sent.body["text"] == "Weekly digest"
    assert_valid_card(_card(sent))

    # removing the bot forgets the conversation
    assert _send(teams_cloud, base_url, conversation_update(
        service_url=teams_cloud.service_url, added=False))[0] in (200, 202)
    assert _send(teams_cloud, base_url, installation_update(
        service_url=teams_cloud.service_url, sender=BOSS, action="remove"))[0] in (200, 202)
    assert store.get_reference(WORKSPACE, CHANNEL) is None
    assert store.personal_reference(WORKSPACE, "aad-boss") is None


def test_first_message_stores_the_reference_of_the_channel_not_the_thread(
        teams_bot, teams_cloud):
    bot, base_url = teams_bot
    activity = channel_message("kpi help", service_url=teams_cloud.service_url)
    _send(teams_cloud, base_url, activity)
    reference = bot.teams.references.get_reference(WORKSPACE, CHANNEL)
    assert reference is not None and reference.conversation_id == CHANNEL


def test_proactive_send_failures_are_classified(teams_bot, teams_cloud):
    bot, base_url = teams_bot
    _send(teams_cloud, base_url, conversation_update(service_url=teams_cloud.service_url))
    reference = bot.teams.references.get_reference(WORKSPACE, CHANNEL)
    card = render_card(Reply(text="digest"))
    teams_cloud.fail_next("connector", status=429, retry_after=7)
    with pytest.raises(TeamsDeliveryError) as limited:
        asyncio.run(bot.teams.send_card(reference, card, "digest"))
    assert (limited.value.transient, limited.value.code, limited.value.retry_after) == (
        True, "rate_limited", 7.0)
    teams_cloud.fail_next("connector", status=403)
    with pytest.raises(TeamsDeliveryError) as removed:
        asyncio.run(bot.teams.send_card(reference, card, "digest"))
    assert (removed.value.transient, removed.value.code) == (False, "bot_not_in_conversation")


def test_workflow_webhook_gets_the_body_teams_expects_and_the_url_stays_secret(
        teams_cloud, caplog):
    caplog.set_level(logging.DEBUG)
    card = render_card(Reply(text="Weekly digest", sections=(Section(lines=("12 demos",)),)))
    url = teams_cloud.workflow_url("sales")
    asyncio.run(post_to_workflow(url, card, policy=LOOPBACK_WORKFLOWS))
    (post,) = teams_cloud.workflow_posts
    assert post.body == {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                         "contentUrl": None, "content": card}],
    }
    assert post.content_type.startswith("application/json")
    assert_valid_card(post.body["attachments"][0]["content"])

    teams_cloud.fail_next("workflow", status=404)
    with pytest.raises(TeamsDeliveryError) as gone:
        asyncio.run(post_to_workflow(url, card, policy=LOOPBACK_WORKFLOWS))
    assert gone.value.transient is False
    teams_cloud.fail_next("workflow", status=502)
    with pytest.raises(TeamsDeliveryError) as flaky:
        asyncio.run(post_to_workflow(url, card, policy=LOOPBACK_WORKFLOWS))
    assert flaky.value.transient is True
    signature = url.split("sig=")[1]
    for text in (str(gone.value), str(flaky.value), repr(gone.value), caplog.text):
        assert signature not in text and url not in text


def test_no_secret_is_ever_logged(teams_bot, teams_cloud, caplog):
    caplog.set_level(logging.DEBUG)
    _bot, base_url = teams_bot
    jwt_token = teams_cloud.token()
    activity = channel_message("kpi log call", service_url=teams_cloud.service_url)
    post_activity(base_url, activity, token=jwt_token)
    post_activity(base_url, activity, token=sign_token(SigningKey.generate(),
                                                       service_url=teams_cloud.service_url))
    (reply,) = teams_cloud.connector_calls("reply")
    for secret in (APP_PASSWORD, jwt_token, reply.token):
        assert secret not in caplog.text


# ---------------------------------------------------------------------------------------------
# The same scripted session in Slack and in Teams gives the same stored events.
SESSION = [
    "log demo-booked acme",
    "log call 12",
    'log deal-won "Acme Corp" 12k',
    "log meeting-booked globex",
    "undo",
    "help",
    "log deal-lost globex reason=price",
    "log wonn acme",
]


@pytest.fixture
def both_bots(database, teams_cloud, slack_api, clock):
    settings = _settings(database, teams_cloud, SLACK_BOT_TOKEN="xoxb-test-token",
                         SLACK_SIGNING_SECRET=SLACK_SECRET, SLACK_API_URL=slack_api.base_url)
    bot = build_bot(settings, database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        yield bot, base_url


def _comparable(events):
    return [(e.kind, e.count, e.amount_minor, e.currency, e.deal_key, e.deal_name, e.reason,
             e.voided_at is not None, e.occurred_at) for e in events]


def test_the_same_session_gives_the_same_events_in_slack_and_teams(both_bots, teams_cloud,
                                                                  database):
    _bot, base_url = both_bots
    slack_texts, teams_texts = [], []
    for command in SESSION:
        status, body, _ = post_slash_command(base_url, command, secret=SLACK_SECRET,
                                             user_id="U1", team_id="T0001",
                                             channel_id="C_SALES")
        assert status == 200
        slack_texts.append(body["text"])
        activity = channel_message(f"kpi {command}", service_url=teams_cloud.service_url)
        assert _send(teams_cloud, base_url, activity)[0] in (200, 202)
        teams_texts.append(_card(teams_cloud.connector_calls("reply")[-1])["fallbackText"])

    slack_events = _events(database, "slack:T0001")
    teams_events = _events(database, WORKSPACE)
    assert len(teams_events) == 5
    assert _comparable(slack_events) == _comparable(teams_events)

    def normalise(text):
        return re.sub(r"#\d+|undo \d+", "#N", text)

    assert [normalise(t) for t in slack_texts] == [normalise(t) for t in teams_texts]


def test_get_is_not_allowed(teams_bot):
    import urllib.error
    import urllib.request

    _bot, base_url = teams_bot
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{base_url}/api/messages", timeout=5)
    assert error.value.code == 405


def test_card_json_is_plain_json(teams_bot, teams_cloud):
    _bot, base_url = teams_bot
    _send(teams_cloud, base_url, personal_message("help", service_url=teams_cloud.service_url))
    (reply,) = teams_cloud.connector_calls("reply")
    json.dumps(reply.body)  # round-trips
    assert_valid_card(_card(reply))


def test_an_unexpected_crash_is_logged_not_shown(teams_bot, teams_cloud, database, monkeypatch):
    bot, base_url = teams_bot

    class Crashing:
        context = bot.handler.context

        def handle(self, request):
            raise RuntimeError("secret internals: /srv/kpibot/db.py line 12")

    monkeypatch.setattr(bot.teams.agent, "handler", Crashing())
    activity = channel_message("kpi log call", service_url=teams_cloud.service_url)
    status, _ = _send(teams_cloud, base_url, activity)
    assert status in (200, 202)
    (reply,) = teams_cloud.connector_calls("reply")
    assert "internal error" in reply.body["text"]
    assert "secret internals" not in json.dumps(reply.body)
    assert _events(database) == []
