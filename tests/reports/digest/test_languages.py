"""Every digest view (text, Slack, Teams; weekly and monthly) in every language reads as a
person expects: no raw value, no English word left in a non-English view, and the plural
form of each language for 1, 2, 5, 20 and 101 (Romanian: one, few — 2, 5, 101 — and other
with "de" from 20: "20 de tranzacții")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reports.digest.build import CADENCES, build_digest
from reports.digest.render import render_slack, render_teams_card, render_text
from reports.languages import LANGUAGES
from tests.reports.digest.samples import NAMES, NOW, sample_digest
from tests.reports.fake_facts import Ev, FakeFacts
from tests.support.reading import english_left, raw_values, strings_of

VIEWS = {
    "text": lambda d: render_text(d).splitlines(),
    "slack": lambda d: strings_of(render_slack(d)),
    "teams": lambda d: [t.replace("\\", "") for t in strings_of(render_teams_card(d))],
}
USER_TEXT = [*NAMES.values(), "initech", "globex", "umbrella", "hooli", "northwind", "price",
             "Stark Industries", "deal"]
COUNTS = (1, 2, 5, 20, 101)

# "N of N open deals" and "… rests on N deals" as each language says them
OPEN_DEALS = {
    "en": ("{n} of {n} open deal", "{n} of {n} open deals"),
    "nb": ("{n} av {n} åpen avtale", "{n} av {n} åpne avtaler"),
    "sv": ("{n} av {n} öppen affär", "{n} av {n} öppna affärer"),
    "ro": ("{n} din {n} tranzacție deschisă", "{n} din {n} tranzacții deschise",
           "{n} din {n} de tranzacții deschise"),
    "zh": ("{n} 个进行中商机里有 {n} 个停滞",),
}
RESTS_ON = {
    "en": ("rests on {n} deal.", "rests on {n} deals."),
    "nb": ("bygger på {n} avtale.", "bygger på {n} avtaler."),
    "sv": ("bygger på {n} affär.", "bygger på {n} affärer."),
    "ro": ("se bazează pe {n} tranzacție.", "se bazează pe {n} tranzacții.",
           "se bazează pe {n} de tranzacții."),
    "zh": ("仅基于 {n} 个商机。",),
}
# the form each language takes for each count (CLDR, as the catalogs' Plural-Forms say)
FORM = {"en": {1: 0}, "nb": {1: 0}, "sv": {1: 0}, "zh": {},
        "ro": {1: 0, 2: 1, 5: 1, 20: 2, 101: 1}}


def expected(table: dict, language: str, n: int) -> str:
    forms = table[language]
    index = FORM[language].get(n, len(forms) - 1 if language != "ro" else 2)
    return forms[min(index, len(forms) - 1)].format(n=n)


def counted_digest(language: str, cadence: str, n: int):
    """`n` open deals idle for weeks (stalled), and `min(n, 5)` deals decided last week."""
    long_ago = NOW - timedelta(days=60)
    events = [Ev("lead", long_ago + timedelta(minutes=i), "U_ANA", deal=f"deal-{i:03d}")
              for i in range(n)]
    decided = min(n, 5)
    last_week = NOW - timedelta(days=3)
    for i in range(decided):
        events += [Ev("lead", last_week - timedelta(days=1), "U_BO", deal=f"won-{i}"),
                   Ev("deal-won", last_week, "U_BO", deal=f"won-{i}", amount=150_000)]
    return build_digest(facts=FakeFacts(events), cadence=cadence, now=NOW, tz="Europe/Oslo",
                        language=language, names=NAMES)


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("cadence", CADENCES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_view_reads_without_raw_values_or_english(language, cadence, view):
    texts = VIEWS[view](sample_digest(language, cadence))
    assert texts
    assert not raw_values(texts)
    if language != "en":
        assert not english_left(texts, language, names=USER_TEXT)


@pytest.mark.parametrize("n", COUNTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_counts_take_the_plural_form_of_the_language(language, n):
    digest = counted_digest(language, "weekly", n)
    open_deals = expected(OPEN_DEALS, language, n)
    assert digest.stalled_total == open_deals
    if n < 10:  # the small-sample note
        rests_on = expected(RESTS_ON, language, n)
        assert any(note.endswith(rests_on) for note in digest.notes), digest.notes
    for view, render in VIEWS.items():
        texts = render(digest)
        assert any(open_deals in text for text in texts), view
        assert not raw_values(texts), view
        if language != "en":
            assert not english_left(texts, language, names=[*USER_TEXT, "won"]), view


def test_the_checks_catch_what_they_are_for():
    assert raw_values(["revenue 3820000"]) and raw_values(["pace: None"])
    assert raw_values(["new: False"]) and raw_values(["share 0.38333"])
    assert raw_values(["{count} more"])
    assert not raw_values(["$38,200 · 1 234 567 · 38,2 % · 2026"])
    assert english_left(["Tranzacții blocate: 3 deals"], "ro") == [
        "['deals']: 'Tranzacții blocate: 3 deals'"]
    assert not english_left(["MQL · Lead · /kpi leaderboard activities last-week"], "nb")
    assert english_left(["Timp median"], "zh") and not english_left(["Timp median"], "ro")


def test_a_date_is_no_count():
    assert datetime(2026, 1, 1, tzinfo=UTC).year == 2026  # years have four digits: allowed
    assert not raw_values(["1–23 nov. 2026"])
