"""The running bot over signed HTTP (or Socket Mode) with the Slack stand-in and its views."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.settings import build_settings
from bot.wiring import build_bot
from storage.models import Event
from tests.support.bot_server import running_server
from tests.support.slack_transports import HttpSlack, SocketSlack
from tests.support.slack_views import slack_views  # noqa: F401  (fixture)
from tests.support.socket_mode import running_socket_mode, socket_mode_server

SECRET = "test-signing-secret"


def slack_settings(database, slack_api, **extra):
    return build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_API_URL=slack_api.base_url,
        KPIBOT_ADMINS="U_BOSS",
        KPIBOT_TIMEZONE="Europe/Oslo",
        KPIBOT_COMMAND_DEADLINE="30",
        **extra,
    )


@pytest.fixture
def slack_bot(database, slack_api, slack_views, clock):  # noqa: F811
    settings = slack_settings(database, slack_api, SLACK_SIGNING_SECRET=SECRET)
    bot = build_bot(settings, database=database, clock=clock)
    with running_server(bot) as base_url:
        yield bot, base_url


@pytest.fixture(params=["http", "socket_mode"])
def slack_transport(request, database, slack_api, slack_views, clock,  # noqa: F811
                    monkeypatch):
    """The running bot, reached as Slack would: signed HTTP POSTs, or Socket Mode envelopes
    through the local stand-in with no signing secret set anywhere."""
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    if request.param == "http":
        settings = slack_settings(database, slack_api, SLACK_SIGNING_SECRET=SECRET)
        with running_server(build_bot(settings, database=database, clock=clock)) as base_url:
            yield HttpSlack(base_url, secret=SECRET)
        return
    with socket_mode_server(slack_api) as server:
        settings = slack_settings(database, slack_api, SLACK_APP_TOKEN=server.app_token)
        assert settings.slack_signing_secret is None
        with running_socket_mode(build_bot(settings, database=database, clock=clock)):
            yield SocketSlack(server)


def stored_events(database, team: str = "T0001") -> list[Event]:
    with database.read() as session:
        return list(session.scalars(
            select(Event).where(Event.workspace_id == f"slack:{team}").order_by(Event.id)
        ).all())
