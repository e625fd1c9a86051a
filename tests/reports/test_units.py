"""Amounts and durations as users type them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.units import (
    AmountError,
    Money,
    format_duration,
    format_money,
    is_currency_code,
    parse_amount,
    parse_duration,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("12000", Money(1_200_000, "USD")), ("12,000", Money(1_200_000, "USD")),
    ("12000.50", Money(1_200_050, "USD")), ("12k", Money(1_200_000, "USD")),
    ("1.5M", Money(150_000_000, "USD")), ("$12k", Money(1_200_000, "USD")),
    ("€5k", Money(500_000, "EUR")), ("12000eur", Money(1_200_000, "EUR")),
    ("JPY5000", Money(5000, "JPY")), ("-200", Money(-20_000, "USD")),
    ("12,000,000", Money(1_200_000_000, "USD")),
])
def test_amount_forms(text, expected):
    assert parse_amount(text, default_currency="USD") == expected


@pytest.mark.parametrize(("text", "message"), [
    ("12.345", "too many decimals"), ("1.2.3", "not a number"), ("12kk", "one k or m"),
    ("1,2,3", "not a number"), ("XYZ12", "XYZ is not a currency"), ("5000000000000k", "large"),
])
def test_bad_amounts(text, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(text, default_currency="USD")


@pytest.mark.parametrize("text", ["acme", "k", "", "on", "x", "source=web"])
def test_words_are_not_amounts(text):
    assert parse_amount(text, default_currency="USD") is None


def test_currency_codes_and_formatting():
    assert is_currency_code("eur") and not is_currency_code("abc")
    assert format_money(1_200_050, "USD") == "$12,000.50"
    assert format_money(5000, "JPY") == "¥5,000"


@pytest.mark.parametrize(("text", "seconds"), [
    ("45s", 45), ("4m", 240), ("4min", 240), ("2h", 7200), ("1h30m", 5400), ("1d", 86400),
    ("90", None), ("acme", None),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_format_duration():
    assert [format_duration(s) for s in (45, 240, 5400, 183_600)] == ["45s", "4m", "1h 30m",
                                                                       "2d 3h"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=30))
def test_any_text_gives_money_none_or_amount_error(text):
    try:
        result = parse_amount(text, default_currency="USD")
    except AmountError:
        return
    assert result is None or isinstance(result, Money)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**11))
def test_whole_amounts_round_trip(major):
    assert parse_amount(f"{major:,}", default_currency="USD") == Money(major * 100, "USD")
    assert parse_amount(str(major), default_currency="EUR") == Money(major * 100, "EUR")
