"""The scripted logging session in Teams, with card actions (Action.Submit activities signed
like every Bot Connector request): the same events as Slack's modal session."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.settings import build_settings
from bot.teams.cards import CONTENT_TYPE
from bot.wiring import build_bot
from storage.models import Event
from tests.bot.teams.card_schema import assert_valid_card
from tests.support.teams import (
    APP_ID,
    APP_PASSWORD,
    TENANT_ID,
    personal_message,
    post_activity,
    running_bot_server,
    user,
)

WORKSPACE = f"teams:{TENANT_ID}"
BOB = user("aad-bob", "Bob Rep")


@pytest.fixture
def teams_bot(database, teams_cloud, clock):
    settings = build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=APP_PASSWORD,
        TEAMS_OPENID_METADATA_URL=teams_cloud.metadata_url,
        TEAMS_CONNECTOR_TOKEN_URL=teams_cloud.token_url,
        KPIBOT_ADMINS="aad-boss", KPIBOT_TIMEZONE="Europe/Oslo", KPIBOT_COMMAND_DEADLINE="30")
    bot = build_bot(settings, database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        yield bot, base_url


def _events(database):
    with database.read() as session:
        return list(session.scalars(select(Event).where(Event.workspace_id == WORKSPACE)
                                 .order_by(Event.id)).all())


def _card_of(call) -> dict:
    (attachment,) = call.body["attachments"]
    assert attachment["contentType"] == CONTENT_TYPE
    card = attachment["content"]
    assert_valid_card(card)
    return card


class Chat:
    """One person's 1:1 chat with the bot: each send returns the card that came back."""

    def __init__(self, cloud, base_url, sender=None) -> None:
        self.cloud, self.base_url, self.sender = cloud, base_url, sender or user()

    def send(self, text: str = "", value: dict | None = None) -> dict:
        activity = personal_message(text, service_url=self.cloud.service_url,
                                    sender=self.sender)
        if value is not None:
            activity["value"] = value
        count = len(self.cloud.connector_calls("reply"))
        status, _ = post_activity(self.base_url, activity, token=self.cloud.token())
        assert status in (200, 202)
        return _card_of(self.cloud.wait_for_replies(count + 1)[-1])


def _texts(card: dict) -> str:
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("text", "title", "label"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(card)
    return "\n".join(found)


def _submit_data(card: dict, title: str) -> dict:
    (action,) = [a for a in card.get("actions", []) if a["title"] == title]
    assert action["type"] == "Action.Submit"
    return dict(action["data"])


def test_logging_card_session_stores_once_and_undo_voids_once(teams_bot, teams_cloud,
                                                              database):
    _bot, base_url = teams_bot
    chat = Chat(teams_cloud, base_url)
    form = chat.send("kpi log")
    assert {item.get("id") for item in form["body"]} >= {"kind", "deal", "amount", "date"}
    submit = _submit_data(form, "Log it")

    bad = {**submit, "kind": "deal-won", "deal": "acme", "amount": "12kk", "currency": "USD"}
    again = chat.send(value=bad)
    assert "12kk" in _texts(again) and _events(database) == []
    ids = [item.get("id") for item in again["body"]]
    problem = again["body"][ids.index("amount") + 1]  # the message right under the field
    assert "12kk" in _texts(problem)
    assert _submit_data(again, "Log it")["form"] == submit["form"]

    good = {**bad, "amount": "12k", "note": "signed <@U2> & co"}
    confirmations = [chat.send(value=good) for _attempt in range(2)]  # submitted twice
    (won,) = _events(database)
    assert (won.kind, won.deal_key, won.amount_minor, won.user_id, won.note) == (
        "deal-won", "acme", 1_200_000, "aad-alice", "signed <@U2> & co")
    assert f"#{won.id}" in _texts(confirmations[0])
    assert "already stored" in _texts(confirmations[1])

    undo = _submit_data(confirmations[0], "Undo")
    assert f"Undone #{won.id}" in _texts(chat.send(value=undo))
    assert "already undone" in _texts(chat.send(value=undo))
    (voided,) = _events(database)
    assert voided.voided_at is not None and voided.voided_by == "aad-alice"


def test_card_undo_is_refused_for_another_person_or_a_changed_value(teams_bot, teams_cloud,
                                                                    database):
    _bot, base_url = teams_bot
    alice = Chat(teams_cloud, base_url)
    undo = _submit_data(alice.send("kpi log call 3"), "Undo")
    bob = Chat(teams_cloud, base_url, sender=BOB)
    assert "someone else" in _texts(bob.send(value=undo))
    changed = {**undo, "value": undo["value"].replace(".undo.", ".undo.9")}
    assert "does not belong" in _texts(alice.send(value=changed))
    assert "did not recognise" in _texts(alice.send(value={"kpibot": "log", "form": "../x"}))
    (event,) = _events(database)
    assert event.voided_at is None
