"""Where settings come from (bot/settings.py `build_settings`), as pydantic-settings read them
before kpibot read them itself: `build_settings`' arguments, then the environment, then `.env`
in the working folder, then the defaults; a variable's name in any case; a field's own name
after its variable."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, build_settings


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty working folder and an environment without kpibot's variables."""
    import os

    for name in list(os.environ):
        if name.upper().startswith(("KPIBOT_", "SLACK_", "TEAMS_", "DATABASE_", "HUBSPOT_")) \
                or name.upper() in {"HOST", "PORT", "TIMEZONE", "CURRENCY", "ADMINS"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_without_environment_or_env_file(folder):
    settings = build_settings()
    assert (settings.database_url, settings.port, settings.currency, settings.admins,
            settings.slack_bot_token, settings.token_key) == (
        "sqlite:///kpibot.db", 3000, "USD", frozenset(), None, None)


def test_arguments_then_environment_then_env_file(folder, monkeypatch):
    (folder / ".env").write_text("KPIBOT_PORT=5000\nKPIBOT_HOST=0.0.0.0\nKPIBOT_CURRENCY=nok\n")
    monkeypatch.setenv("KPIBOT_PORT", "6000")
    monkeypatch.setenv("KPIBOT_HOST", "10.0.0.1")
    settings = build_settings(KPIBOT_HOST="10.0.0.2")
    assert (settings.host, settings.port, settings.currency) == ("10.0.0.2", 6000, "NOK")
    assert build_settings(port=7000).port == 7000  # an argument by the field's name too


def test_names_in_any_case_and_the_field_name_after_the_variable(folder, monkeypatch):
    monkeypatch.setenv("kpibot_admins", "U1, U2,")
    monkeypatch.setenv("Kpibot_Timezone", "Europe/Oslo")
    monkeypatch.setenv("PORT", "81")  # the field's own name, as pydantic-settings read it
    assert build_settings().admins == frozenset({"U1", "U2"})
    assert build_settings().timezone == "Europe/Oslo"
    assert build_settings().port == 81
    monkeypatch.setenv("KPIBOT_PORT", "82")
    assert build_settings().port == 82


def test_env_file_syntax(folder, monkeypatch):
    """python-dotenv's syntax: comments, `export`, quotes, ${VAR} from the environment."""
    monkeypatch.setenv("LEVEL", "DEBUG")
    (folder / ".env").write_text(
        "# the bot\nexport SLACK_BOT_TOKEN='xoxb-1 2'\nKPIBOT_ADMINS=\"A,B\"\n"
        "KPIBOT_LOG_LEVEL=${LEVEL}\nKPIBOT_TOKEN_KEY=\nKPIBOT_HOST\n")
    settings = build_settings()
    assert settings.slack_bot_token.get_secret_value() == "xoxb-1 2"
    assert settings.admins == frozenset({"A", "B"})
    assert settings.log_level == "DEBUG"
    assert settings.token_key is None  # empty: off
    assert settings.host == "127.0.0.1"  # a name without a value sets nothing


@pytest.mark.parametrize(("variable", "value", "line"), [
    ("KPIBOT_PORT", "abc", "bad setting KPIBOT_PORT: 'abc' is not a whole number from 0 to "
                           "65535"),
    ("KPIBOT_FISCAL_YEAR_START", "13", "bad setting KPIBOT_FISCAL_YEAR_START: '13' is not a "
                                       "whole number from 1 to 12"),
    ("KPIBOT_COMMAND_DEADLINE", "0", "bad setting KPIBOT_COMMAND_DEADLINE: '0' is not a number "
                                     "greater than 0 and at most 60"),
    ("KPIBOT_TIMEZONE", "Mars/Base", "bad setting KPIBOT_TIMEZONE: 'Mars/Base' is not an IANA "
                                     "time zone such as Europe/Oslo"),
    ("KPIBOT_CURRENCY", "dollars", "bad setting KPIBOT_CURRENCY: 'dollars' is not an ISO 4217 "
                                   "currency code"),
    ("DATABASE_URL", "mysql://x", "bad setting DATABASE_URL: must start with sqlite:/// or "
                                  "postgresql+psycopg://"),
])
def test_a_bad_value_is_one_line_naming_the_variable(folder, monkeypatch, variable, value,
                                                     line):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        build_settings()
    assert str(refused.value) == line


def test_a_bad_value_in_env_file_too(folder):
    (folder / ".env").write_text("KPIBOT_FISCAL_YEAR_START=13\n")
    with pytest.raises(SettingsError, match="^bad setting KPIBOT_FISCAL_YEAR_START: "):
        build_settings()
