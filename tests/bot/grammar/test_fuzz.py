"""Property tests for the /kpi grammar: any text gives a command or a UsageError, nothing else;
and log commands rendered from their fields parse back to those fields."""

from __future__ import annotations

import typing
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.grammar import COMMAND_USAGE, Command, LogCommand, UsageError, parse_command
from bot.grammar.words import NOT_NUMBERS, day_words, number_words
from reports.events import ALIASES, KINDS, resolve_kind
from tests.support.long_run import examples

TODAY = date(2026, 10, 14)
KPIS = ("win-rate", "revenue", "pipeline", "churn-rate")
COMMAND_TYPES = typing.get_args(Command)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> Command | None:
    """Parse; a UsageError must be complete, anything else than a command fails the test."""
    try:
        command = parse_command(text, today=TODAY, currency="USD", kpi_names=KPIS)
    except UsageError as error:
        assert error.problem and str(error) == error.problem
        assert error.usage.startswith("/kpi")
        assert error.example.startswith("/kpi")
        return None
    assert isinstance(command, COMMAND_TYPES), command
    if isinstance(command, LogCommand):
        assert command.kind in KINDS
        assert 1 <= command.count <= 100_000
        assert command.deal is None or 0 < len(command.deal) <= 120
        assert command.deal_key == (command.deal.casefold() if command.deal else None)
        assert command.note is None or len(command.note) <= 500
        assert command.on_date is None or command.on_date <= TODAY
        assert (command.amount_minor is None) == (command.currency is None)
        for text_field in (command.deal, command.note, command.reason, command.competitor,
                           command.account, command.source_raw):
            assert text_field is None or "\x00" not in text_field
    return command


# --------------------------------------------------------------------------- any text at all


@settings(FUZZ, max_examples=examples(2000))
@given(st.text(max_size=200))
@example("")
@example('"')
@example("log demo '")
@example("log \x00 call")
@example("\ud800")
@example("log demo " + "x" * 10_000)
@example("log call " + "9" * 5000)
@example("<@" * 100)
@example("digest here " + "a/" * 500)
def test_random_text_never_crashes(text):
    check(text)


@settings(FUZZ, max_examples=examples(500))
@given(st.sampled_from(sorted(COMMAND_USAGE) + ["", "win-rate"]),
       st.text(st.characters(codec="utf-8"), max_size=80))
def test_command_word_then_random_text(word, rest):
    check(f"{word} {rest}")


# --------------------------------------------------------------------------- real vocabulary


WORDS = [
    *KINDS, *ALIASES, *COMMAND_USAGE, "show", "set", "here", "off", "now", "status", "preview",
    "public", "!", "x", "X", "×", "on", "cohort", "weekly", "monthly", "quarterly", "revenue",
    "last", "mon", "friday", "09:00", "16:30", "25:00", "4pm", "Europe/Oslo", "UTC", "oslo",
    "win-rate", "pipeline", "acme", "Acme", '"Acme Corp"', "'Acme's shop'", '"', "'", "“", "”",
    "‘", "’", '""', "#42", "42", "0", "-3", "3x", "0x", "12", "1,200", "12000", "12,000", "12k",
    "1.5m", "$12k", "$1.5m", "€5k", "12000EUR", "EUR", "USD", "usd", "-200", "4m", "45s",
    "1h30m", "99999999999999999999", "1e9", "12kk", "$", "k", ".", ",", "=", "==", "yesterday",
    "today", "2026-10-05", "2026-10-15", "2026-02-30", "tomorrow", "this-week", "last-week",
    "last", "week", "mtd", "7d", "2026-Q3", "2026-W42", "2026-W54", "2026", "2026-10",
    "2026-10-01..2026-10-31", "2026-10-31..2026-10-01", "<@U0123ABC>", "<@U1|alice>",
    "<@W9|Alice B>", "<#C1|sales>", "<!here>", "<!subteam^S1|@team>", "<@>", "<", ">", "@alice",
    "<http://acme.com|acme.com>", "&amp;", "&lt;", "source=ppc", 'source="Google Ads"',
    "reason=price", "competitor=rival", "mrr=1k", "mrr=-1", "mrr=", "account=acme", "deal=acme",
    'deal="Acme Corp"', "note=hi", 'note="went well"', "foo=bar", "lang=no", "lang=zh-cn",
    "lang=fr", "tz=UTC", "\t", "\n", "\x00", "\u200b", "ß", "İ", "🙂", "𝟙𝟚", "٤٢",
]
JUNK = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


@settings(FUZZ, max_examples=examples(3000))
@given(st.lists(st.sampled_from(WORDS) | JUNK, max_size=14),
       st.sampled_from([" ", "  ", "\t"]))
def test_vocabulary_never_crashes(words, separator):
    check(separator.join(words))


@settings(FUZZ, max_examples=examples(600))
@given(st.sampled_from(sorted(KINDS) + sorted(ALIASES)),
       st.lists(st.sampled_from(WORDS) | JUNK, max_size=10))
def test_log_vocabulary_never_crashes(kind, words):
    check(" ".join(["log", kind, *words]))


# --------------------------------------------------------------------------- round trip

NAME_CHARS = st.characters(categories=("L", "N"), include_characters=" -.&'",
                           exclude_characters='"')


@st.composite
def deal_names(draw) -> tuple[str, str]:
    """(what the user types, the deal it names): a quoted phrase, or one plain word."""
    if draw(st.booleans()):
        name = draw(st.text(NAME_CHARS, min_size=1, max_size=40).filter(str.strip))
        name = name if len(" ".join(name.split()).casefold()) <= 120 else name[:30]
        return f'"{name}"', " ".join(name.split())
    word = draw(st.from_regex(r"[A-Za-z][A-Za-z_-]{0,20}", fullmatch=True).filter(
        lambda w: w.lower() not in ("on", "x", "public") and not _doubtful(w.lower())))
    return word, word


def _doubtful(word: str) -> bool:
    """A word the grammar asks about as a deal name (SPEC section 4): a day, a number in
    words, NaN, or the end of an event's name (`demo booked`)."""
    return (day_words([word], TODAY) is not None or number_words([word]) is not None
            or word in NOT_NUMBERS
            or any(name.endswith(f"-{word}") for name in (*KINDS, *ALIASES)))


@st.composite
def log_commands(draw) -> tuple[str, dict]:
    """A log command as typed, and the fields it must give: the deal right after the event,
    then count, amount, duration and mention in any order, then maybe `public` or `!`."""
    name = draw(st.sampled_from(sorted(KINDS)))
    kind = KINDS[name]
    spelled = draw(st.sampled_from([name, name.upper()]
                                   + [alias for alias, to in ALIASES.items() if to == name]))
    head, parts, tail = ["log", spelled], [], []
    expected: dict = {"kind": name, "deal": None, "deal_key": None, "count": 1,
                      "amount_minor": None, "duration_seconds": None, "on_behalf_of": None,
                      "public": False}
    if kind.needs_deal or draw(st.booleans()):
        typed, deal = draw(deal_names())
        head.append(typed)
        expected.update(deal=deal, deal_key=deal.casefold())
    if draw(st.booleans()):
        count = draw(st.integers(1, 100_000))
        parts.append(draw(st.sampled_from([f"{count}x", f"{count} x", f"{count:,}x"])))
        expected["count"] = count
    if kind.amount != "none" and (kind.amount != "optional" or draw(st.booleans())):
        major = draw(st.integers(-10**9 if kind.amount == "signed" else 1, 10**9)
                     .filter(bool))  # an amount of 0 is refused
        forms = [str(major), f"{major} USD"] + ([f"{major:,}", f"${major}"] if major >= 0 else [])
        parts.append(draw(st.sampled_from(forms)))
        expected["amount_minor"] = major * 100
    if kind.duration:
        minutes = draw(st.integers(1, 600))
        parts.append(f"{minutes}m")
        expected["duration_seconds"] = minutes * 60
    if draw(st.booleans()):
        user = draw(st.from_regex(r"[UW][A-Z0-9]{2,10}", fullmatch=True))
        parts.append(draw(st.sampled_from([f"<@{user}>", f"<@{user}|someone>"])))
        expected["on_behalf_of"] = user
    if draw(st.booleans()):
        tail.append(draw(st.sampled_from(["public", "!", "PUBLIC"])))
        expected["public"] = True
    parts = draw(st.permutations(parts))
    return " ".join([*head, *parts, *tail]), expected


@settings(FUZZ, max_examples=examples(800))
@given(log_commands())
def test_log_round_trip(case):
    text, expected = case
    command = parse_command(text, today=TODAY, currency="USD", kpi_names=KPIS)
    assert isinstance(command, LogCommand)
    got = {key: getattr(command, key) for key in expected}
    assert got == expected, text
    if command.amount_minor is not None:
        assert command.currency == "USD"


@settings(FUZZ, max_examples=examples(300))
@given(st.sampled_from(sorted(KINDS)), st.integers(1, 100_000))
def test_count_round_trip(name, count):
    kind = resolve_kind(name)
    deal = "" if not kind.needs_deal else "acme "
    amount = " 5k" if kind.amount in ("required", "signed") else ""
    duration = " 4m" if kind.duration else ""
    command = check(f"log {name} {deal}{count}x{amount}{duration}")
    assert command is not None and command.count == count
