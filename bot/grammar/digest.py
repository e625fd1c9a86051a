"""`/kpi digest off|list|preview|now|status` and `/kpi digest here ...` (cadence, day, time,
zone, language, webhook)."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from datetime import time

from bot.grammar.commands import DigestCommand, DigestHereCommand
from bot.grammar.errors import UsageError, did_you_mean, meant, q
from bot.grammar.reading import Context, no_arguments, once
from bot.grammar.tokens import Token, option_of
from reports.languages import LANGUAGES, language_code
from reports.text import Text

_DIGEST_ACTIONS = ("here", "off", "list", "preview", "now", "status")


def parse_digest(tokens: Sequence[Token], ctx: Context) -> DigestCommand:
    """`/kpi digest off|list|preview|now|status`"""
    if not tokens:
        raise UsageError(Text("/kpi digest needs an action: {actions}.",
                              actions=", ".join(_DIGEST_ACTIONS)))
    action = tokens[0].word  # `digest here` is its own command (parse_digest_here)
    if action not in _DIGEST_ACTIONS:
        word = tokens[0].text
        raise UsageError(Text("{word} is not a digest action.", word=q(word))
                         + did_you_mean(word, _DIGEST_ACTIONS)
                         + Text("Actions: {actions}.", actions=", ".join(_DIGEST_ACTIONS)))
    no_arguments(tokens[1:], f"digest {action}")
    return DigestCommand(action=action, public=ctx.public)


_WEEKDAYS = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2,
             "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4,
             "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6}
_MONTH_DAY_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?", re.IGNORECASE | re.ASCII)
_TIME_RE = re.compile(r"(\d{1,2})(?::(\d{2}))?([ap]\.?m\.?)?", re.IGNORECASE | re.ASCII)
_TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")


def parse_digest_here(tokens: Sequence[Token], ctx: Context) -> DigestHereCommand:
    """`/kpi digest here [weekly DAY HH:MM|monthly DAY HH:MM] [TZ] [lang=xx]`

    Posts the digest into this channel; weekly on Monday at 09:00 unless told otherwise.
    DAY is mon..sun for weekly, 1..28 or `last` for monthly.
    """
    cadence = weekday = month_day = at = tz = lang = webhook = None
    weekday_word = ""
    for token in tokens:
        word = token.word or ""
        option = option_of(token)
        if option is not None and option[0] == "webhook":
            once(webhook, token, Text("webhook"))
            webhook = option[1].strip()
            if not webhook.lower().startswith(("https://", "http://")):
                raise UsageError(Text("{option} takes the Teams Workflows URL (https://...).",
                                      option="webhook="))
        elif option is not None:
            if option[0] != "lang":
                raise UsageError(Text("{word}: the options here are {first} and {second}.",
                                      word=q(token.text), first="lang=", second="webhook="))
            once(lang, token, Text("language"))
            lang = _language(option[1])
        elif word in ("weekly", "monthly"):
            once(cadence, token, Text("cadence"))
            cadence = word
        elif word in _WEEKDAYS:
            once(weekday, token, Text("weekday"))
            weekday, weekday_word = _WEEKDAYS[word], token.text
        elif word == "last" or _MONTH_DAY_RE.fullmatch(word):
            once(month_day, token, Text("day of the month"))
            month_day = -1 if word == "last" else int(_MONTH_DAY_RE.fullmatch(word).group(1))
            if not (month_day == -1 or 1 <= month_day <= 28):
                raise UsageError(Text("{word}: monthly digests go out on day 1 to 28, or "
                                      "{last}.", word=q(token.text), last="last"))
        elif _TIME_RE.fullmatch(word) and (":" in word or "m" in word):
            once(at, token, Text("time"))
            at = _clock(token.text)
        else:
            once(tz, token, Text("time zone"))
            tz = _time_zone(token.text)
    if cadence is None:
        cadence = "monthly" if month_day is not None and weekday is None else "weekly"
    if cadence == "weekly" and month_day is not None:
        given = str(month_day) if month_day > 0 else "last"
        raise UsageError(Text("{day} is a day of the month, but weekly digests take a weekday "
                              "like mon (write the time like 09:00).", day=q(given)))
    if cadence == "monthly" and weekday is not None:
        raise UsageError(Text("{day} is a weekday, but monthly digests take a day of the "
                              "month: 1 to 28, or {last}.", day=q(weekday_word), last="last"))
    day = (weekday or 0) if cadence == "weekly" else (month_day or 1)
    return DigestHereCommand(cadence=cadence, day=day, time=at or time(9, 0), tz=tz, lang=lang,
                             webhook=webhook, public=ctx.public)


def _clock(text: str) -> time:
    match = _TIME_RE.fullmatch(text)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            raise UsageError(Text("{word} is not a time of day.", word=q(text)))
        hour = hour % 12 + (12 if match.group(3)[0].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        raise UsageError(Text("{word} is not a time of day; use 24-hour HH:MM like 09:00.",
                              word=q(text)))
    return time(hour, minute)


def _language(value: str) -> str:
    code = language_code(value)
    if code is None:
        raise UsageError(Text("{word} is not a digest language; choose one of {languages}.",
                              word=q(value), languages=", ".join(LANGUAGES)))
    return code


@functools.cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _time_zone(text: str) -> str:
    """The IANA name of a time zone, matched case-insensitively (`europe/oslo`)."""
    name = _zones().get(text.lower())
    if name is None and not _zones() and _TZ_RE.fullmatch(text):
        name = text  # no zone list on this system: let ZoneInfo decide
    if name is not None:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return name
    city = text.lower().replace(" ", "_")
    found = [zone for key, zone in _zones().items() if key.rsplit("/", 1)[-1] == city]
    hint = meant(found[0]) if found else did_you_mean(text, _zones().values())
    raise UsageError(Text("{word} is not a time zone.", word=q(text))
                     + (hint or Text("Use a name like Europe/Oslo.")))
