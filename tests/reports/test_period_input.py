"""Reading what people type as a period or a day: errors that name the problem, `parse_day`,
natural spellings, and properties that hold for any clock and any text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.periods import (
    PERIOD_FORMS,
    PeriodError,
    parse_day,
    parse_period,
)
from tests.reports.period_cases import (
    NOW,
    TODAY,
    ZONES,
    period,
)

# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("text", "message"), [
    ("2026-13", '"2026-13" is not a month (months run 01-12)'),
    ("2026-00", '"2026-00" is not a month (months run 01-12)'),
    ("2026-Q5", '"2026-Q5" is not a quarter (Q1-Q4)'),
    ("2026-q0", '"2026-q0" is not a quarter (Q1-Q4)'),
    ("2026-W54", '"2026-W54" is not a week (2026 has ISO weeks W01-W53)'),
    ("2027-W53", '"2027-W53" is not a week (2027 has ISO weeks W01-W52)'),
    ("2026-W00", '"2026-W00" is not a week (2026 has ISO weeks W01-W53)'),
    ("2026-10-31..2026-10-01", '"2026-10-31..2026-10-01": the end is before the start'),
    ("0d", '"0d": the number of days must be 1-3660'),
    ("3661d", '"3661d": the number of days must be 1-3660'),
    ("99999999999999999999d", "the number of days must be 1-3660"),
    ("2026-02-30", '"2026-02-30" is not a date (use YYYY-MM-DD, e.g. 2026-10-05)'),
    ("2026-10-01..2026-02-30", '"2026-02-30" is not a date'),
    ("1899", '"1899": the year must be from 1900 to 9000'),
    ("9999-12", '"9999-12": the year must be from 1900 to 9000'),
    ("9999-W52", "the year must be"),
    ("0001-01-01", "the year must be"),
    ("0001-01-01..2026-01-01", "the year must be"),
    ("", "A period is missing. Try today"),
    ("   ", "A period is missing"),
])
def test_bad_periods_name_the_problem(text, message):
    with pytest.raises(PeriodError) as caught:
        period(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", ["fortnight", "lastweek", "this-decade", "next-week", "7",
                                  "d", "-7d", "7 days", "2026/10", "2026-10-1", "W42",
                                  "2026-Q", "20261", "٢٠٢٦", "2026-10-01...2026-10-02"])
def test_unknown_words_list_the_forms(text):
    with pytest.raises(PeriodError) as caught:
        period(text)
    assert str(caught.value) == f'"{text}" is not a period. Try {PERIOD_FORMS}'


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "Europe", "utc ", "../etc/passwd",
                                "/etc/localtime", "a\x00b", "x" * 300])
def test_unknown_time_zone_is_a_period_error(tz):
    with pytest.raises(PeriodError, match="is not a time zone"):
        period("today", tz)


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError, match="tz-aware") as caught:
        parse_period("today", now=datetime(2026, 11, 18), tz="UTC")
    assert not isinstance(caught.value, PeriodError)


# --------------------------------------------------------------------------- parse_day

@pytest.mark.parametrize(("text", "expected"), [
    ("today", date(2026, 11, 18)), ("TODAY", date(2026, 11, 18)),
    ("yesterday", date(2026, 11, 17)), ("2026-10-05", date(2026, 10, 5)),
    ("2026-11-18", date(2026, 11, 18)),
    ("wed", date(2026, 11, 18)), ("wednesday", date(2026, 11, 18)),
    ("tue", date(2026, 11, 17)), ("Tuesday", date(2026, 11, 17)), ("tues", date(2026, 11, 17)),
    ("mon", date(2026, 11, 16)), ("Monday", date(2026, 11, 16)),
    ("sun", date(2026, 11, 15)), ("sat", date(2026, 11, 14)), ("fri", date(2026, 11, 13)),
    ("thu", date(2026, 11, 12)), ("Thursday", date(2026, 11, 12)), ("thurs", date(2026, 11, 12)),
    ("5-oct", date(2026, 10, 5)), ("oct-5", date(2026, 10, 5)), ("5 October", date(2026, 10, 5)),
    ("18-nov", date(2026, 11, 18)), ("19-nov", date(2025, 11, 19)),
    ("dec-25", date(2025, 12, 25)), ("29-feb", date(2024, 2, 29)), ("sept 30", date(2026, 9, 30)),
])
def test_parse_day(text, expected):
    assert parse_day(text, today=TODAY) == expected


def test_weekdays_on_a_monday():
    monday = date(2026, 11, 16)
    assert parse_day("mon", today=monday) == monday
    assert parse_day("sun", today=monday) == date(2026, 11, 15)
    assert parse_day("tue", today=monday) == date(2026, 11, 10)


@pytest.mark.parametrize("text", ["2026-11-19", "2099-01-01"])
def test_future_days_are_refused(text):
    with pytest.raises(PeriodError) as caught:
        parse_day(text, today=TODAY)
    assert str(caught.value) == (f"{text} is in the future; you can only log things that "
                                 "already happened")


@pytest.mark.parametrize(("text", "message"), [
    ("someday", '"someday" is not a day. Use today, yesterday, a weekday'),
    ("", '"" is not a day'), ("mo", '"mo" is not a day'), ("t", '"t" is not a day'),
    ("10-05", '"10-05" is not a day'), ("last-mon", "is not a day"),
    ("2026-02-30", '"2026-02-30" is not a date'), ("31-feb", "is not a day of February"),
    ("0-oct", "is not a day of the month"), ("1850-01-01", "the year must be"),
])
def test_bad_days(text, message):
    with pytest.raises(PeriodError) as caught:
        parse_day(text, today=TODAY)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- properties

FORMS = ["today", "yesterday", "this-week", "last-week", "this-month", "last-month",
         "this-quarter", "last-quarter", "this-year", "last-year", "mtd", "qtd", "ytd", "7d",
         "30d", "90d", "2026-10", "2026-02", "2026-Q3", "2026-Q1", "2026-W42", "2026-W01",
         "2026-W53", "2026", "2028-02-29", "2026-10-25", "2026-03-29..2026-10-25"]
CURRENT = {"today", "this-week", "this-month", "this-quarter", "this-year", "mtd", "qtd", "ytd",
           "7d", "30d", "90d"}


def _is_local_midnight(instant: datetime, tz: str) -> bool:
    local = instant.astimezone(ZoneInfo(tz))
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


@settings(max_examples=400, deadline=None)
@given(
    form=st.one_of(st.sampled_from(FORMS), st.integers(1, 3660).map(lambda n: f"{n}d")),
    tz=st.sampled_from(ZONES),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31),
                     timezones=st.just(UTC)),
    fy=st.integers(1, 12),
)
def test_properties_hold_for_any_clock(form, tz, now, fy):
    p = parse_period(form, now=now, tz=tz, fiscal_year_start=fy)
    assert p.start < p.end
    assert _is_local_midnight(p.start, tz) and _is_local_midnight(p.end, tz)
    assert p.start.tzinfo is UTC and p.end.tzinfo is UTC
    assert len(p.days) == (p.end_day - p.first_day).days >= 1
    assert p.days[0] == p.start_local.date() and p.days[-1] + timedelta(days=1) == \
        p.end_local.date()
    if form in CURRENT:
        assert p.contains(now) and 0.0 <= p.elapsed_fraction(now) <= 1.0
    if form.endswith("d") and form[:-1].isdigit():
        assert len(p.days) == int(form[:-1])
    before = p.previous()
    assert before.start < before.end and _is_local_midnight(before.start, tz)
    if p.kind == "to-date":
        # the same days of the month (clamped), so a longer previous month can give more days
        last, before_last = p.days[-1], before.days[-1]
        assert before.end <= p.start and before.days[0].day == 1
        month_end = (before_last + timedelta(days=1)).day == 1
        assert before_last.day == last.day or (before_last.day < last.day and month_end)
    else:
        assert before.end == p.start
        assert before.kind == p.kind or before.kind == "range"
    if p.kind in ("week", "days", "range"):
        assert len(before.days) == len(p.days)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_period_or_a_period_error(text):
    try:
        p = parse_period(text, now=NOW, tz="Europe/Oslo", fiscal_year_start=4)
    except PeriodError as error:
        assert str(error)
        return
    assert p.start < p.end


@settings(max_examples=300, deadline=None)
@given(today=st.dates(min_value=date(2003, 1, 1), max_value=date(2035, 12, 31)),
       back=st.integers(0, 800))
def test_parse_day_reads_any_past_date_and_recent_weekdays(today, back):
    day = today - timedelta(days=back)
    assert parse_day(day.isoformat(), today=today) == day
    if back < 7:
        assert parse_day(f"{day:%A}", today=today) == day
        assert parse_day(f"{day:%a}".lower(), today=today) == day
    if back < 365:
        assert parse_day(f"{day.day}-{day:%b}", today=today) == day


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_is_a_day_or_a_period_error(text):
    try:
        day = parse_day(text, today=TODAY)
    except PeriodError as error:
        assert str(error)
        return
    assert day <= TODAY


# --------------------------------------------------------------------------- natural spellings

@pytest.mark.parametrize(("text", "fy", "label", "first", "end"), [
    ("Q3", 1, "2026-Q3", date(2026, 7, 1), date(2026, 10, 1)),
    ("q4", 1, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),  # today's quarter has begun
    ("Q3 2025", 1, "2025-Q3", date(2025, 7, 1), date(2025, 10, 1)),
    ("q1-2026", 1, "2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ("Q3", 10, "2026-Q3", date(2026, 4, 1), date(2026, 7, 1)),  # FY2027-Q3 has not begun
    ("Q1", 10, "2027-Q1", date(2026, 10, 1), date(2027, 1, 1)),
    ("november", 1, "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ("December", 1, "2025-12", date(2025, 12, 1), date(2026, 1, 1)),  # not begun this year
    ("nov 2025", 1, "2025-11", date(2025, 11, 1), date(2025, 12, 1)),
    ("2026-sep", 1, "2026-09", date(2026, 9, 1), date(2026, 10, 1)),
    ("last quarter", 1, "last-quarter", date(2026, 7, 1), date(2026, 10, 1)),
    ("this_quarter", 1, "this-quarter", date(2026, 10, 1), date(2027, 1, 1)),
    ("previous month", 1, "last-month", date(2026, 10, 1), date(2026, 11, 1)),
    ("last 30 days", 1, "30d", date(2026, 10, 20), date(2026, 11, 19)),
    ("year to date", 1, "ytd", date(2026, 1, 1), date(2026, 11, 19)),
])
def test_natural_spellings_resolve_like_their_canonical_form(text, fy, label, first, end):
    p = period(text, fy=fy)
    assert (p.label, p.first_day, p.end_day) == (label, first, end)


@pytest.mark.parametrize(("text", "message"), [
    ("Q5", '"Q5" is not a quarter'), ("Q0 2026", "is not a quarter"),
    ("nov 1850", "the year must be"), ("ma", "is not a period"), ("junuary", "is not a period"),
])
def test_bad_natural_spellings_name_the_problem(text, message):
    with pytest.raises(PeriodError) as caught:
        period(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", ["1969-12-31", "1999-12-31"])
def test_days_before_the_earliest_are_refused(text):
    with pytest.raises(PeriodError) as caught:
        parse_day(text, today=TODAY)
    assert str(caught.value) == (f"{text} is before 2000-01-01, the earliest day kpibot logs "
                                 "events on")
    assert parse_day("2000-01-01", today=TODAY) == date(2000, 1, 1)
