"""The period grammar: exact UTC boundaries, DST, fiscal quarters, ISO weeks, previous periods,
descriptions and elapsed fractions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.periods import (
    DEFAULT_PERIOD,
    PERIOD_FORMS,
    Period,
    PeriodError,
)
from tests.reports.period_cases import (
    NOW,
    bounds,
    period,
    utc,
)

# --------------------------------------------------------------------------- every form

@pytest.mark.parametrize(("text", "tz", "start", "end"), [
    ("today", "UTC", utc(2026, 11, 18), utc(2026, 11, 19)),
    ("today", "Europe/Oslo", utc(2026, 11, 17, 23), utc(2026, 11, 18, 23)),
    ("today", "America/New_York", utc(2026, 11, 18, 5), utc(2026, 11, 19, 5)),
    ("today", "Asia/Shanghai", utc(2026, 11, 17, 16), utc(2026, 11, 18, 16)),
    ("yesterday", "UTC", utc(2026, 11, 17), utc(2026, 11, 18)),
    ("yesterday", "Asia/Shanghai", utc(2026, 11, 16, 16), utc(2026, 11, 17, 16)),
    ("this-week", "UTC", utc(2026, 11, 16), utc(2026, 11, 23)),
    ("this-week", "America/New_York", utc(2026, 11, 16, 5), utc(2026, 11, 23, 5)),
    ("last-week", "UTC", utc(2026, 11, 9), utc(2026, 11, 16)),
    ("this-month", "UTC", utc(2026, 11, 1), utc(2026, 12, 1)),
    ("this-month", "Europe/Oslo", utc(2026, 10, 31, 23), utc(2026, 11, 30, 23)),
    # New York leaves DST on Sun 2026-11-01 at 02:00: that midnight is still EDT (-4)
    ("this-month", "America/New_York", utc(2026, 11, 1, 4), utc(2026, 12, 1, 5)),
    ("last-month", "Europe/Oslo", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),
    ("last-month", "America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 4)),
    ("this-quarter", "UTC", utc(2026, 10, 1), utc(2027, 1, 1)),
    ("this-quarter", "Asia/Shanghai", utc(2026, 9, 30, 16), utc(2026, 12, 31, 16)),
    ("last-quarter", "UTC", utc(2026, 7, 1), utc(2026, 10, 1)),
    ("this-year", "UTC", utc(2026, 1, 1), utc(2027, 1, 1)),
    ("this-year", "Europe/Oslo", utc(2025, 12, 31, 23), utc(2026, 12, 31, 23)),
    ("last-year", "UTC", utc(2025, 1, 1), utc(2026, 1, 1)),
    ("mtd", "UTC", utc(2026, 11, 1), utc(2026, 11, 19)),
    ("mtd", "Europe/Oslo", utc(2026, 10, 31, 23), utc(2026, 11, 18, 23)),
    ("qtd", "UTC", utc(2026, 10, 1), utc(2026, 11, 19)),
    ("ytd", "UTC", utc(2026, 1, 1), utc(2026, 11, 19)),
    ("ytd", "America/New_York", utc(2026, 1, 1, 5), utc(2026, 11, 19, 5)),
    ("7d", "UTC", utc(2026, 11, 12), utc(2026, 11, 19)),
    ("7d", "Asia/Shanghai", utc(2026, 11, 11, 16), utc(2026, 11, 18, 16)),
    ("30D", "UTC", utc(2026, 10, 20), utc(2026, 11, 19)),
    ("90d", "UTC", utc(2026, 8, 21), utc(2026, 11, 19)),
    ("1d", "UTC", utc(2026, 11, 18), utc(2026, 11, 19)),
    ("3660d", "UTC", utc(2016, 11, 11), utc(2026, 11, 19)),
    ("2026-10", "America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 4)),
    ("2026-10", "Europe/Oslo", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),
    ("2026-3", "UTC", utc(2026, 3, 1), utc(2026, 4, 1)),
    ("2026-Q3", "UTC", utc(2026, 7, 1), utc(2026, 10, 1)),
    ("2026-q3", "Europe/Oslo", utc(2026, 6, 30, 22), utc(2026, 9, 30, 22)),
    ("2026-w42", "Asia/Shanghai", utc(2026, 10, 11, 16), utc(2026, 10, 18, 16)),
    ("2026", "UTC", utc(2026, 1, 1), utc(2027, 1, 1)),
    ("2026", "Europe/Oslo", utc(2025, 12, 31, 23), utc(2026, 12, 31, 23)),
    ("2026-10-01..2026-10-31", "UTC", utc(2026, 10, 1), utc(2026, 11, 1)),
    ("2026-10-01..2026-10-31", "Europe/Oslo", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),
    ("2026-10-05..2026-10-05", "UTC", utc(2026, 10, 5), utc(2026, 10, 6)),
    ("2026-10-01 .. 2026-10-02", "UTC", utc(2026, 10, 1), utc(2026, 10, 3)),
    ("2026-10-05", "UTC", utc(2026, 10, 5), utc(2026, 10, 6)),
    ("2026-10-05", "Asia/Shanghai", utc(2026, 10, 4, 16), utc(2026, 10, 5, 16)),
    ("  This-Month  ", "UTC", utc(2026, 11, 1), utc(2026, 12, 1)),
    ("LAST WEEK", "UTC", utc(2026, 11, 9), utc(2026, 11, 16)),
    ("last_month", "UTC", utc(2026, 10, 1), utc(2026, 11, 1)),
])
def test_every_form_resolves_to_exact_boundaries(text, tz, start, end):
    p = period(text, tz)
    assert bounds(p) == (start, end)
    assert p.start.tzinfo is UTC and p.end.tzinfo is UTC and p.tz == tz


@pytest.mark.parametrize(("text", "label", "kind"), [
    ("today", "today", "day"), ("Yesterday", "yesterday", "day"),
    ("this-week", "this-week", "week"), ("last-week", "last-week", "week"),
    ("this-month", "this-month", "month"), ("last-month", "last-month", "month"),
    ("this-quarter", "this-quarter", "quarter"), ("last-quarter", "last-quarter", "quarter"),
    ("this-year", "this-year", "year"), ("last-year", "last-year", "year"),
    ("MTD", "mtd", "to-date"), ("qtd", "qtd", "to-date"), ("ytd", "ytd", "to-date"),
    ("7D", "7d", "days"), ("030d", "30d", "days"), ("2026-10", "2026-10", "month"),
    ("2026-1", "2026-01", "month"), ("2026-q3", "2026-Q3", "quarter"),
    ("2026-w7", "2026-W07", "week"), ("2026", "2026", "year"), ("2026-10-05", "2026-10-05", "day"),
    ("2026-10-01..2026-10-31", "2026-10-01..2026-10-31", "range"),
])
def test_labels_are_canonical_and_kinds_are_set(text, label, kind):
    p = period(text)
    assert (p.label, p.kind) == (label, kind)


def test_defaults_and_help_text():
    assert DEFAULT_PERIOD == "this-month" and period(DEFAULT_PERIOD).kind == "month"
    assert "\n" not in PERIOD_FORMS
    for form in ("this-week", "mtd", "30d", "2026-Q3", "2026-W42", "2026-10-01..2026-10-31"):
        assert form in PERIOD_FORMS


def test_to_date_periods_end_at_the_start_of_tomorrow_and_this_periods_are_whole():
    late = utc(2026, 11, 18, 23, 30)  # already Nov 19 in Oslo (00:30)
    assert period("mtd", "Europe/Oslo", late).end == utc(2026, 11, 19, 23)
    assert period("this-month", "Europe/Oslo", late).end == utc(2026, 11, 30, 23)
    assert period("today", "Europe/Oslo", late).start == utc(2026, 11, 18, 23)
    assert period("today", "America/New_York", late).start == utc(2026, 11, 18, 5)
    first_of_month = utc(2026, 11, 1, 12)
    assert bounds(period("mtd", now=first_of_month)) == (utc(2026, 11, 1), utc(2026, 11, 2))


# --------------------------------------------------------------------------- DST

def test_dst_weeks_start_at_local_midnight_in_oslo():
    spring = period("2026-W13", "Europe/Oslo")  # DST starts Sun 2026-03-29 02:00
    assert bounds(spring) == (utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert spring.end - spring.start == timedelta(days=7, hours=-1)
    autumn = period("2026-W43", "Europe/Oslo")  # DST ends Sun 2026-10-25 03:00
    assert bounds(autumn) == (utc(2026, 10, 18, 22), utc(2026, 10, 25, 23))
    assert autumn.end - autumn.start == timedelta(days=7, hours=1)


@pytest.mark.parametrize(("now", "text", "start", "end"), [
    # Sunday 2026-03-29 in Oslo: a 23-hour day at the end of a short week
    (utc(2026, 3, 29, 12), "today", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
    (utc(2026, 3, 29, 12), "this-week", utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
    (utc(2026, 3, 29, 12), "7d", utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
    (utc(2026, 3, 30, 12), "last-week", utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
    (utc(2026, 3, 30, 12), "yesterday", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
    # Sunday 2026-10-25 in Oslo: a 25-hour day
    (utc(2026, 10, 25, 12), "today", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
    (utc(2026, 10, 25, 12), "this-week", utc(2026, 10, 18, 22), utc(2026, 10, 25, 23)),
    # 00:30 on Monday 2026-10-26 in Oslo is still Sunday in UTC
    (utc(2026, 10, 25, 23, 30), "this-week", utc(2026, 10, 25, 23), utc(2026, 11, 1, 23)),
    (utc(2026, 10, 25, 23, 30), "yesterday", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
    (utc(2026, 10, 25, 23, 30), "mtd", utc(2026, 9, 30, 22), utc(2026, 10, 26, 23)),
])
def test_oslo_days_and_weeks_around_dst_changes(now, text, start, end):
    assert bounds(period(text, "Europe/Oslo", now)) == (start, end)


@pytest.mark.parametrize(("text", "start", "end", "hours"), [
    ("2026-03-29", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 23),
    ("2026-10-25", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 25),
    ("2026-10-26", utc(2026, 10, 25, 23), utc(2026, 10, 26, 23), 24),
])
def test_oslo_dst_days_are_23_or_25_hours(text, start, end, hours):
    p = period(text, "Europe/Oslo")
    assert bounds(p) == (start, end) and p.end - p.start == timedelta(hours=hours)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-03-08", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),  # DST starts: 23 h
    ("2026-11-01", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),  # DST ends: 25 h
    ("2026-W10", utc(2026, 3, 2, 5), utc(2026, 3, 9, 4)),
    ("2026-W44", utc(2026, 10, 26, 4), utc(2026, 11, 2, 5)),
    ("2026-03", utc(2026, 3, 1, 5), utc(2026, 4, 1, 4)),
    ("2026-Q1", utc(2026, 1, 1, 5), utc(2026, 4, 1, 4)),
])
def test_new_york_dst(text, start, end):
    assert bounds(period(text, "America/New_York")) == (start, end)


def test_local_properties_and_days_across_dst():
    p = period("2026-W43", "Europe/Oslo")
    assert p.start_local == datetime(2026, 10, 19, tzinfo=ZoneInfo("Europe/Oslo"))
    assert p.end_local == datetime(2026, 10, 26, tzinfo=ZoneInfo("Europe/Oslo"))
    assert (p.start_local.hour, p.end_local.hour) == (0, 0)
    assert p.days == [date(2026, 10, 19) + timedelta(days=i) for i in range(7)]
    assert p.contains(utc(2026, 10, 25, 22, 59)) and not p.contains(utc(2026, 10, 25, 23))
    assert p.contains(p.start) and not p.contains(p.end)


# --------------------------------------------------------------------------- ISO weeks, leap years

@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-W01", utc(2025, 12, 29), utc(2026, 1, 5)),  # week 1 of 2026 starts in December 2025
    ("2025-W01", utc(2024, 12, 30), utc(2025, 1, 6)),
    ("2026-W53", utc(2026, 12, 28), utc(2027, 1, 4)),  # 2026 has 53 ISO weeks
    ("2027-W01", utc(2027, 1, 4), utc(2027, 1, 11)),
    ("2020-W53", utc(2020, 12, 28), utc(2021, 1, 4)),
    ("2027-W52", utc(2027, 12, 27), utc(2028, 1, 3)),
])
def test_iso_weeks(text, start, end):
    assert bounds(period(text)) == (start, end)


def test_this_week_at_new_year_is_iso_week_53():
    p = period("this-week", now=utc(2027, 1, 1, 12))
    assert bounds(p) == (utc(2026, 12, 28), utc(2027, 1, 4))
    assert p.describe() == "week 53, 2026 (Dec 28, 2026 – Jan 3, 2027)"
    assert p.previous().label == "2026-W52"


def test_leap_years():
    assert len(period("2028-02").days) == 29 and len(period("2026-02").days) == 28
    assert bounds(period("2028-02-29")) == (utc(2028, 2, 29), utc(2028, 3, 1))
    assert len(period("2028-02-28..2028-03-01").days) == 3
    assert len(period("2028").days) == 366 and len(period("2026").days) == 365
    with pytest.raises(PeriodError, match="not a date"):
        period("2026-02-29")


# --------------------------------------------------------------------------- fiscal years

@pytest.mark.parametrize(("fy", "text", "start", "end"), [
    (1, "2026-Q1", utc(2026, 1, 1), utc(2026, 4, 1)),
    (1, "2026-Q4", utc(2026, 10, 1), utc(2027, 1, 1)),
    (4, "2026-Q1", utc(2025, 4, 1), utc(2025, 7, 1)),
    (4, "2026-Q4", utc(2026, 1, 1), utc(2026, 4, 1)),
    (4, "2027-Q3", utc(2026, 10, 1), utc(2027, 1, 1)),
    (4, "2026", utc(2025, 4, 1), utc(2026, 4, 1)),
    (4, "this-quarter", utc(2026, 10, 1), utc(2027, 1, 1)),
    (4, "last-quarter", utc(2026, 7, 1), utc(2026, 10, 1)),
    (4, "this-year", utc(2026, 4, 1), utc(2027, 4, 1)),
    (4, "last-year", utc(2025, 4, 1), utc(2026, 4, 1)),
    (4, "qtd", utc(2026, 10, 1), utc(2026, 11, 19)),
    (4, "ytd", utc(2026, 4, 1), utc(2026, 11, 19)),
    (10, "2026-Q1", utc(2025, 10, 1), utc(2026, 1, 1)),
    (10, "2026-Q4", utc(2026, 7, 1), utc(2026, 10, 1)),
    (10, "2027-Q1", utc(2026, 10, 1), utc(2027, 1, 1)),
    (10, "2026", utc(2025, 10, 1), utc(2026, 10, 1)),
    (10, "this-quarter", utc(2026, 10, 1), utc(2027, 1, 1)),
    (10, "last-quarter", utc(2026, 7, 1), utc(2026, 10, 1)),
    (10, "this-year", utc(2026, 10, 1), utc(2027, 10, 1)),
    (10, "last-year", utc(2025, 10, 1), utc(2026, 10, 1)),
    (10, "ytd", utc(2026, 10, 1), utc(2026, 11, 19)),
    (12, "2027-Q1", utc(2026, 12, 1), utc(2027, 3, 1)),
    (12, "this-quarter", utc(2026, 9, 1), utc(2026, 12, 1)),
    # months and weeks do not depend on the fiscal year
    (10, "2026-10", utc(2026, 10, 1), utc(2026, 11, 1)),
    (10, "this-month", utc(2026, 11, 1), utc(2026, 12, 1)),
])
def test_fiscal_years_are_named_by_the_year_they_end(fy, text, start, end):
    assert bounds(period(text, fy=fy)) == (start, end)


def test_fiscal_quarters_in_a_zone():
    p = period("2026-Q1", "Europe/Oslo", fy=10)  # Oct 1 2025 (CEST) .. Jan 1 2026 (CET)
    assert bounds(p) == (utc(2025, 9, 30, 22), utc(2025, 12, 31, 23))


@pytest.mark.parametrize(("fy", "text", "label"), [
    (4, "this-quarter", "2027-Q2"), (10, "this-quarter", "2026-Q4"), (10, "2026", "2025"),
    (10, "2026-Q1", "2025-Q4"), (1, "2026-Q1", "2025-Q4"), (4, "this-year", "2026"),
])
def test_fiscal_labels_of_previous_periods(fy, text, label):
    assert period(text, fy=fy).previous().label == label


@pytest.mark.parametrize("fy", [0, 13, -1])
def test_bad_fiscal_year_start(fy):
    with pytest.raises(PeriodError, match="1-12"):
        period("this-year", fy=fy)


# --------------------------------------------------------------------------- previous()

@pytest.mark.parametrize(("text", "now", "start", "end", "label", "kind"), [
    ("today", NOW, utc(2026, 11, 17), utc(2026, 11, 18), "2026-11-17", "day"),
    ("yesterday", NOW, utc(2026, 11, 16), utc(2026, 11, 17), "2026-11-16", "day"),
    ("2026-10-05", NOW, utc(2026, 10, 4), utc(2026, 10, 5), "2026-10-04", "day"),
    ("this-week", NOW, utc(2026, 11, 9), utc(2026, 11, 16), "2026-W46", "week"),
    ("last-week", NOW, utc(2026, 11, 2), utc(2026, 11, 9), "2026-W45", "week"),
    ("2026-W01", NOW, utc(2025, 12, 22), utc(2025, 12, 29), "2025-W52", "week"),
    ("this-month", NOW, utc(2026, 10, 1), utc(2026, 11, 1), "2026-10", "month"),
    ("last-month", NOW, utc(2026, 9, 1), utc(2026, 10, 1), "2026-09", "month"),
    ("2026-01", NOW, utc(2025, 12, 1), utc(2026, 1, 1), "2025-12", "month"),
    ("2026-03", NOW, utc(2026, 2, 1), utc(2026, 3, 1), "2026-02", "month"),
    ("this-quarter", NOW, utc(2026, 7, 1), utc(2026, 10, 1), "2026-Q3", "quarter"),
    ("2026-Q1", NOW, utc(2025, 10, 1), utc(2026, 1, 1), "2025-Q4", "quarter"),
    ("this-year", NOW, utc(2025, 1, 1), utc(2026, 1, 1), "2025", "year"),
    ("2026", NOW, utc(2025, 1, 1), utc(2026, 1, 1), "2025", "year"),
    ("7d", NOW, utc(2026, 11, 5), utc(2026, 11, 12), "previous 7d", "range"),
    ("30d", NOW, utc(2026, 9, 20), utc(2026, 10, 20), "previous 30d", "range"),
    ("2026-10-01..2026-10-10", NOW, utc(2026, 9, 21), utc(2026, 10, 1), "previous 10d", "range"),
    # to-date: the same stretch of the previous month / quarter / year
    ("mtd", NOW, utc(2026, 10, 1), utc(2026, 10, 19), "previous mtd", "range"),
    ("mtd", utc(2026, 10, 15, 9), utc(2026, 9, 1), utc(2026, 9, 16), "previous mtd", "range"),
    ("mtd", utc(2026, 3, 31, 9), utc(2026, 2, 1), utc(2026, 3, 1), "previous mtd", "range"),
    ("mtd", utc(2028, 3, 30, 9), utc(2028, 2, 1), utc(2028, 3, 1), "previous mtd", "range"),
    ("mtd", utc(2026, 2, 28, 9), utc(2026, 1, 1), utc(2026, 1, 29), "previous mtd", "range"),
    ("qtd", NOW, utc(2026, 7, 1), utc(2026, 8, 19), "previous qtd", "range"),
    ("qtd", utc(2026, 11, 30, 9), utc(2026, 7, 1), utc(2026, 8, 31), "previous qtd", "range"),
    ("qtd", utc(2026, 12, 31, 9), utc(2026, 7, 1), utc(2026, 10, 1), "previous qtd", "range"),
    ("qtd", utc(2026, 5, 31, 9), utc(2026, 1, 1), utc(2026, 3, 1), "previous qtd", "range"),
    ("ytd", NOW, utc(2025, 1, 1), utc(2025, 11, 19), "previous ytd", "range"),
    ("ytd", utc(2028, 2, 29, 9), utc(2027, 1, 1), utc(2027, 3, 1), "previous ytd", "range"),
])
def test_previous_has_the_same_shape(text, now, start, end, label, kind):
    p = period(text, now=now).previous()
    assert (p.start, p.end, p.label, p.kind) == (start, end, label, kind)


def test_previous_in_a_zone_and_chained():
    oct_ = period("this-month", "Europe/Oslo").previous()
    assert bounds(oct_) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))
    sep = oct_.previous()
    assert (sep.label, bounds(sep)) == ("2026-09", (utc(2026, 8, 31, 22), utc(2026, 9, 30, 22)))
    week = period("2026-W44", "Europe/Oslo").previous()  # the 25-hour week
    assert bounds(week) == (utc(2026, 10, 18, 22), utc(2026, 10, 25, 23))
    earlier = period("7d").previous().previous()
    assert bounds(earlier) == (utc(2026, 10, 29), utc(2026, 11, 5))


def test_previous_of_a_fiscal_quarter_keeps_the_fiscal_year():
    p = period("this-quarter", fy=10).previous()
    assert p.fiscal_year_start == 10
    assert p.previous().label == "2026-Q3" and bounds(p.previous()) == (utc(2026, 4, 1),
                                                                      utc(2026, 7, 1))


# --------------------------------------------------------------------------- describe, fractions

@pytest.mark.parametrize(("text", "now", "fy", "text_out"), [
    ("this-month", NOW, 1, "November 2026"),
    ("2026-10", NOW, 1, "October 2026"),
    ("2026-Q3", NOW, 1, "2026-Q3 (Jul 1 – Sep 30)"),
    ("this-quarter", NOW, 1, "2026-Q4 (Oct 1 – Dec 31)"),
    ("this-quarter", NOW, 10, "FY2027-Q1 (Oct 1 – Dec 31, 2026)"),
    ("2026-W42", NOW, 1, "week 42, 2026 (Oct 12 – Oct 18)"),
    ("7d", utc(2026, 10, 15, 12), 1, "last 7 days (Oct 9 – Oct 15)"),
    ("7d", utc(2027, 1, 2, 12), 1, "last 7 days (Dec 27, 2026 – Jan 2, 2027)"),
    ("today", NOW, 1, "Wed Nov 18, 2026"),
    ("2026", NOW, 1, "2026"),
    ("2026", NOW, 10, "FY2026 (Oct 1, 2025 – Sep 30, 2026)"),
    ("mtd", NOW, 1, "month to date (Nov 1 – Nov 18, 2026)"),
    ("qtd", NOW, 1, "quarter to date (Oct 1 – Nov 18, 2026)"),
    ("ytd", NOW, 1, "year to date (Jan 1 – Nov 18, 2026)"),
    ("2026-10-01..2026-10-31", NOW, 1, "Oct 1 – Oct 31, 2026"),
    ("2026-12-30..2027-01-02", NOW, 1, "Dec 30, 2026 – Jan 2, 2027"),
])
def test_describe(text, now, fy, text_out):
    assert period(text, now=now, fy=fy).describe() == text_out


def test_describe_previous_periods():
    assert period("mtd").previous().describe() == "Oct 1 – Oct 18, 2026"
    assert period("this-week").previous().describe() == "week 46, 2026 (Nov 9 – Nov 15)"


def test_elapsed_fraction_contains_and_days():
    p = period("this-month")
    assert p.elapsed_fraction(NOW) == pytest.approx((17 + 14.5 / 24) / 30)
    assert p.elapsed_fraction(utc(2020, 1, 1)) == 0.0
    assert p.elapsed_fraction(utc(2030, 1, 1)) == 1.0
    assert p.elapsed_fraction(p.start) == 0.0 and p.elapsed_fraction(p.end) == 1.0
    assert len(p.days) == 30 and p.days[0] == date(2026, 11, 1) and p.contains(NOW)
    assert not p.contains(utc(2026, 12, 1)) and p.contains(utc(2026, 11, 30, 23, 59))
    assert period("mtd").elapsed_fraction(NOW) == pytest.approx((17 + 14.5 / 24) / 18)


def test_elapsed_fraction_of_a_25_hour_day_counts_real_hours():
    day = period("2026-10-25", "Europe/Oslo")
    assert day.elapsed_fraction(utc(2026, 10, 25, 11)) == pytest.approx(13 / 25)


def test_a_period_built_from_instants_alone_still_works():
    p = Period(label="x", start=utc(2026, 10, 1), end=utc(2026, 10, 3), tz="UTC")
    assert p.days == [date(2026, 10, 1), date(2026, 10, 2)]
    assert bounds(p.previous()) == (utc(2026, 9, 29), utc(2026, 10, 1))
    assert p.describe() == "Oct 1 – Oct 2, 2026"
