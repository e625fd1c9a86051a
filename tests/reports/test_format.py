"""Presentation of KPI values and changes (reports/format.py), English and a few locales."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.format import (
    DETAIL_UNITS,
    format_change,
    format_days,
    format_details,
    format_duration,
    format_money,
    format_number,
    format_percent,
    format_percent_value,
    format_value,
    row_unit,
)
from reports.kpis.catalog import Change, compare, compute_kpi
from reports.kpis.result import KpiResult
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts

NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)
NBSP = "\xa0"


def result(value, unit="ratio", numerator=None, denominator=None, kpi="x", **details):
    return KpiResult(kpi=kpi, workspace="w", period_label="2026-10", start=NOW, end=NOW,
                     value=value, unit=unit, numerator=numerator, denominator=denominator,
                     details=details)


@pytest.mark.parametrize(("res", "text"), [
    (result(19 / 50, "ratio", 19, 50), "38% (19/50)"),
    (result(None, "ratio", 0, 0), "n/a (0/0)"),
    (result(None, "ratio", 3, 0), "n/a (3/0)"),
    (result(0.0, "ratio", 0, 48), "0% (0/48)"),
    (result(1.0, "ratio", 52, 50), "100% (52/50)"),  # capped, with the real counts
    (result(0.042, "ratio", 42, 1_000), "4.2% (42/1,000)"),  # one decimal under 10%
    (result(1_250_000, "money"), "$12.5K"),  # cents
    (result(71_429, "money"), "$714.29"),
    (result(-250_000, "money"), "-$2.5K"),
    (result(None, "money", 500_000, 0), "n/a"),
    (result(4.2, "days"), "4.2 days"),
    (result(1.0, "days"), "1 day"),
    (result(30.55, "days"), "30.6 days"),
    (result(190, "seconds"), "3m 10s"),
    (result(None, "seconds"), "n/a"),
    (result(1_500, "count"), "1,500"),
    (result(0, "count"), "0"),
    (result(6.2, "multiple"), "620%"),
    (result(47_435.9, "money_per_day"), "$474.36 per day"),
    (result(0.9, "ratio", 3_600_000, 4_000_000, kpi="quota-attainment"), "90% ($36K/$40K)"),
    (result(1_250_000, "money", currency="EUR"), "€12.5K"),
])
def test_format_value(res, text):
    assert format_value(res) == text


def test_format_value_without_counts_and_with_a_currency():
    assert format_value(result(19 / 50, "ratio", 19, 50), with_counts=False) == "38%"
    assert format_value(result(1_250_000, "money"), currency="GBP") == "£12.5K"
    assert format_value(result(1_240, "money"), currency="JPY") == "¥1.2K"  # no minor unit
    assert format_value(result(1_250, "money"), currency="JPY") == "¥1.3K"  # half up


def test_percent_rounds_half_up_and_keeps_small_values_visible():
    assert format_percent(0.125) == "13%"
    assert format_percent(0.145) == "15%"  # the float 0.145 is 0.14499..., shown as typed
    assert format_percent(0.0049) == "0.5%"
    assert format_percent(0) == "0%"
    assert format_percent(2 / 3) == "67%"
    assert format_percent(2 / 3, digits=1) == "66.7%"
    assert format_percent(None) == "n/a"
    assert format_percent_value is format_percent


def test_days_and_durations():
    assert format_days(4.2 * 86_400) == "4.2 days"
    assert format_days(86_400) == "1 day"
    assert format_days(0) == "0 days"
    assert format_days(None) == "n/a"
    assert format_duration(45) == "45s"
    assert format_duration(190) == "3m 10s"
    assert format_duration(600) == "10m"
    assert format_duration(5_400) == "1h 30m"
    assert format_duration(2 * 86_400 + 3 * 3_600) == "2d 3h"
    assert format_duration(7_200) == "2h"


def test_money_and_numbers():
    assert format_money(1_200_000, "USD") == "$12K"
    assert format_money(99_999, "USD") == "$999.99"
    assert format_money(150_000, "USD", compact=False) == "$1,500.00"
    assert format_money(123_456_789, "USD") == "$1.2M"
    assert format_number(1_234.5) == "1,234.5"
    assert format_number(None) == "n/a"


@pytest.mark.parametrize(("change", "unit", "text"), [
    (Change(0.04, 0.1), "ratio", "▲ 4 pts"),
    (Change(-0.125, -0.3), "ratio", "▼ 12.5 pts"),
    (Change(-12, -0.12), "count", "▼ 12%"),
    (Change(50_000, 0.25), "money", "▲ 25%"),
    (Change(3, None, new=True), "count", "new"),
    (Change(0.4, None, new=True), "ratio", "new"),
    (Change(None, None), "ratio", "—"),
    (Change(0, 0.0), "count", "—"),
    (Change(0.00001, 0.0001), "ratio", "—"),  # rounds to 0 points
    (Change(1, 0.0004), "count", "—"),  # rounds to 0%
    (Change(1, 0.001), "count", "▲ 0.1%"),
    (Change(-5, None), "money", "▼"),  # from 0 down: no percentage to show
])
def test_format_change(change, unit, text):
    assert format_change(change, unit) == text


def test_changes_of_real_results():
    def open_rate(opened, delivered, month):
        facts = FakeFacts([Ev("email-opened", datetime(2026, month, 5, tzinfo=UTC),
                              count=opened),
                           Ev("email-delivered", datetime(2026, month, 5, tzinfo=UTC),
                              count=delivered)])
        return compute_kpi("open-rate", facts=facts, period=parse_period(
            f"2026-{month:02d}", now=NOW, tz="UTC"), now=NOW)

    september, october = open_rate(17, 50, 9), open_rate(19, 50, 10)  # 34% -> 38%
    assert format_value(october) == "38% (19/50)"
    assert format_change(compare(october, september), "ratio") == "▲ 4 pts"
    nothing = open_rate(0, 0, 8)
    assert format_value(nothing) == "n/a (0/0)"
    assert format_change(compare(september, nothing), "ratio") == "new"
    assert format_change(compare(nothing, nothing), "ratio") == "—"


@pytest.mark.parametrize(("locale", "percent", "days", "money"), [
    ("en", "38%", "4.2 days", "$12.5K"),
    ("nb", f"38{NBSP}%", "4,2 døgn", "12,5"),
    ("sv", f"38{NBSP}%", "4,2 dygn", "12,5"),
    ("ro", f"38{NBSP}%", "4,2 zile", "12,5"),
    ("zh_Hans", "38%", "4.2天", "1.3万"),  # 12,500 = 1.25 x 10,000 (万)
])
def test_numbers_are_localized_by_babel(locale, percent, days, money):
    assert format_value(result(19 / 50, "ratio", 19, 50), locale) == f"{percent} (19/50)"
    assert format_days(4.2 * 86_400, locale) == days
    assert money in format_value(result(1_250_000, "money"), locale)
    assert "duration" not in format_duration(190, locale)  # a CLDR unit word, never an id
    assert format_value(result(1_500, "count"), locale).replace(NBSP, " ") in (
        "1,500", "1 500", "1.500", "1500")


def test_quota_figures_are_in_their_metric():
    from reports.format import format_quota

    assert format_quota(0.8, 1_200_000, 1_500_000, "revenue", "USD") == "80% ($12K/$15K)"
    assert format_quota(0.5, 5, 10, "demo-booked", "USD") == "50% (5/10 demo-booked)"
    assert format_quota(None, 0, 0, "demo-booked", "USD") == "n/a (0/0 demo-booked)"


def test_every_detail_field_reads_with_its_unit():
    """Issue 16: `revenue mtd: 3820000`, `new vs last month: False`, `pace: None`, `mrr at
    start: 7892400`, `spend: 5283900` read as money, words and percentages (DETAIL_UNITS)."""
    details = {"month": "2026-12", "revenue_mtd": 3_820_000, "same_day_last_month": 0,
               "vs_last_month": None, "new_vs_last_month": True, "elapsed": 0.16,
               "pace": None, "mrr_at_start": 7_892_400, "spend": 5_283_900,
               "lead_to_won": 0.38, "median_seconds": 190, "median": 4.25, "clv_to_cac": 3.24,
               "wins_without_amount": 2, "currency": "USD", "formula": "x",
               "stalled_deals": [{"key": "a"}], "threshold_days": {"lead": 30}}
    assert format_details(details, "USD") == (
        ("month", "2026-12"), ("revenue mtd", "$38.2K"), ("same day last month", "$0.00"),
        ("vs same day last month", "new"), ("elapsed share", "16%"), ("pace", "n/a"),
        ("mrr at start", "$78.9K"), ("spend", "$52.8K"), ("lead to won", "38%"),
        ("median", "3m 10s"), ("median", "4.3 days"), ("CLV to CAC", "3.2×"),
        ("wins without amount", "2"))
    assert dict(format_details({"vs_last_month": -0.81}, "USD")) == {
        "vs same day last month": "▼ 81%"}
    # the same rule in another language and currency (Babel): JPY has no minor unit, 1.25M
    # rounds half up
    assert dict(format_details({"revenue": 1_250_000, "show_rate": 0.5}, "JPY", "nb")) == {
        "revenue": "1,3\xa0mill.\xa0JPY", "show rate": "50\xa0%"}
    assert DETAIL_UNITS["revenue_mtd"] == "money" and DETAIL_UNITS["currency"] == "hidden"


def test_rows_in_another_unit_than_the_headline():
    assert row_unit("lead-sources", "count") == "ratio"
    assert row_unit("stalled-deals", "count") == "days"
    assert row_unit("revenue", "money") == "money"


@pytest.mark.parametrize(("minor", "text"), [
    (234_430, "US$2,344.30"),  # Chinese writes thousands in full (CLDR's pattern "0")
    (234_430_769, "US$234.4万"),  # and compacts from 万 (10,000) up
    (99_999, "US$999.99"),
])
def test_chinese_money_below_wan_is_rounded_not_raw(minor, text):
    assert format_money(minor, "USD", "zh_Hans_CN") == text


def test_numbers_and_percents_are_formatted_by_babel_once_per_value(monkeypatch):
    """The texts are remembered per (value, type, locale, digits): the same text as Babel's
    for every value and locale, and a repeated value is not formatted again."""
    from decimal import Decimal

    import reports.format as fmt
    from reports.i18n import BABEL_LOCALES

    values = [0, 1, 1.0, 0.145, 12.5, -3.25, 1234567.891, 0.0049, 2.675, Decimal("1.50")]
    for locale in BABEL_LOCALES.values():
        for value in values:
            for digits in (0, 1, 2):
                assert fmt.format_number(value, locale, digits=digits) == \
                    fmt._number_text.__wrapped__(value, locale, digits)
                assert fmt.format_percent(value, locale, digits=digits) == \
                    fmt._percent_text.__wrapped__(value, locale, digits)
    asked: list[object] = []
    real = fmt.format_decimal

    def counted(number, *args, **kwargs):
        asked.append(number)
        return real(number, *args, **kwargs)

    monkeypatch.setattr(fmt, "format_decimal", counted)
    first = [fmt.format_number(v, "nb_NO", digits=1) for v in (98765.4321, 98765.4321, 7)]
    again = [fmt.format_number(v, "nb_NO", digits=1) for v in (98765.4321, 7)]
    assert first[0] == first[1] == again[0] and first[2] == again[1]
    assert len(asked) <= 2  # each value once (none if an earlier test formatted it)
