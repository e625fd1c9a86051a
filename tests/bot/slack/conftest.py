"""The running bot over signed HTTP with the Slack stand-in and its view methods."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.settings import build_settings
from bot.wiring import build_bot
from storage.models import Event
from tests.support.bot_server import running_server
from tests.support.slack_views import slack_views  # noqa: F401  (fixture)

SECRET = "test-signing-secret"


@pytest.fixture
def slack_bot(database, slack_api, slack_views, clock):  # noqa: F811
    settings = build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api.base_url,
        KPIBOT_ADMINS="U_BOSS",
        KPIBOT_TIMEZONE="Europe/Oslo",
        KPIBOT_COMMAND_DEADLINE="30",
    )
    bot = build_bot(settings, database=database, clock=clock)
    with running_server(bot) as base_url:
        yield bot, base_url


def stored_events(database, team: str = "T0001") -> list[Event]:
    with database.read() as session:
        return list(session.exec(
            select(Event).where(Event.workspace_id == f"slack:{team}").order_by(Event.id)
        ).all())
