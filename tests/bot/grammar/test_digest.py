"""`/kpi digest ...`: every form, and the error for each mistake."""

from __future__ import annotations

from datetime import time

import pytest

from bot.grammar import (
    COMMAND_USAGE,
    DigestCommand,
    DigestHereCommand,
)
from tests.bot.grammar.common import fails, parse

# ----------------------------------------------------------------------------- digest


@pytest.mark.parametrize("text, command", [
    ("digest here", DigestHereCommand("weekly", 0, time(9, 0))),
    ("digest here weekly fri 16:30",
     DigestHereCommand("weekly", 4, time(16, 30))),
    ("digest here weekly Sunday 8:05", DigestHereCommand("weekly", 6, time(8, 5))),
    ("digest here monthly 15 08:00", DigestHereCommand("monthly", 15, time(8, 0))),
    ("digest here monthly 1st", DigestHereCommand("monthly", 1, time(9, 0))),
    ("digest here monthly last 17:00", DigestHereCommand("monthly", -1, time(17, 0))),
    ("digest here monthly", DigestHereCommand("monthly", 1, time(9, 0))),
    ("digest here tue", DigestHereCommand("weekly", 1, time(9, 0))),
    ("digest here 4pm", DigestHereCommand("weekly", 0, time(16, 0))),
    ("digest here 12am", DigestHereCommand("weekly", 0, time(0, 0))),
    ("digest here weekly mon 09:00 Europe/Oslo",
     DigestHereCommand("weekly", 0, time(9, 0), "Europe/Oslo")),
    ("digest here europe/oslo", DigestHereCommand(tz="Europe/Oslo")),
    ("digest here UTC", DigestHereCommand(tz="UTC")),
    ("digest here America/New_York lang=en",
     DigestHereCommand(tz="America/New_York", lang="en")),
    ("digest here lang=no", DigestHereCommand(lang="nb")),
    ("digest here lang=zh-CN", DigestHereCommand(lang="zh")),
    ("digest here lang=sv!", DigestHereCommand(lang="sv", public=True)),
    ("digest here lang=ro", DigestHereCommand(lang="ro")),
    ("digest here lang=NB", DigestHereCommand(lang="nb")),
])
def test_digest_here(text, command):
    assert parse(text) == command


@pytest.mark.parametrize("text, fragments", [
    ("digest here monthly 29", ['"29"', "1 to 28"]),
    ("digest here weekly 15", ['"15"', "weekday"]),
    ("digest here monthly fri", ['"fri" is a weekday', "1 to 28"]),
    ("digest here weekly 25:00", ['"25:00"', "time of day"]),
    ("digest here weekly 9:75", ['"9:75"', "time of day"]),
    ("digest here 13pm", ['"13pm"', "time of day"]),
    ("digest here Mars/Base", ['"Mars/Base"', "not a time zone"]),
    ("digest here oslo", ['"oslo"', 'did you mean "Europe/Oslo"']),
    ("digest here ../../etc/passwd", ["not a time zone"]),
    ("digest here lang=fr", ['"fr"', "en, nb, sv, ro, zh"]),
    ("digest here lang=en lang=sv", ["second language"]),
    ("digest here tz=UTC", ['"tz=UTC"', "lang="]),
    ("digest here weekly monthly", ['"monthly"', "second cadence"]),
    ("digest here UTC Europe/Oslo", ['"Europe/Oslo"', "second time zone"]),
])
def test_digest_here_errors(text, fragments):
    error = fails(text, *fragments)
    assert error.usage == COMMAND_USAGE["digest here"][0]


@pytest.mark.parametrize("action", ["off", "list", "preview", "now", "status"])
def test_digest_actions(action):
    assert parse(f"digest {action}") == DigestCommand(action)
    assert parse(f"DIGEST {action.upper()}!") == DigestCommand(action, public=True)


def test_digest_errors():
    fails("digest", "needs an action")
    fails("digest prevew", '"prevew"', 'did you mean "preview"')
    fails("digest off now", '"now"')
