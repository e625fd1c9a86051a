"""The settings themselves (bot/settings.py): secrets never shown, values converted and checked
as pydantic's lax mode did, one line per bad value naming the variable, the README's table
true to the fields. Where the values come from: tests/bot/test_settings_sources.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bot.settings import Secret, Settings, SettingsError, build_settings, variables

README = Path(__file__).resolve().parents[2] / "README.md"
SECRETS = {"SLACK_BOT_TOKEN": "xoxb-very-secret-1", "SLACK_SIGNING_SECRET": "sig-very-secret-2",
           "SLACK_APP_TOKEN": "xapp-very-secret-3", "KPIBOT_TOKEN_KEY": "k-very-secret-4" * 4,
           "KPIBOT_HUBSPOT_TOKENS": "slack:T1=pat-very-secret-5",
           "TEAMS_APP_PASSWORD": "very-secret-6"}


def _settings(**values: object) -> Settings:
    return build_settings(DATABASE_URL="sqlite:///unused.db", **values)


def test_a_secret_is_masked_and_kept():
    secret = Secret("xoxb-1")
    assert (repr(secret), str(secret), secret.get_secret_value()) == (
        "Secret('**********')", "**********", "xoxb-1")
    assert not Secret("") and str(Secret("")) == ""
    assert secret == Secret("xoxb-1") and secret != Secret("xoxb-2") and secret != "xoxb-1"


def test_the_settings_repr_shows_no_secret():
    settings = _settings(**SECRETS)
    shown = f"{settings!r} {settings}"
    assert [name for name, value in SECRETS.items() if value in shown] == []
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret-1"
    assert settings.require_token_key() == SECRETS["KPIBOT_TOKEN_KEY"].encode()
    assert settings.hubspot_token("slack:T1") == "pat-very-secret-5"


@pytest.mark.parametrize(("variable", "value"), [
    ("KPIBOT_TOKEN_KEY", "short-very-secret"),
    ("KPIBOT_HUBSPOT_TOKENS", "slack:T1=pat-very-secret,pat-other-secret"),
    ("KPIBOT_HUBSPOT_TOKENS", "slack:T1=pat-very-secret,slack:T1=pat-other-secret"),
    ("SLACK_BOT_TOKEN", 12345678),
])
def test_a_bad_secret_is_named_never_shown(variable, value):
    with pytest.raises(SettingsError) as refused:
        _settings(**{variable: value})
    line = str(refused.value)
    assert line.startswith(f"bad setting {variable}: ")
    assert [shown for shown in ("very-secret", "other-secret", "12345678") if shown in line] == []
    assert "\n" not in line


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("KPIBOT_PORT", " 81 ", "port", 81),
    ("KPIBOT_PORT", "+1_000", "port", 1000),
    ("KPIBOT_PORT", "0081", "port", 81),
    ("KPIBOT_PORT", "80.00", "port", 80),
    ("KPIBOT_PORT", 80.0, "port", 80),
    ("KPIBOT_FISCAL_YEAR_START", "12", "fiscal_year_start", 12),
    ("KPIBOT_COMMAND_DEADLINE", ".5", "command_deadline", 0.5),
    ("KPIBOT_COMMAND_DEADLINE", "1e1", "command_deadline", 10.0),
    ("KPIBOT_COMMAND_DEADLINE", 3, "command_deadline", 3.0),
    ("KPIBOT_DIGEST_GRACE_HOURS", "0", "digest_grace_hours", 0.0),
    ("KPIBOT_ADMINS", "U1, U2,,", "admins", frozenset({"U1", "U2"})),
    ("KPIBOT_ADMINS", ["U1"], "admins", frozenset({"U1"})),
    ("KPIBOT_CURRENCY", " nok ", "currency", "NOK"),
    ("KPIBOT_TOKEN_KEY", "   ", "token_key", None),
    ("KPIBOT_HUBSPOT_TOKENS", "", "hubspot_tokens", None),
    ("TEAMS_APP_ID", "", "teams_app_id", ""),
])
def test_values_are_converted(variable, value, field, expected):
    assert getattr(_settings(**{variable: value}), field) == expected


@pytest.mark.parametrize(("variable", "value", "line"), [
    ("KPIBOT_PORT", "3.5", "'3.5' is not a whole number from 0 to 65535"),
    ("KPIBOT_PORT", "1e3", "'1e3' is not a whole number from 0 to 65535"),
    ("KPIBOT_PORT", "", "'' is not a whole number from 0 to 65535"),
    ("KPIBOT_PORT", "\uff18\uff11", "'\uff18\uff11' is not a whole number from 0 to 65535"),
    ("KPIBOT_PORT", "65536", "'65536' is not a whole number from 0 to 65535"),
    ("KPIBOT_DIGEST_MAX_ATTEMPTS", "0", "'0' is not a whole number from 1 to 20"),
    ("KPIBOT_API_RATE", "nan", "'nan' is not a number greater than 0 and at most 10000"),
    ("KPIBOT_DIGEST_LEASE_SECONDS", "-1", "'-1' is not a number from 0 to 86400"),
    ("KPIBOT_SHUTDOWN_GRACE_SECONDS", "inf", "'inf' is not a number from 0 to 3600"),
    ("KPIBOT_HUBSPOT_INTERVAL_MINUTES", "1x", "'1x' is not a number from 0 to 1440"),
    ("KPIBOT_PORT", "9" * 60, "'" + "9" * 36 + "... is not a whole number from 0 to 65535"),
    ("KPIBOT_ADMINS", 5, "expected user ids separated by commas"),
    ("KPIBOT_HOST", 5, "expected text, got int"),
])
def test_a_bad_value_says_what_is_expected(variable, value, line):
    with pytest.raises(SettingsError) as refused:
        _settings(**{variable: value})
    assert str(refused.value) == f"bad setting {variable}: {line}"


def test_the_first_bad_field_is_reported():
    with pytest.raises(SettingsError, match="^bad setting KPIBOT_TIMEZONE: "):
        _settings(KPIBOT_PORT="x", KPIBOT_TIMEZONE="Mars/Base")


def test_settings_are_frozen_and_replace_checks_again():
    settings = _settings(KPIBOT_ADMINS="U1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    more = dataclasses.replace(settings, admins=settings.admins | {"U2"})
    assert more.admins == frozenset({"U1", "U2"}) and settings.admins == frozenset({"U1"})
    assert dataclasses.replace(settings, port="81").port == 81
    with pytest.raises(SettingsError, match="^bad setting DATABASE_URL: "):
        dataclasses.replace(settings, database_url="mysql://x")


def test_built_directly_the_defaults_are_checked_too():
    assert Settings().database_url == "sqlite:///kpibot.db"
    assert Settings(port="5").port == 5
    with pytest.raises(SettingsError, match="^bad setting KPIBOT_TIMEZONE: 'Nowhere' is not"):
        Settings(timezone="Nowhere")


def _readme_table() -> dict[str, str]:
    """The README's settings table: variable → default cell (`A` / `B` rows split)."""
    section = README.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    table = {}
    for row in re.findall(r"^\| (`.+?) \| (.+?) \| .+ \|$", section, flags=re.M):
        names = [name.strip().strip("`") for name in row[0].split(" / ")]
        defaults = [cell.strip() for cell in row[1].split(" / ")]
        table.update(zip(names, defaults * len(names) if len(defaults) == 1 else defaults,
                         strict=True))
    return table


def test_the_readme_lists_every_setting_with_its_default():
    table = _readme_table()
    assert sorted(table) == sorted(variables())
    for item in dataclasses.fields(Settings):
        cell, default = table[item.metadata["variable"]], item.default
        if cell.startswith("`"):
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert cell == f"`{shown}`", item.name
        elif cell == "—":
            assert default is None or default == frozenset(), item.name
        else:  # a default described in words (Microsoft's endpoints)
            assert item.name.startswith("teams_"), item.name
