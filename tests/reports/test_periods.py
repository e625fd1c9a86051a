"""The period grammar: exact UTC boundaries, DST, fiscal quarters, previous periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.periods import PeriodError, parse_day, parse_period

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # Wednesday


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("text", "tz", "start", "end"), [
    ("today", "UTC", utc(2026, 11, 18), utc(2026, 11, 19)),
    ("yesterday", "UTC", utc(2026, 11, 17), utc(2026, 11, 18)),
    ("this-week", "UTC", utc(2026, 11, 16), utc(2026, 11, 23)),
    ("last-week", "UTC", utc(2026, 11, 9), utc(2026, 11, 16)),
    ("this-month", "Europe/Oslo", utc(2026, 10, 31, 23), utc(2026, 11, 30, 23)),
    ("last-month", "Europe/Oslo", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),
    ("this-quarter", "UTC", utc(2026, 10, 1), utc(2027, 1, 1)),
    ("last-quarter", "UTC", utc(2026, 7, 1), utc(2026, 10, 1)),
    ("this-year", "UTC", utc(2026, 1, 1), utc(2027, 1, 1)),
    ("last-year", "UTC", utc(2025, 1, 1), utc(2026, 1, 1)),
    ("mtd", "UTC", utc(2026, 11, 1), utc(2026, 11, 19)),
    ("qtd", "UTC", utc(2026, 10, 1), utc(2026, 11, 19)),
    ("ytd", "UTC", utc(2026, 1, 1), utc(2026, 11, 19)),
    ("7d", "UTC", utc(2026, 11, 12), utc(2026, 11, 19)),
    ("30D", "UTC", utc(2026, 10, 20), utc(2026, 11, 19)),
    ("90d", "UTC", utc(2026, 8, 21), utc(2026, 11, 19)),
    ("2026-10", "America/New_York", utc(2026, 10, 1, 4), utc(2026, 11, 1, 4)),
    ("2026-Q3", "UTC", utc(2026, 7, 1), utc(2026, 10, 1)),
    ("2026-w42", "Asia/Shanghai", utc(2026, 10, 11, 16), utc(2026, 10, 18, 16)),
    ("2026", "UTC", utc(2026, 1, 1), utc(2027, 1, 1)),
    ("2026-10-01..2026-10-31", "UTC", utc(2026, 10, 1), utc(2026, 11, 1)),
    ("2026-10-05", "UTC", utc(2026, 10, 5), utc(2026, 10, 6)),
    ("2026-W53", "UTC", utc(2026, 12, 28), utc(2027, 1, 4)),
])
def test_every_form_resolves_to_exact_boundaries(text, tz, start, end):
    period = parse_period(text, now=NOW, tz=tz)
    assert (period.start, period.end) == (start, end)


def test_dst_weeks_start_at_local_midnight_in_oslo():
    spring = parse_period("2026-W13", now=NOW, tz="Europe/Oslo")  # DST starts Sun 2026-03-29
    assert spring.start == utc(2026, 3, 22, 23) and spring.end == utc(2026, 3, 29, 22)
    autumn = parse_period("2026-W43", now=NOW, tz="Europe/Oslo")  # DST ends Sun 2026-10-25
    assert autumn.start == utc(2026, 10, 18, 22) and autumn.end == utc(2026, 10, 25, 23)
    assert autumn.end - autumn.start == timedelta(days=7, hours=1)


@pytest.mark.parametrize(("fy", "text", "start", "end"), [
    (4, "2026-Q1", utc(2025, 4, 1), utc(2025, 7, 1)),
    (4, "2026-Q4", utc(2026, 1, 1), utc(2026, 4, 1)),
    (4, "2026", utc(2025, 4, 1), utc(2026, 4, 1)),
    (4, "this-quarter", utc(2026, 10, 1), utc(2027, 1, 1)),
    (10, "2026-Q1", utc(2025, 10, 1), utc(2026, 1, 1)),
    (10, "this-year", utc(2026, 10, 1), utc(2027, 10, 1)),
    (10, "ytd", utc(2026, 10, 1), utc(2026, 11, 19)),
])
def test_fiscal_years_are_named_by_the_year_they_end(fy, text, start, end):
    period = parse_period(text, now=NOW, tz="UTC", fiscal_year_start=fy)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(("text", "previous"), [
    ("today", (utc(2026, 11, 17), utc(2026, 11, 18))),
    ("this-week", (utc(2026, 11, 9), utc(2026, 11, 16))),
    ("this-month", (utc(2026, 10, 1), utc(2026, 11, 1))),
    ("this-quarter", (utc(2026, 7, 1), utc(2026, 10, 1))),
    ("2026", (utc(2025, 1, 1), utc(2026, 1, 1))),
    ("mtd", (utc(2026, 10, 1), utc(2026, 10, 19))),
    ("7d", (utc(2026, 11, 5), utc(2026, 11, 12))),
    ("2026-10-01..2026-10-10", (utc(2026, 9, 21), utc(2026, 10, 1))),
])
def test_previous_has_the_same_shape(text, previous):
    period = parse_period(text, now=NOW, tz="UTC").previous()
    assert (period.start, period.end) == previous


def test_mtd_previous_is_clamped_to_the_shorter_month():
    now = utc(2026, 3, 31, 12)
    previous = parse_period("mtd", now=now, tz="UTC").previous()
    assert (previous.start, previous.end) == (utc(2026, 2, 1), utc(2026, 3, 1))


@pytest.mark.parametrize(("text", "message"), [
    ("2026-13", "not a month"), ("2026-Q5", "not a quarter"), ("2026-W54", "not a week"),
    ("2026-10-31..2026-10-01", "before the start"), ("fortnight", "not a period"),
    ("", "missing"), ("0d", "1-3660"), ("2026-02-30", "not a date"),
])
def test_bad_periods_name_the_problem(text, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(text, now=NOW, tz="UTC")


def test_unknown_time_zone_is_a_period_error():
    with pytest.raises(PeriodError, match="time zone"):
        parse_period("today", now=NOW, tz="Mars/Olympus")


def test_elapsed_fraction_and_describe():
    period = parse_period("this-month", now=NOW, tz="UTC")
    assert period.elapsed_fraction(NOW) == pytest.approx((17 + 14.5 / 24) / 30)
    assert period.describe() == "November 2026"
    assert len(period.days) == 30 and period.contains(NOW)


@pytest.mark.parametrize(("text", "expected"), [
    ("today", date(2026, 11, 18)), ("yesterday", date(2026, 11, 17)),
    ("2026-10-05", date(2026, 10, 5)), ("wed", date(2026, 11, 18)),
    ("mon", date(2026, 11, 16)), ("Thursday", date(2026, 11, 12)),
])
def test_parse_day(text, expected):
    assert parse_day(text, today=date(2026, 11, 18)) == expected


@pytest.mark.parametrize("text", ["2026-11-19", "2099-01-01"])
def test_future_days_are_refused(text):
    with pytest.raises(PeriodError, match="future"):
        parse_day(text, today=date(2026, 11, 18))


FORMS = ["today", "yesterday", "this-week", "last-week", "this-month", "last-month",
         "this-quarter", "last-quarter", "this-year", "last-year", "mtd", "qtd", "ytd", "7d",
         "30d", "90d", "2026-10", "2026-Q3", "2026-W42", "2026"]


@settings(max_examples=300, deadline=None)
@given(
    form=st.sampled_from(FORMS),
    tz=st.sampled_from(["UTC", "Europe/Oslo", "America/New_York", "Asia/Shanghai",
                        "Australia/Sydney", "Asia/Kolkata"]),
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                     timezones=st.just(UTC)),
    fy=st.integers(1, 12),
)
def test_properties_hold_for_any_clock(form, tz, now, fy):
    period = parse_period(form, now=now, tz=tz, fiscal_year_start=fy)
    local = period.start.astimezone(ZoneInfo(tz))
    assert period.start < period.end
    assert (local.hour, local.minute) == (0, 0)
    assert period.previous().end <= period.start
    if period.kind != "to-date":
        assert period.previous().end == period.start
