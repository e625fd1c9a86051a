"""Words a person types that `bot.grammar` reads as meant, or asks about (SPEC section 4).

Sloppy input is asked about, never guessed into storage. This module finds the doubtful words;
the grammar decides what to do with them. Pure code: no database, no clock.

* Numbers not written as plain numbers: `1e3`, `0x10`, `12kk`, `NaN`, `inf`, full-width `１２`
  (`odd_number`), and English number words `twelve`, `twenty-five`, `a dozen`
  (`number_words`).
* Days written without `on`: `yesterday`, `2026-10-05`, `fri`, `last friday`, `5-oct`
  (`day_words`).
* Event names in words: `deal won` (`joined_event`).
* KPI names in natural spelling: `win rate`, `Win_Rate`, `winrate`, a KPI's title such as
  `cost per lead` (`kpi_phrase`); the KPIs that count an event (`kpis_counting`).
* People typed as text: `@alice` looked up among the workspace's known users (`typed_person`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from reports.events import EventKind, resolve_kind
from reports.kpis.catalog import CATALOG
from reports.periods import EARLIEST_DAY, WEEKDAYS, PeriodError, parse_day
from reports.text import Text, TextError, all_of, quoted


class WordProblem(TextError):
    """A word that can't be read as typed; `error.text` is the user-facing sentence."""


def _q(text: str) -> str:
    return f'"{text if len(text) <= 40 else text[:39] + "…"}"'


# ------------------------------------------------------------------------------------ numbers

_SCIENTIFIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)e[+-]?\d+", re.IGNORECASE | re.ASCII)
_BASED = re.compile(r"[+-]?0(x[0-9a-f_]+|o[0-7_]+|b[01_]+)", re.IGNORECASE | re.ASCII)
_REPEATED_SUFFIX = re.compile(r"[+-]?[$€£¥]?[\d.,]*\d[km]{2,}", re.IGNORECASE)
_NUMBER_SHAPE = re.compile(r"[+-]?[$€£¥]?[\d.,]*\d[\d.,]*[km]?[x×]?", re.IGNORECASE | re.ASCII)
NOT_NUMBERS = frozenset(("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"))


def _ascii_digits(text: str) -> str:
    """`text` with every decimal digit of any script as 0-9, and full-width forms folded."""
    return "".join(str(unicodedata.digit(c)) if unicodedata.category(c) == "Nd" else c
                   for c in unicodedata.normalize("NFKC", text))


def odd_number(text: str) -> Text | None:
    """Why `text` is a number written in a form kpibot does not read, or None.

    Scientific notation, hexadecimal/octal/binary, a repeated k or m, and digits of another
    script (full-width `１２`) are numbers a person may mean but that are easy to misread, so
    they are refused with the plain spelling to type instead.
    """
    if _SCIENTIFIC.fullmatch(text):
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is not None and value.is_finite() and abs(value) < 10**15 \
                and value == value.to_integral_value():
            return Text("{word} is scientific notation; write the number out: {number}.",
                        word=_q(text), number=str(int(value)))
        return Text("{word} is scientific notation; write the number out in plain digits.",
                    word=_q(text))
    if match := _BASED.fullmatch(text):
        base = {"x": 16, "o": 8, "b": 2}[match[1][0].lower()]
        try:
            value = int(text.replace("_", ""), 0)
        except ValueError:
            return Text("{word} is not a decimal number; write it in plain digits.",
                        word=_q(text))
        if abs(value) < 10**15:
            return Text("{word} is a base-{base} number; write it in plain digits: {number}.",
                        word=_q(text), base=str(base), number=str(value))
        return Text("{word} is a base-{base} number; write it in plain digits.", word=_q(text),
                    base=str(base))
    if _REPEATED_SUFFIX.fullmatch(text):
        return Text("{word} is not a number: use one k or m at most, like 12k or 1.5m.",
                    word=_q(text))
    if not text.isascii():
        plain = _ascii_digits(text)
        if plain != text and plain.isascii() and _NUMBER_SHAPE.fullmatch(plain):
            return Text("{word} is written with non-ASCII digits; did you mean {plain}? Type it "
                        "with plain digits.", word=_q(text), plain=plain)
    if text.lower() in NOT_NUMBERS:
        return Text("{word} is not a number; give a count or amount in digits, like 12.",
                    word=_q(text))
    return None


_SMALL = {word: n for n, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
     "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
     "nineteen"])}
_TENS = {word: 10 * n for n, word in enumerate(
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
SCALE_SUFFIXES = {"k": "k", "thousand": "k", "grand": "k", "m": "m", "million": "m",
                  "mil": "m", "mn": "m"}


def number_words(words: Sequence[str | None]) -> tuple[int, int] | None:
    """The number spelled by English words at the start of `words`, and how many words.

    `twelve`, `twenty five`, `twenty-five`, `one hundred and ten`, `five thousand`, `a dozen`,
    `dozen`. A None in `words` (a quoted word) ends the number. None when no number starts here.
    """
    total = current = used = 0
    seen = False
    for index, word in enumerate(words):
        if word is None:
            break
        parts = word.lower().split("-")
        if word.lower() == "a" and index + 1 < len(words) and words[index + 1] \
                and words[index + 1].lower() in ("dozen", "hundred", "thousand", "million"):
            current = max(current, 1)
            used = index + 1
            continue
        if word.lower() == "and" and seen:
            continue
        values = [_SMALL.get(p, _TENS.get(p)) for p in parts]
        if word.lower() == "dozen":
            current = max(current, 1) * 12
        elif parts[0] in _SCALES and len(parts) == 1 and seen:
            scale = _SCALES[parts[0]]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        elif None not in values and len(values) <= 2:
            current += sum(values)
        else:
            break
        seen = True
        used = index + 1
    return (total + current, used) if seen else None


# ------------------------------------------------------------------------------------ days

@dataclass(frozen=True)
class DayWords:
    day: date
    used: int  # how many words
    sure: bool  # today, yesterday, an ISO date: read as the day; else asked about
    shown: str  # what to write after `on` to mean this day


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MONTH_DAY = re.compile(r"(?:\d{1,2}-[a-z]{3,9}|[a-z]{3,9}-\d{1,2})", re.ASCII)


def _weekday(word: str) -> int | None:
    hits = [i for i, name in enumerate(WEEKDAYS) if len(word) >= 3 and name.startswith(word)]
    return hits[0] if len(hits) == 1 else None


def day_words(words: Sequence[str | None], today: date) -> DayWords | None:
    """A day named by the first word or two of `words` (lower case; None for a quoted word).

    `today`, `yesterday` and an ISO date are sure; a weekday (`fri`), `last friday` (the one
    before today) and a day of a month (`5-oct`) are days a person may mean either way (a
    demo booked *for* Friday), so the grammar asks. A day in the future or before the earliest
    day is a WordProblem.
    """
    first = words[0] if words else None
    if first is None:
        return None
    second = words[1] if len(words) > 1 else None
    try:
        if first in ("today", "yesterday") or _ISO_DAY.fullmatch(first):
            return DayWords(parse_day(first, today=today), 1, True, first)
        if first == "last" and second is not None and (weekday := _weekday(second)) is not None:
            day = today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
            if day < EARLIEST_DAY:
                raise PeriodError(Text("{day} is before {earliest}", day=day.isoformat(),
                                       earliest=EARLIEST_DAY.isoformat()))
            return DayWords(day, 2, False, f"last {second}")
        if _weekday(first) is not None or _MONTH_DAY.fullmatch(first):
            return DayWords(parse_day(first, today=today), 1, False, first)
    except PeriodError as error:
        if _weekday(first) is None and not _ISO_DAY.fullmatch(first):
            return None  # `mar-99` and the like: not a day, just a word
        raise WordProblem(error.text) from None
    return None


def two_word_day(pair: Sequence[str | None], today: date) -> date | None:
    """The day `last friday`, `5 oct` or `oct 5` names (after `on`); None for other pairs."""
    if len(pair) != 2 or None in pair:
        return None
    first, second = pair  # type: ignore[misc]
    if first == "last":
        day = day_words(pair, today)
        return day.day if day is not None and day.used == 2 else None
    if first.isdigit() == second.isdigit():  # one number and one word, like 5 oct
        return None
    try:
        return parse_day(f"{first} {second}", today=today)
    except PeriodError as error:
        if "future" in str(error) or "before" in str(error) or "day of" in str(error):
            raise WordProblem(error.text) from None
        return None


# ------------------------------------------------------------------------------------ events

def joined_event(words: Sequence[str | None]) -> tuple[EventKind, int] | None:
    """The event that the first three or two words make with hyphens (`deal won`,
    `demo request replied`), and how many words; None when they make none."""
    for size in (3, 2):
        head = words[:size]
        if len(head) == size and None not in head:
            kind = resolve_kind("-".join(head))  # type: ignore[arg-type]
            if kind is not None:
                return kind, size
    return None


# ------------------------------------------------------------------------------------ KPIs

@functools.lru_cache(maxsize=4096)  # every command squashes the catalog's ~100 names again
def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


@functools.lru_cache(maxsize=64)
def _kpi_table(kpis: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Squashed KPI names and catalog titles -> KPI names, built once per set of KPIs (every
    command's parse asks; building it took a tenth of a `/kpi log`)."""
    names = dict(kpis)
    table = {_squash(name): name for name in names.values()}
    for spec in CATALOG.values():
        if spec.name.casefold() in names:
            table.setdefault(_squash(spec.title), names[spec.name.casefold()])
    return table


def kpi_phrase(words: Sequence[str | None], kpis: Mapping[str, str]) -> tuple[str, int] | None:
    """The KPI named by the first one to four words, and how many words name it.

    `kpis` maps casefolded names to names. A name matches with any spacing, hyphens or
    underscores (`win rate`, `Win_Rate`, `winrate`); so does a catalog KPI's title
    (`cost per lead` → cpl). The longest match wins.
    """
    table = _kpi_table(tuple(kpis.items()))
    for size in range(min(4, len(words)), 0, -1):
        head = words[:size]
        if None in head:
            continue
        name = table.get(_squash("".join(head)))  # type: ignore[arg-type]
        if name is not None:
            return name, size
    return None


def kpis_counting(kind: str, kpis: Collection[str], per_rep: bool = False) -> list[str]:
    """The catalog KPIs (among `kpis`) that read the event `kind`; per-rep ones if asked."""
    return [spec.name for spec in CATALOG.values()
            if kind in spec.needs and spec.name in kpis and (spec.per_rep or not per_rep)]


def event_is_no_kpi(word: str, kind: str, kpis: Collection[str], command: str,
                    rest: str) -> Text:
    """The problem with an event's name where a KPI belongs (`/kpi leaderboard calls`), with
    the KPI that counts it; `rest` is the rest of the command, for the example."""
    counting = kpis_counting(kind, kpis, per_rep=command == "leaderboard")
    if not counting:
        return Text("{word} is an event, not a KPI; {command} shows every KPI.", word=_q(word),
                    command="/kpi list")
    example = " ".join(("/kpi", command, counting[0], rest)).rstrip()
    return Text("{word} is an event, not a KPI; {kind} counts in {kpis}: {example}",
                word=_q(word), kind=kind, kpis=all_of([quoted(name) for name in counting]),
                example=example)


# ------------------------------------------------------------------------------------ people

@dataclass(frozen=True)
class Person:
    user_id: str
    name: str | None = None
    email: str | None = None


def _keys(person: Person) -> tuple[set[str], set[str]]:
    """(strong keys, weak keys) a typed handle may match: the whole name in any spacing,
    the email's local part; then the first name."""
    strong, weak = set(), set()
    if person.name:
        name = person.name.casefold().strip()
        strong |= {name, _squash(name), name.replace(" ", "."), name.replace(" ", "_")}
        weak.add(name.split()[0] if name.split() else name)
    if person.email and "@" in person.email:
        strong.add(person.email.split("@", 1)[0].casefold())
    return strong, weak


def typed_person(text: str, people: Sequence[Person]) -> str:
    """The user id a typed `@name` means among the workspace's known `people`.

    The whole name (any spacing) or the email's local part matches first; then a first name.
    One match is read as meant; several are a WordProblem listing them; none a WordProblem.
    """
    handle = text.removeprefix("@").casefold().strip().rstrip(",.;:?")
    for level in (0, 1):
        found = {p.user_id: p for p in people if handle in _keys(p)[level]
                 or (level == 0 and _squash(handle) in _keys(p)[0])}
        if len(found) == 1:
            return next(iter(found))
        if found:
            names = sorted((p.name or p.user_id) for p in found.values())
            raise WordProblem(Text("{word} could be {names} or {last}; pick the person from the "
                                   "@ autocomplete so the name turns into a link.",
                                   word=_q(text), names=", ".join(names[:-1]), last=names[-1]))
    raise WordProblem(Text("{word} is typed text, not a mention, and no one known here is called "
                           "that; pick the person from the @ autocomplete so the name turns "
                           "into a link.", word=_q(text)))


__all__ = ["NOT_NUMBERS", "SCALE_SUFFIXES", "DayWords", "Person", "WordProblem", "day_words",
           "event_is_no_kpi", "joined_event", "kpi_phrase", "kpis_counting", "number_words",
           "odd_number", "two_word_day", "typed_person"]
