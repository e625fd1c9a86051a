"""Fixtures of the golden scenario: recorded in the test's database (`golden`), and behind the
running bot, asked over signed Slack requests (`bot`).
"""

from __future__ import annotations

import json

import pytest

from tests.golden.scenario import (
    ANA,
    NOW,
    TZ,
    WORKSPACE,
    Golden,
    record_scenario,
)


@pytest.fixture
def golden(database) -> Golden:
    record_scenario(database)
    return Golden(database)


SECRET = "golden-signing-secret"
TEAM = WORKSPACE.removeprefix("slack:")


@pytest.fixture
def bot(golden, database, slack_api, clock):
    """The golden scenario behind the running app, its clock at NOW; yields (ask, settings)."""
    from bot.settings import build_settings
    from bot.wiring import build_bot
    from tests.support.bot_server import running_server
    from tests.support.slack_signing import post_slash_command

    clock.now = NOW
    url = database.engine.url.render_as_string(hide_password=False)
    settings = build_settings(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-test",
                              SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url,
                              KPIBOT_TIMEZONE=TZ)
    app = build_bot(settings, database=database, clock=clock)
    with running_server(app) as base_url:
        def ask(text: str, user: str = ANA) -> str:
            status, body, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                                 user_id=user)
            assert status == 200
            return json.dumps(body, ensure_ascii=False)
        yield ask, settings
