"""Slack over real HTTP: signed slash commands into the running app, on both databases."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from bot.settings import build_settings
from bot.wiring import build_bot
from storage.models import Event
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "test-signing-secret"


@pytest.fixture
def slack_bot(database, slack_api, clock):
    settings = build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api.base_url,
        KPIBOT_ADMINS="U_BOSS",
        KPIBOT_TIMEZONE="Europe/Oslo",
    )
    bot = build_bot(settings, database=database, clock=clock)
    with running_server(bot) as base_url:
        yield bot, base_url


def _post(base_url, text, **fields):
    return post_slash_command(base_url, text, secret=SECRET, **fields)


def _events(database, team="T0001"):
    with database.read() as session:
        return session.scalars(
            select(Event).where(Event.workspace_id == f"slack:{team}").order_by(Event.id)
        ).all()


def test_signed_log_is_stored_and_confirmed(slack_bot, database):
    _bot, base_url = slack_bot
    status, body, _ = _post(base_url, "log demo-booked acme", user_id="U1", team_id="T0001",
                            channel_id="C_SALES")
    assert status == 200
    assert body["response_type"] == "ephemeral"
    assert "Logged demo-booked" in body["text"] and "/kpi undo" in body["text"]
    (event,) = _events(database)
    assert (event.kind, event.deal_key, event.user_id, event.channel_id) == (
        "demo-booked", "acme", "U1", "C_SALES")
    assert f"#{event.id}" in body["text"]


@pytest.mark.parametrize("fault", [
    {"bad_signature": True},
    {"omit_signature": True},
    {"omit_timestamp": True},
    {"timestamp": int(time.time()) - 6 * 60},
])
def test_unsigned_or_stale_requests_get_401_and_store_nothing(slack_bot, database, fault):
    _bot, base_url = slack_bot
    status, _body, _ = _post(base_url, "log demo-booked acme", **fault)
    assert status == 401
    assert _events(database) == []


def test_same_trigger_id_twice_stores_one_event(slack_bot, database):
    _bot, base_url = slack_bot
    first = _post(base_url, "log call 12", trigger_id="1337.42.abc")
    second = _post(base_url, "log call 12", trigger_id="1337.42.abc")
    assert first[0] == second[0] == 200
    (event,) = _events(database)
    assert event.count == 12
    assert "already stored" in second[1]["text"]
    assert f"#{event.id}" in second[1]["text"]


def test_teams_never_see_each_others_events(slack_bot, database):
    _bot, base_url = slack_bot
    _post(base_url, "log won acme 12k", team_id="T_ONE", user_id="U1")
    status, body, _ = _post(base_url, "undo", team_id="T_TWO", user_id="U1")
    assert status == 200 and "nothing to undo" in body["text"]
    event_id = _events(database, "T_ONE")[0].id
    status, body, _ = _post(base_url, f"undo {event_id}", team_id="T_TWO", user_id="U1")
    assert f"no event #{event_id} in this workspace" in body["text"]
    assert _events(database, "T_ONE")[0].voided_at is None
    assert _events(database, "T_TWO") == []


# Every mistake and its words: tests/bot/handlers/test_log_commands.py; here, its Block Kit.
@pytest.mark.parametrize(("text", "problem"), [
    ("log wonn acme", '"wonn"'),
])
def test_bad_log_commands_name_the_problem_and_store_nothing(slack_bot, database, text,
                                                             problem):
    _bot, base_url = slack_bot
    status, body, _ = _post(base_url, text)
    assert status == 200
    assert problem.lower() in body["text"].lower()
    assert "Example: /kpi" in body["text"]
    assert body["blocks"][0]["text"]["text"].startswith(":warning:")
    assert _events(database) == []


def test_only_the_logger_or_an_admin_can_undo_an_event_by_id(slack_bot, database, slack_api):
    _bot, base_url = slack_bot
    _post(base_url, "log call 3", user_id="U1")
    event_id = _events(database)[0].id
    _, body, _ = _post(base_url, f"undo {event_id}", user_id="U2")
    assert "only they or an admin" in body["text"]
    assert _events(database)[0].voided_at is None
    slack_api.set_user("U_OWNER", is_owner=True)
    _, body, _ = _post(base_url, f"undo #{event_id}", user_id="U_OWNER")
    assert f"Undone #{event_id}" in body["text"]
    assert _events(database)[0].voided_by == "U_OWNER"


def test_public_posts_in_channel(slack_bot):
    _bot, base_url = slack_bot
    _, body, _ = _post(base_url, "log call 2 public")
    assert body["response_type"] == "in_channel"
    _, body, _ = _post(base_url, "log call 2!")
    assert body["response_type"] == "in_channel"


def test_user_text_cannot_mention_channel_or_break_markup(slack_bot, database):
    _bot, base_url = slack_bot
    _, body, _ = _post(base_url, 'log demo-booked "<!channel> *bold* <http://x|y>"')
    (event,) = _events(database)
    assert event.deal_name == "<!channel> *bold* <http://x|y>"
    for block in body["blocks"]:
        for text in _texts(block):
            if text["type"] == "mrkdwn":
                assert "<!channel>" not in text["text"] and "<http" not in text["text"]
    assert any("<!channel> *bold*" in t["text"] for b in body["blocks"] for t in _texts(b)
               if t["type"] == "plain_text")


def test_help_and_list_answer(slack_bot):
    _bot, base_url = slack_bot
    _, body, _ = _post(base_url, "help")
    assert "/kpi log" in json.dumps(body)
    _, body, _ = _post(base_url, "help log")
    assert "undo hint" in body["text"] or "Stores one event" in body["text"]


def test_healthz_reports_the_database(slack_bot, database):
    import urllib.request

    _bot, base_url = slack_bot
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
        payload = json.loads(response.read())
    assert payload == {"ok": True, "database": database.dialect}


def _texts(block: dict) -> list[dict]:
    texts = []
    if "text" in block:
        texts.append(block["text"])
    texts.extend(block.get("fields", []))
    texts.extend(e for e in block.get("elements", []) if "type" in e and "text" in e)
    return texts


def test_a_slash_command_is_matched_by_the_first_listener_bolt_tries(slack_bot, monkeypatch):
    """Bolt tries its listeners in the order they were added, building each one's arguments
    for every try: the slash command's listener comes first, so a command costs one try, not
    one per interactive listener (buttons, modals, shortcuts, Home) ahead of it. A button's
    click still reaches its own listener (tests/bot/slack/test_interactive_http.py)."""
    from slack_bolt.listener.async_listener import AsyncListener

    tries: list[bool] = []
    matches = AsyncListener.async_matches

    async def counted(self, *, req, resp):
        matched = await matches(self, req=req, resp=resp)
        tries.append(matched)
        return matched

    monkeypatch.setattr(AsyncListener, "async_matches", counted)
    _bot, base_url = slack_bot
    for text in ("ping", "log call 2"):
        tries.clear()
        status, body, _ = _post(base_url, text)
        assert status == 200 and body["text"]
        assert tries == [True], text
