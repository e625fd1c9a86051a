"""Amounts, currencies and durations as users type them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.format import format_amount, format_duration, format_money
from reports.units import (
    AmountError,
    Money,
    currency_exponent,
    is_currency_code,
    parse_amount,
    parse_duration,
)


def usd(text: str) -> Money | None:
    return parse_amount(text, default_currency="USD")


@pytest.mark.parametrize(("text", "expected"), [
    ("12000", Money(1_200_000, "USD")), ("12,000", Money(1_200_000, "USD")),
    ("12000.50", Money(1_200_050, "USD")), ("12,000.5", Money(1_200_050, "USD")),
    ("12k", Money(1_200_000, "USD")), ("12K", Money(1_200_000, "USD")),
    ("1.5m", Money(150_000_000, "USD")), ("1.5M", Money(150_000_000, "USD")),
    ("1.2345k", Money(123_450, "USD")), (".5", Money(50, "USD")), ("12.", Money(1200, "USD")),
    ("0", Money(0, "USD")), ("  42 ", Money(4200, "USD")),
    ("$12k", Money(1_200_000, "USD")), ("€5k", Money(500_000, "EUR")),
    ("£3k", Money(300_000, "GBP")), ("¥5000", Money(5000, "JPY")),
    ("5000€", Money(500_000, "EUR")), ("12k$", Money(1_200_000, "USD")),
    ("12000EUR", Money(1_200_000, "EUR")), ("12000eur", Money(1_200_000, "EUR")),
    ("EUR12000", Money(1_200_000, "EUR")), ("eur12,000", Money(1_200_000, "EUR")),
    ("12000 EUR", Money(1_200_000, "EUR")), ("SEK 1.5k", Money(150_000, "SEK")),
    ("JPY5000", Money(5000, "JPY")), ("1.5kJPY", Money(1500, "JPY")),
    ("kwd1.234", Money(1234, "KWD")),
    ("-200", Money(-20_000, "USD")), ("−200", Money(-20_000, "USD")),
    ("-$200", Money(-20_000, "USD")), ("$-200", Money(-20_000, "USD")),
    ("-1.5k", Money(-150_000, "USD")), ("+200", Money(20_000, "USD")),
    ("EUR-5", Money(-500, "EUR")),
    ("12,000,000", Money(1_200_000_000, "USD")),
    ("1000000000000", Money(10**14, "USD")), ("1000000m", Money(10**14, "USD")),
])
def test_amount_forms(text, expected):
    assert usd(text) == expected


def test_default_currency_is_upper_cased_and_sets_the_precision():
    assert parse_amount("12000", default_currency="jpy") == Money(12000, "JPY")
    assert parse_amount("1.5k", default_currency="eur") == Money(150_000, "EUR")
    assert parse_amount("1.234", default_currency="KWD") == Money(1234, "KWD")
    assert parse_amount("$5", default_currency="EUR") == Money(500, "USD")


@pytest.mark.parametrize(("text", "message"), [
    ("12.345", '"12.345" has too many decimals for USD'),
    ("1.234567k", "too many decimals for USD"), ("¥1.5", "too many decimals for JPY"),
    ("1.2.3", '"1.2.3" is not a number'), ("1,2,3", '"1,2,3" is not a number'),
    ("12,5k", "is not a number"), ("1,0000", "is not a number"), ("1234,567", "is not a number"),
    ("12,000.5,0", "is not a number"), (",5", "is not a number"),
    ("12kk", '"12kk" is not an amount (one k or m at most: 12k, 1.5m)'),
    ("1mk", "one k or m at most"),
    ("XYZ12", "XYZ is not a currency code"), ("12xyz", "XYZ is not a currency code"),
    ("1000000000001", '"1000000000001" is too large'), ("5000000000000k", "too large"),
    ("1000000000000.01", "too large"), ("-1000000000001", "too large"),
    ("2b", '"2b" is not an amount'), ("1e5", "is not an amount"), ("12 k", "is not an amount"),
    ("$12€", "names two currencies"), ("EUR12USD", "names two currencies"),
    ("--5", "one sign at most"), ("-$-5", "one sign at most"),
])
def test_bad_amounts(text, message):
    with pytest.raises(AmountError) as caught:
        usd(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", ["acme", "k", "K", "m", "", "   ", "on", "x", "source=web",
                                  "usd", "EUR", "$", "€", "-", "+", ".", "mrr=1k", "q3",
                                  "a" * 50, "1" * 41])
def test_words_are_not_amounts(text):
    assert usd(text) is None


def test_currency_codes():
    assert is_currency_code("eur") and is_currency_code("USD") and is_currency_code("Jpy")
    for token in ("abc", "xyz", "EURO", "", "€", "US", "ÉUR"):
        assert not is_currency_code(token)
    assert [currency_exponent(c) for c in ("USD", "eur", "JPY", "KWD", "BHD")] == [2, 2, 0, 3, 3]


def test_money_major_units():
    assert Money(1250, "USD").major == Decimal("12.50")
    assert Money(5000, "JPY").major == Decimal(5000)
    assert Money(-1234, "KWD").major == Decimal("-1.234")


def test_format_amount_is_exact():
    assert format_amount(1_200_050, "USD") == "$12,000.50"
    assert format_amount(5000, "JPY") == "¥5,000"
    assert format_amount(-20_000, "usd") == "-$200.00"
    assert format_amount(1_200_050, "EUR", locale="de") == "12.000,50\xa0€"


def test_format_money_is_compact_from_a_thousand():
    assert format_money(1_250_000, "USD") == "$12.5K"
    assert format_money(120_000_000, "USD") == "$1.2M"
    assert format_money(9900, "USD") == "$99.00"
    assert format_money(5_000_000, "JPY") == "¥5M"


@pytest.mark.parametrize(("text", "seconds"), [
    ("45s", 45), ("4m", 240), ("4M", 240), ("4min", 240), ("4mins", 240), ("4minutes", 240),
    ("2h", 7200), ("2hr", 7200), ("1h30m", 5400), ("1h30", 5400), ("1h 30m", 5400),
    ("4 min", 240), ("1.5h", 5400), ("2.5m", 150), ("1d", 86400), ("1D", 86400),
    ("2d3h", 183_600), ("2d3h4m5s", 183_845), ("0m", 0), ("0s", 0), ("90s", 90),
    ("90", None), ("0", None), ("acme", None), ("", None), ("m", None), ("h", None),
    ("30m1h", None), ("1h1h", None), ("4x", None), ("1.5h30m", None), ("-4m", None),
    ("4m!", None), ("1,5h", None), ("4mm", None), ("on", None), ("12k", None),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (190, "3m 10s"), (240, "4m"), (725, "12m"), (3600, "1h"),
    (5400, "1h 30m"), (86_400, "1d"), (183_600, "2d 3h"), (44.6, "45s"), (-90, "-1m 30s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_durations_round_trip(days, hours, minutes, secs):
    seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    assert parse_duration("".join(parts) or "0s") == seconds
    shown = format_duration(seconds)
    if seconds < 600 or (seconds < 86_400 and secs == 0) or (minutes == secs == 0):
        assert parse_duration(shown) == seconds


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=30),
                 st.text(alphabet="0123456789.,-+kKmM$€£¥ EURusdJPY", max_size=15)))
def test_any_text_gives_money_none_or_amount_error(text):
    try:
        result = parse_amount(text, default_currency="USD")
    except AmountError as error:
        assert str(error)
        return
    assert result is None or isinstance(result, Money)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_gives_a_duration_or_none(text):
    result = parse_duration(text)
    assert result is None or (isinstance(result, int) and result >= 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_whole_amounts_round_trip(major):
    assert usd(f"{major:,}") == Money(major * 100, "USD")
    assert parse_amount(str(major), default_currency="EUR") == Money(major * 100, "EUR")
    assert parse_amount(f"{major}", default_currency="JPY") == Money(major, "JPY")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**14))
def test_cents_and_suffixes_round_trip(cents):
    assert usd(f"{cents // 100}.{cents % 100:02d}") == Money(cents, "USD")
    assert usd(f"${cents // 100:,}.{cents % 100:02d}") == Money(cents, "USD")
    if cents <= 10**9:
        assert usd(f"{cents}k") == Money(cents * 100_000, "USD")
    money = Money(cents, "USD")
    assert usd(format_amount(money.minor, money.currency)) == money
