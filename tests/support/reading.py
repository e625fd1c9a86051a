"""What a person reads, checked in any language: no raw value (unformatted float, cents,
None, True/False, a `{placeholder}` left over) and, in a non-English view, no English word
left untranslated. The English words are those of the catalog template (every msgid), less
the words kpibot keeps in every language (KPI and command words, currency codes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from babel.dates import get_day_names, get_month_names
from babel.messages.pofile import read_po

from reports.events import KINDS
from reports.i18n import babel_locale
from reports.slack_text import slack_escape

TEMPLATE = Path(__file__).resolve().parents[2] / "reports" / "locale" / "kpibot.pot"
# Words a translation keeps: acronyms, sales words the teams use as is, the product's name
ALLOWED = {"mql", "sql", "mrr", "roi", "ctr", "cac", "clv", "arpc", "lead", "demo", "churn",
           "kpibot", "kpi", "usd", "eur", "total",
           "channel",  # Slack's @channel (`<!channel>`, in a name a user typed) in any language
           "en", "nb", "sv", "ro", "zh"}  # language codes (`lang=en`) are no English words
# Words that are the same in that language ("Aktivitet per selger", "Timp median")
SAME_WORD = {"nb": {"per", "under", "over", "for", "leads", "median"},
             "sv": {"per", "under", "leads", "median"},
             "ro": {"median", "note", "marketing", "spam"}}
# A command to type stays in English: `/kpi quota set @rep AMOUNT`, `/kpi undo [ID]`
_COMMAND = re.compile(r"/kpi(?:\s+(?:[a-z0-9@<][\w@<>|.=-]*|[A-Z]{2,}|\[[^\]]*\]|\.\.\.))*")
_WORD = re.compile(r"[^\W\d_]+")
_RAW = [(re.compile(r"\bNone\b"), "None"), (re.compile(r"\b(?:True|False)\b"), "a boolean"),
        (re.compile(r"\d[.,]\d{4,}"), "an unformatted float"),
        (re.compile(r"(?<![\w#-])\d{5,}"), "an ungrouped number (cents?)"),
        (re.compile(r"\{[a-z_]+\}"), "a placeholder")]


@cache
def calendar_words(language: str) -> frozenset[str]:
    """The words of the month and day names of `language` ("nov." is Norwegian too)."""
    locale = babel_locale(language)
    names = [name for width in ("abbreviated", "wide")
             for names in (get_month_names(width, locale=locale),
                           get_day_names(width, locale=locale))
             for name in names.values()]
    return frozenset(w.lower() for name in names for w in _WORD.findall(name))


@cache
def english_words() -> frozenset[str]:
    with TEMPLATE.open("rb") as po:
        catalog = read_po(po)
    words = set()
    for message in catalog:
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
            words |= {w.lower() for w in _WORD.findall(_COMMAND.sub(" ", text))}
    return frozenset(w for w in words if len(w) > 1) - ALLOWED


def raw_values(texts: Iterable[str]) -> list[str]:
    """Each raw value a person would see, with the text it is in."""
    return [f"{what}: {text!r}" for text in texts for pattern, what in _RAW
            if pattern.search(text)]


def english_left(texts: Iterable[str], language: str, *,
                 names: Iterable[str] = (), allowed: Iterable[str] = ()) -> list[str]:
    """The English words in `texts` (a view in `language`), with the text they are in;
    `names` (people, deals, reasons: what users typed) are left out first, and `allowed`
    words (command words the view names, like `monthly` or `lang=`) are no English."""
    found = []
    english = (english_words() - SAME_WORD.get(language, set()) - calendar_words(language)
               - {word.lower() for word in allowed})
    kinds = sorted(KINDS, key=len, reverse=True)
    for text in texts:
        rest = _COMMAND.sub(" ", text)
        for name in sorted(names, key=len, reverse=True):  # as typed, or as Slack shows it
            rest = rest.replace(name, " ").replace(slack_escape(name), " ")
        for kind in kinds:  # event kinds are command words (`/kpi log demo-booked`)
            rest = rest.replace(kind, " ")
        words = {w for w in _WORD.findall(rest) if w.lower() in english}
        found += [f"{sorted(words)}: {text!r}"] if words else []
    return found


def strings_of(value: object, keys: tuple[str, ...] = ("text", "title", "value",
                                                      "fallbackText")) -> list[str]:
    """The strings a person reads in a Slack or Teams JSON payload."""
    if isinstance(value, dict):
        return [s for k, v in value.items()
                for s in ([v] if k in keys and isinstance(v, str) else strings_of(v, keys))]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item, keys)]
    return []
