"""The doubtful words the grammar reads as meant or asks about (bot/grammar/words.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.grammar.words import (
    Person,
    WordProblem,
    day_words,
    kpi_phrase,
    kpis_counting,
    number_words,
    odd_number,
    typed_person,
)
from reports.kpis.catalog import CATALOG

TODAY = date(2026, 11, 18)  # a Wednesday
KPIS = {name.casefold(): name for name in CATALOG}


@pytest.mark.parametrize(("text", "fragment"), [
    ("1e3", "write the number out: 1000"), ("1.5E+3", "1500"), ("1e309", "plain digits"),
    ("1e-3", "plain digits"), ("0x10", "base-16 number; write it in plain digits: 16"),
    ("0b101", "base-2"), ("0o17", "base-8"), ("12kk", "one k or m at most"), ("$3mm", "one k"),
    ("NaN", "is not a number"), ("-inf", "is not a number"), ("Infinity", "is not a number"),
    ("１２", "did you mean 12?"), ("１２ｋ", "did you mean 12k?"), ("٤٢", "did you mean 42?"),
    ("１,２００", "did you mean 1,200?"),
])
def test_odd_numbers_are_named_with_the_plain_form(text, fragment):
    problem = odd_number(text)  # a Text to translate; str() is its English sentence
    assert problem is not None
    assert str(problem).startswith(f'"{text}"') and fragment in str(problem)


@pytest.mark.parametrize("text", ["12", "12k", "1,200", "$1.5m", "2nd", "2pm", "acme", "3x",
                                  "e3", "0x", "Ｘ社", "東京１２", "nano", "info", "4m"])
def test_plain_numbers_and_words_are_not_odd(text):
    assert odd_number(text) is None


@pytest.mark.parametrize(("words", "expected"), [
    (["twelve"], (12, 1)), (["twenty", "five", "calls"], (25, 2)), (["twenty-five"], (25, 1)),
    (["one", "hundred", "and", "ten"], (110, 4)), (["five", "thousand"], (5000, 2)),
    (["a", "dozen"], (12, 2)), (["dozen"], (12, 1)), (["two", "million"], (2_000_000, 2)),
    (["zero"], (0, 1)), (["ninety", "nine", None], (99, 2)),
])
def test_number_words(words, expected):
    assert number_words(words) == expected


@pytest.mark.parametrize("words", [["acme"], ["a"], ["a", "call"], ["and"], [None, "twelve"],
                                   ["hundred"], ["twentyfive"], []])
def test_words_that_are_not_numbers(words):
    assert number_words(words) is None


@pytest.mark.parametrize(("words", "day", "used", "sure"), [
    (["yesterday"], date(2026, 11, 17), 1, True), (["today", "x"], TODAY, 1, True),
    (["2026-10-05"], date(2026, 10, 5), 1, True), (["fri"], date(2026, 11, 13), 1, False),
    (["wednesday"], TODAY, 1, False), (["last", "wed"], date(2026, 11, 11), 2, False),
    (["last", "tuesday"], date(2026, 11, 17), 2, False), (["5-oct"], date(2026, 10, 5), 1, False),
])
def test_day_words(words, day, used, sure):
    got = day_words(words, TODAY)
    assert got is not None and (got.day, got.used, got.sure) == (day, used, sure)


@pytest.mark.parametrize("words", [["acme"], ["last", "week"], ["mar-99"], [None], ["on"],
                                   ["sunrise"], ["monitor"]])
def test_words_that_are_no_day(words):
    assert day_words(words, TODAY) is None


@pytest.mark.parametrize(("word", "message"), [
    ("2026-11-19", "in the future"), ("1969-12-31", "before 2000-01-01"),
    ("2026-02-30", "is not a date"),
])
def test_impossible_days_are_problems(word, message):
    with pytest.raises(WordProblem, match=message):
        day_words([word], TODAY)


@pytest.mark.parametrize(("words", "expected"), [
    (["win", "rate"], ("win-rate", 2)), (["Win_Rate"], ("win-rate", 1)),
    (["winrate", "q3"], ("win-rate", 1)), (["deals", "won", "last"], ("deals-won", 2)),
    (["cost", "per", "lead"], ("cpl", 3)), (["churn", "rate"], ("churn-rate", 2)),
    (["customer", "acquisition", "cost"], ("cac", 3)), (["MRR"], ("mrr", 1)),
])
def test_kpi_phrases(words, expected):
    assert kpi_phrase(words, KPIS) == expected


def test_kpi_phrases_only_name_known_kpis_and_events_point_to_their_kpis():
    assert kpi_phrase(["win", "rate"], {"revenue": "revenue"}) is None
    assert kpi_phrase([None, "rate"], KPIS) is None
    assert kpis_counting("call", CATALOG, per_rep=True) == ["activities"]
    assert "revenue" in kpis_counting("deal-won", CATALOG)


PEOPLE = (Person("U1", "alice"), Person("U2", "Sara Nilsen", "sara.n@example.com"),
          Person("U3", "Sam Smith"), Person("U4", "Sam Jones"), Person("U5", None, "bo@x.io"),
          Person("U6", "Alice Cooper"))


@pytest.mark.parametrize(("typed", "user_id"), [
    ("@alice", "U1"), ("@ALICE", "U1"), ("@sara", "U2"), ("@sara.nilsen", "U2"),
    ("@saranilsen", "U2"), ("@sara_nilsen", "U2"), ("@sara.n", "U2"), ("@bo", "U5"),
    ("@sam.jones", "U4"), ("@alicecooper", "U6"),
])
def test_a_typed_name_that_means_one_person(typed, user_id):
    assert typed_person(typed, PEOPLE) == user_id


def test_several_matches_are_listed_and_none_is_refused():
    with pytest.raises(WordProblem) as caught:
        typed_person("@sam", PEOPLE)
    assert str(caught.value).startswith('"@sam" could be Sam Jones or Sam Smith;')
    with pytest.raises(WordProblem, match='"@zed" is typed text.*no one known here'):
        typed_person("@zed", PEOPLE)
    with pytest.raises(WordProblem, match="autocomplete"):
        typed_person("@alice", ())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_word_gives_a_reading_or_nothing(text):
    odd_number(text)
    number_words(text.split())
    kpi_phrase(text.split(), KPIS)
    try:
        day_words(text.split() or [text], TODAY)
    except WordProblem as problem:
        assert str(problem)
