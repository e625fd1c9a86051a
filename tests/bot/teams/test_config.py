"""Teams settings: one clear line when something is missing; the right default endpoints."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, build_settings
from bot.teams.auth import DEFAULT_OPENID_METADATA_URL, MULTI_TENANT_TOKEN_URL
from bot.teams.config import TeamsConfig
from bot.wiring import build_bot
from storage.engine import Database
from tests.support.teams import APP_ID, APP_PASSWORD


def _settings(**values):
    return build_settings(DATABASE_URL="sqlite:///unused.db", **values)


def test_defaults_are_microsofts_endpoints():
    config = TeamsConfig.from_settings(_settings(TEAMS_APP_ID=APP_ID,
                                                 TEAMS_APP_PASSWORD=APP_PASSWORD))
    assert config.openid_metadata_url == DEFAULT_OPENID_METADATA_URL
    assert config.token_url == MULTI_TENANT_TOKEN_URL
    assert APP_PASSWORD not in repr(config)


def test_single_tenant_bots_get_tokens_from_their_tenant():
    config = TeamsConfig.from_settings(_settings(TEAMS_APP_ID=APP_ID,
                                                 TEAMS_APP_PASSWORD=APP_PASSWORD,
                                                 TEAMS_TENANT_ID="tid-1"))
    assert config.token_url == "https://login.microsoftonline.com/tid-1/oauth2/v2.0/token"
    override = TeamsConfig.from_settings(_settings(
        TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=APP_PASSWORD, TEAMS_TENANT_ID="tid-1",
        TEAMS_CONNECTOR_TOKEN_URL="http://127.0.0.1:1/token"))
    assert override.token_url == "http://127.0.0.1:1/token"


@pytest.mark.parametrize(("values", "message"), [
    ({"TEAMS_APP_ID": APP_ID}, "missing setting TEAMS_APP_PASSWORD"),
    ({"TEAMS_APP_ID": APP_ID, "TEAMS_APP_PASSWORD": APP_PASSWORD,
      "TEAMS_OPENID_METADATA_URL": "file:///etc/passwd"}, "TEAMS_OPENID_METADATA_URL"),
])
def test_bad_settings_fail_with_one_line(values, message):
    with pytest.raises(SettingsError, match=message) as error:
        TeamsConfig.from_settings(_settings(**values))
    assert "\n" not in str(error.value)


def test_the_bot_gets_teams_only_when_configured(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path}/k.db")
    try:
        assert build_bot(_settings(), database=database).teams is None
        bot = build_bot(_settings(TEAMS_APP_ID=APP_ID, TEAMS_APP_PASSWORD=APP_PASSWORD),
                        database=database)
        assert bot.teams is not None and bot.slack_app is None
        assert bot.teams.config.app_id == APP_ID
    finally:
        database.dispose()
