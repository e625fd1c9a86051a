"""A scripted Slack session, run over Socket Mode (no signing secret) and over signed HTTP:
each step gets the same answer both ways, and the session leaves the same events.

A step is one line: what Slack would POST (a slash command's fields, an interactive payload:
block_actions, view_submission, shortcut, message_action, block_suggestion; or an Events API
body) and a phrase its answer contains. tests/support/slack_transports.py sends it signed over
HTTP, or in its Socket Mode envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot.settings import build_settings
from bot.wiring import build_bot
from storage.models import Event
from tests.support.bot_server import running_server
from tests.support.slack_transports import HttpSlack, SocketSlack, slash_fields
from tests.support.socket_mode import running_socket_mode, socket_mode_server

SECRET = "session-signing-secret"


@dataclass
class Session:
    """What a step may build its request from: the workspace and the earlier answers."""

    team: str
    answers: list[dict | None] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    request: Callable[[Session], dict]  # what Slack would POST: slash fields, a payload, an event
    says: str  # a phrase of the answer (its text, or the JSON of a bare response_action)


SESSION = [
    Step(lambda s: slash_fields("log demo-booked acme", team_id=s.team, user_id="U1"),
         says="Logged demo-booked"),
    Step(lambda s: slash_fields("log deal-won acme 12k", team_id=s.team, user_id="U1"),
         says="Logged deal-won"),
    Step(lambda s: slash_fields("log call 4", team_id=s.team, user_id="U2"),
         says="Logged 4 × call"),
    Step(lambda s: slash_fields("undo", team_id=s.team, user_id="U2"), says="Undone"),
    Step(lambda s: slash_fields("log deal-lost globex reason=price", team_id=s.team,
                                user_id="U1"), says="Logged deal-lost"),
    Step(lambda s: slash_fields("win-rate this-month", team_id=s.team, user_id="U1"),
         says="50%"),
    Step(lambda s: slash_fields("digest preview", team_id=s.team, user_id="U_BOSS"),
         says="Weekly digest"),
    # Payloads of the other kinds are one line each, e.g. (interact's builders):
    # Step(lambda s: block_suggestion("deal", "ac", team=s.team), says="acme"),
]


def _text(answer: dict | None) -> str:
    if answer is None:
        return ""
    return answer.get("text") or json.dumps(answer)


def run_session(team: str, slack: HttpSlack | SocketSlack) -> list[dict | None]:
    session = Session(team=team)
    for step in SESSION:
        status, answer = slack.send(step.request(session))
        assert status == 200 and step.says in _text(answer), (step.says, status, answer)
        for block in (answer or {}).get("blocks", []):
            Block.parse(block).validate_json()
        session.answers.append(answer)
    return session.answers


def _events(database, team: str) -> list[tuple]:
    with database.read() as session:
        events = session.scalars(select(Event).where(Event.workspace_id == f"slack:{team}")
                              .order_by(Event.id)).all()
    return [(e.kind, e.deal_key, e.count, e.amount_minor, e.user_id, e.reason,
             e.voided_at is not None) for e in events]


def _settings(database, slack_api, **extra):
    return build_settings(
        DATABASE_URL=database.engine.url.render_as_string(hide_password=False),
        SLACK_BOT_TOKEN="xoxb-test-token", SLACK_API_URL=slack_api.base_url,
        KPIBOT_ADMINS="U_BOSS", KPIBOT_TIMEZONE="Europe/Oslo", **extra)


def test_the_session_over_socket_mode_gives_the_same_events_as_over_http(
        database, slack_api, clock, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    http_bot = build_bot(_settings(database, slack_api, SLACK_SIGNING_SECRET=SECRET),
                         database=database, clock=clock)
    with running_server(http_bot) as base_url:
        over_http = run_session("T_HTTP", HttpSlack(base_url, secret=SECRET))

    with socket_mode_server(slack_api) as slack:
        settings = _settings(database, slack_api, SLACK_APP_TOKEN=slack.app_token)
        assert settings.slack_signing_secret is None
        with running_socket_mode(build_bot(settings, database=database, clock=clock)):
            over_socket = run_session("T_SOCKET", SocketSlack(slack))

    assert _events(database, "T_SOCKET") == _events(database, "T_HTTP")
    assert [e[0] for e in _events(database, "T_SOCKET")] == [
        "demo-booked", "deal-won", "call", "deal-lost"]
    assert [_shape(a) for a in over_socket] == [_shape(a) for a in over_http]


def _shape(answer: dict | None) -> tuple:
    """An answer without what differs between workspaces and runs (ids, names)."""
    if answer is None:
        return ()
    return (answer.get("response_type"), answer.get("response_action"),
            [b.get("type") for b in answer.get("blocks", [])])


@pytest.fixture(autouse=True)
def _no_signing_secret_in_the_environment(monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
