"""Reporting periods: the period grammar of SPEC section 4, resolved in a workspace time zone.

Forms: today, yesterday, this-week, last-week, this-month, last-month, this-quarter,
last-quarter, this-year, last-year, mtd, qtd, ytd, 7d/30d/90d (any Nd), 2026-10, 2026-Q3,
2026-W42, 2026, 2026-10-05, 2026-10-01..2026-10-31 (both days included).

Boundaries are local midnights in the workspace time zone, converted to UTC; start included,
end excluded. ISO weeks start on Monday. Quarters and years follow the fiscal-year start month;
with a start month other than January a fiscal year is named by the calendar year in which it
ends (fiscal_year_start=10: FY2026 = 2025-10-01..2026-10-01, and 2026-Q1 = Oct-Dec 2025).
Pure code; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class PeriodError(ValueError):
    """A period text that is not in the grammar; str(error) is the user-facing problem."""


PERIOD_FORMS = ("today, yesterday, this-week, last-week, this-month, last-month, this-quarter, "
                "last-quarter, this-year, last-year, mtd, qtd, ytd, 7d, 30d, 90d, 2026-10, "
                "2026-Q3, 2026-W42, 2026, 2026-10-05, 2026-10-01..2026-10-31")
DEFAULT_PERIOD = "this-month"
MAX_DAYS = 3660
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f'"{tz}" is not a time zone (use an IANA name like Europe/Oslo)') \
            from None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    label: str  # canonical label, e.g. "this-month", "2026-Q3", "7d"
    start: datetime  # tz-aware UTC instant, included
    end: datetime  # tz-aware UTC instant, excluded
    tz: str  # IANA zone the boundaries were computed in
    kind: str = "range"  # day | week | month | quarter | year | days | range | to-date
    first_day: date | None = None  # local date of start
    end_day: date | None = None  # local date of end (excluded)
    fiscal_year_start: int = 1
    anchor: str | None = None  # for to-date periods: month | quarter | year

    @classmethod
    def from_days(cls, label: str, first: date, end: date, tz: str, kind: str, *,
                  fiscal_year_start: int = 1, anchor: str | None = None) -> Period:
        zone = _zone(tz)
        return cls(label=label, start=_midnight_utc(first, zone), end=_midnight_utc(end, zone),
                   tz=tz, kind=kind, first_day=first, end_day=end,
                   fiscal_year_start=fiscal_year_start, anchor=anchor)

    @property
    def start_local(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.tz))

    @property
    def end_local(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.tz))

    @property
    def days(self) -> list[date]:
        """The local dates the period covers."""
        first, end = self.first_day, self.end_day
        return [first + timedelta(days=i) for i in range((end - first).days)]

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def elapsed_fraction(self, now: datetime) -> float:
        """Share of the period elapsed at `now`, between 0 and 1."""
        total = (self.end - self.start).total_seconds()
        if total <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.start).total_seconds() / total))

    def previous(self) -> Period:
        """The period of the same shape immediately before this one."""
        first, end = self.first_day, self.end_day
        fy = self.fiscal_year_start
        if self.kind == "day":
            day = first - timedelta(days=1)
            return Period.from_days(day.isoformat(), day, first, self.tz, "day",
                                    fiscal_year_start=fy)
        if self.kind == "week":
            start = first - timedelta(days=7)
            year, week, _ = start.isocalendar()
            return Period.from_days(f"{year}-W{week:02d}", start, first, self.tz, "week",
                                    fiscal_year_start=fy)
        if self.kind in ("month", "quarter", "year"):
            months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
            start = _add_months(first, -months)
            return Period.from_days(_label_for(self.kind, start, fy), start, first, self.tz,
                                    self.kind, fiscal_year_start=fy)
        if self.kind == "to-date":
            months = {"month": 1, "quarter": 3, "year": 12}[self.anchor or "month"]
            start = _add_months(first, -months)
            elapsed = (end - first).days
            stop = min(start + timedelta(days=elapsed), first)
            return Period.from_days(f"previous {self.label}", start, stop, self.tz, "range",
                                    fiscal_year_start=fy)
        length = (end - first).days
        start = first - timedelta(days=length)
        return Period.from_days(f"previous {length}d", start, first, self.tz, "range",
                                fiscal_year_start=fy)

    def describe(self) -> str:
        """Human text: "October 2026", "2026-Q3 (Jul 1 – Sep 30)", "last 7 days (...)"."""
        first, last = self.first_day, self.end_day - timedelta(days=1)
        span = _span(first, last)
        if self.kind == "day":
            return f"{first:%a %b} {first.day}, {first.year}"
        if self.kind == "month":
            return f"{first:%B %Y}"
        if self.kind == "week":
            year, week, _ = first.isocalendar()
            return f"week {week}, {year} ({span})"
        if self.kind == "days":
            return f"last {len(self.days)} days ({span})"
        if self.kind in ("quarter", "year", "to-date"):
            return f"{self.label} ({span})"
        return span


def _span(first: date, last: date) -> str:
    if first == last:
        return f"{first:%b} {first.day}, {first.year}"
    tail = f"{last:%b} {last.day}"
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {tail}, {last.year}"
    return f"{first:%b} {first.day} – {tail}, {last.year}"


def _fiscal_year_start_date(day: date, fiscal_year_start: int) -> date:
    year = day.year if day.month >= fiscal_year_start else day.year - 1
    return date(year, fiscal_year_start, 1)


def _fiscal_name(fy_start: date, fiscal_year_start: int) -> int:
    return fy_start.year if fiscal_year_start == 1 else fy_start.year + 1


def _label_for(kind: str, start: date, fiscal_year_start: int) -> str:
    if kind == "month":
        return f"{start.year}-{start.month:02d}"
    fy_start = _fiscal_year_start_date(start, fiscal_year_start)
    name = _fiscal_name(fy_start, fiscal_year_start)
    if kind == "year":
        return str(name)
    months = (start.year - fy_start.year) * 12 + start.month - fy_start.month
    return f"{name}-Q{months // 3 + 1}"


def _quarter_start(day: date, fiscal_year_start: int) -> date:
    fy_start = _fiscal_year_start_date(day, fiscal_year_start)
    months = (day.year - fy_start.year) * 12 + day.month - fy_start.month
    return _add_months(fy_start, months - months % 3)


_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-q(\d+)$")
_WEEK = re.compile(r"^(\d{4})-w(\d+)$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NDAYS = re.compile(r"^(\d+)d$")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f'"{text}" is not a date (use YYYY-MM-DD, e.g. 2026-10-05)') from None


def parse_period(text: str, *, now: datetime, tz: str, fiscal_year_start: int = 1) -> Period:
    """Resolve a period text at `now` in time zone `tz`. Raises PeriodError."""
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    if not 1 <= fiscal_year_start <= 12:
        raise PeriodError("the fiscal year start month must be 1-12")
    zone = _zone(tz)
    raw = (text or "").strip()
    word = raw.lower()
    if not word:
        raise PeriodError(f"A period is missing. Try {PERIOD_FORMS}")
    today = now.astimezone(zone).date()
    fy = fiscal_year_start

    def make(label: str, first: date, end: date, kind: str, anchor: str | None = None) -> Period:
        return Period.from_days(label, first, end, tz, kind, fiscal_year_start=fy, anchor=anchor)

    tomorrow = today + timedelta(days=1)
    week_start = today - timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    quarter_start = _quarter_start(today, fy)
    year_start = _fiscal_year_start_date(today, fy)
    simple = {
        "today": lambda: make("today", today, tomorrow, "day"),
        "yesterday": lambda: make("yesterday", today - timedelta(days=1), today, "day"),
        "this-week": lambda: make("this-week", week_start, week_start + timedelta(days=7),
                                  "week"),
        "last-week": lambda: make("last-week", week_start - timedelta(days=7), week_start,
                                  "week"),
        "this-month": lambda: make("this-month", month_start, _add_months(month_start, 1),
                                   "month"),
        "last-month": lambda: make("last-month", _add_months(month_start, -1), month_start,
                                   "month"),
        "this-quarter": lambda: make("this-quarter", quarter_start,
                                     _add_months(quarter_start, 3), "quarter"),
        "last-quarter": lambda: make("last-quarter", _add_months(quarter_start, -3),
                                     quarter_start, "quarter"),
        "this-year": lambda: make("this-year", year_start, _add_months(year_start, 12), "year"),
        "last-year": lambda: make("last-year", _add_months(year_start, -12), year_start,
                                  "year"),
        "mtd": lambda: make("mtd", month_start, tomorrow, "to-date", "month"),
        "qtd": lambda: make("qtd", quarter_start, tomorrow, "to-date", "quarter"),
        "ytd": lambda: make("ytd", year_start, tomorrow, "to-date", "year"),
    }
    if word in simple:
        return simple[word]()
    if match := _NDAYS.match(word):
        n = int(match[1])
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(f'"{raw}": the number of days must be 1-{MAX_DAYS}')
        return make(f"{n}d", tomorrow - timedelta(days=n), tomorrow, "days")
    if match := _RANGE.match(word):
        first, last = _iso_date(match[1]), _iso_date(match[2])
        if last < first:
            raise PeriodError(f'"{raw}": the end is before the start')
        return make(f"{first.isoformat()}..{last.isoformat()}", first,
                    last + timedelta(days=1), "range")
    if _DAY.match(word):
        day = _iso_date(word)
        return make(day.isoformat(), day, day + timedelta(days=1), "day")
    if match := _MONTH.match(word):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(f'"{raw}" is not a month (months run 01-12)')
        first = date(year, month, 1)
        return make(f"{year}-{month:02d}", first, _add_months(first, 1), "month")
    if match := _QUARTER.match(word):
        name, quarter = int(match[1]), int(match[2])
        if not 1 <= quarter <= 4:
            raise PeriodError(f'"{raw}" is not a quarter (Q1-Q4)')
        start_year = name if fy == 1 else name - 1
        first = _add_months(date(start_year, fy, 1), 3 * (quarter - 1))
        return make(f"{name}-Q{quarter}", first, _add_months(first, 3), "quarter")
    if match := _WEEK.match(word):
        year, week = int(match[1]), int(match[2])
        try:
            first = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise PeriodError(f'"{raw}" is not a week ({year} has ISO weeks '
                              f"W01-W{date(year, 12, 28).isocalendar()[1]:02d})") from None
        return make(f"{year}-W{week:02d}", first, first + timedelta(days=7), "week")
    if match := _YEAR.match(word):
        name = int(match[1])
        if not 1900 < name < 9000:
            raise PeriodError(f'"{raw}" is not a year')
        first = date(name if fy == 1 else name - 1, fy, 1)
        return make(str(name), first, _add_months(first, 12), "year")
    raise PeriodError(f'"{raw}" is not a period. Try {PERIOD_FORMS}')


def parse_day(text: str, *, today: date) -> date:
    """A day for backdating: today, yesterday, 2026-10-05, mon..sun (the most recent one)."""
    raw = (text or "").strip()
    word = raw.lower()
    if word == "today":
        day = today
    elif word == "yesterday":
        day = today - timedelta(days=1)
    elif _DAY.match(word):
        day = _iso_date(word)
    else:
        names = [w for w in WEEKDAYS if w == word or (len(word) >= 3 and w.startswith(word))]
        if len(names) != 1:
            raise PeriodError(f'"{raw}" is not a day. Use today, yesterday, a weekday '
                              "(mon, tuesday) or a date like 2026-10-05")
        back = (today.weekday() - WEEKDAYS.index(names[0])) % 7
        day = today - timedelta(days=back)
    if day > today:
        raise PeriodError(f"{day.isoformat()} is in the future; you can only log things that "
                          "already happened")
    return day


__all__ = ["DEFAULT_PERIOD", "PERIOD_FORMS", "Period", "PeriodError", "parse_day",
           "parse_period", "replace"]
