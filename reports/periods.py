"""Reporting periods: the period grammar of SPEC section 4, resolved in a workspace time zone.

Forms (case-insensitive, surrounding spaces ignored):
  today, yesterday, this-week, last-week, this-month, last-month, this-quarter, last-quarter,
  this-year, last-year, mtd, qtd, ytd, 7d/30d/90d (any Nd, 1-3660), 2026-10 (a month),
  2026-Q3 (a fiscal quarter), 2026-W42 (an ISO week), 2026 (a fiscal year), 2026-10-05 (a day),
  2026-10-01..2026-10-31 (a range; both days included).
Natural spellings: `last quarter` (spaces or underscores for hyphens), `previous-month`,
`year-to-date`, `last 30 days` (= 30d); `Q3` (the latest fiscal Q3 that has begun), `Q3 2026`;
`november` or `nov` (the latest November that has begun), `november 2026`, `2026-nov`.

Conventions:
- Boundaries are local midnights in the workspace time zone, converted to UTC; `start` is
  included, `end` excluded. A local day in a DST-change week is 23 or 25 hours long.
- ISO weeks start on Monday.
- Quarters and years follow the fiscal-year start month (1-12, 1 = January). With a start month
  other than January a fiscal year is named by the calendar year in which it ENDS:
  fiscal_year_start=10 gives FY2026 = 2025-10-01..2026-10-01 and 2026-Q1 = Oct-Dec 2025.
- this-* periods are whole (this-month ends at the start of next month); mtd, qtd and ytd end at
  the start of tomorrow (today included); Nd is the last N whole days including today.
- `previous()` is the period of the same shape just before: the previous day, week, month,
  quarter or year; the same number of days before an Nd period or a range; and for mtd, qtd and
  ytd the same stretch of the previous month, quarter or year (Oct 1-15 -> Sep 1-15), clamped
  to the end of a shorter month (Mar 1-31 -> Feb 1-28).
- `comparison(period, now)` is what a change compares (SPEC 6, "Comparisons are like for
  like"): a whole period against the whole previous one (last-month: October against
  September); a period still running at `now` by its elapsed days, today included, against the
  same stretch of the previous period (this-month on December 5: Dec 1-5 against Nov 1-5; a
  month-shaped period keeps the day of the month, clamped to a shorter month: Mar 1-31 ->
  Feb 1-28; any other shape the same number of days). The unit is a whole local day, so a
  running day (`today`) is compared with the whole day before.

Pure code; no I/O.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reports.text import MonthName, Text, TextError, quoted


class PeriodError(TextError):
    """A period or day text that is not in the grammar; `error.text` is the user-facing
    problem (str(error) in English)."""


class FutureDayError(PeriodError):
    """A day after today where only past or current days are allowed (`day` is the day)."""

    def __init__(self, message: Text | str, day: date) -> None:
        super().__init__(message)
        self.day = day


PERIOD_FORMS = ("today, yesterday, this-week, last-week, this-month, last-month, this-quarter, "
                "last-quarter, this-year, last-year, mtd, qtd, ytd, 7d, 30d, 90d, 2026-10, "
                "2026-Q3, 2026-W42, 2026, 2026-10-05, 2026-10-01..2026-10-31, Q3, november")
DAY_FORMS = "today, yesterday, a weekday (mon, tuesday), 5-oct or a date like 2026-10-05"
DEFAULT_PERIOD = "this-month"
MAX_DAYS = 3660
MIN_YEAR, MAX_YEAR = 1900, 9000
EARLIEST_DAY = date(2000, 1, 1)  # the earliest day an event may be logged on (`on DATE`)
KINDS = ("day", "week", "month", "quarter", "year", "days", "range", "to-date")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_ANCHOR_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_TO_DATE_NAMES = {"month": "month to date", "quarter": "quarter to date", "year": "year to date"}


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise PeriodError(Text("{word} is not a time zone (use an IANA name like Europe/Oslo)",
                               word=quoted(tz))) from None


def _add_months(day: date, months: int) -> date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which `day` starts in the zone `tz`."""
    return _midnight_utc(day, _zone(tz))


def _fiscal_year_start_date(day: date, fiscal_year_start: int) -> date:
    year = day.year if day.month >= fiscal_year_start else day.year - 1
    return date(year, fiscal_year_start, 1)


def _fiscal_name(fy_start: date, fiscal_year_start: int) -> int:
    """The fiscal year's name: its calendar year, or the year it ends in (non-January start)."""
    return fy_start.year if fiscal_year_start == 1 else fy_start.year + 1


def _quarter_start(day: date, fiscal_year_start: int) -> date:
    fy_start = _fiscal_year_start_date(day, fiscal_year_start)
    months = (day.year - fy_start.year) * 12 + day.month - fy_start.month
    return _add_months(fy_start, months - months % 3)


def _label_for(kind: str, start: date, fiscal_year_start: int) -> str:
    """The canonical label of the day/week/month/quarter/year starting on `start`."""
    if kind == "day":
        return start.isoformat()
    if kind == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{start.year}-{start.month:02d}"
    fy_start = _fiscal_year_start_date(start, fiscal_year_start)
    name = _fiscal_name(fy_start, fiscal_year_start)
    if kind == "year":
        return str(name)
    months = (start.year - fy_start.year) * 12 + start.month - fy_start.month
    return f"{name}-Q{months // 3 + 1}"


def _same_day_in(month_start: date, day_of_month: int) -> date:
    """`day_of_month` in the month starting `month_start`, clamped to its last day."""
    last = calendar.monthrange(month_start.year, month_start.month)[1]
    return month_start.replace(day=min(day_of_month, last))


@dataclass(frozen=True)
class Period:
    """A half-open span of local days [start, end) in time zone `tz`, as UTC instants."""

    label: str  # canonical label, e.g. "this-month", "2026-Q3", "2026-W42", "7d"
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
        """The period of local days first..end (end excluded) in `tz`."""
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

    def _local_days(self) -> tuple[date, date]:
        if self.first_day is not None and self.end_day is not None:
            return self.first_day, self.end_day
        return self.start_local.date(), self.end_local.date()

    @property
    def days(self) -> list[date]:
        """The local dates the period covers."""
        first, end = self._local_days()
        return [first + timedelta(days=i) for i in range((end - first).days)]

    def contains(self, instant: datetime) -> bool:
        """Whether the tz-aware `instant` falls in [start, end)."""
        return self.start <= instant < self.end

    def elapsed_fraction(self, now: datetime) -> float:
        """Share of the period elapsed at `now`, clamped to 0..1."""
        total = (self.end - self.start).total_seconds()
        if total <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.start).total_seconds() / total))

    def _with_days(self, label: str, first: date, end: date, kind: str) -> Period:
        return Period.from_days(label, first, end, self.tz, kind,
                                fiscal_year_start=self.fiscal_year_start)

    def previous(self) -> Period:
        """The period of the same shape immediately before this one (see the module docstring)."""
        first, end = self._local_days()
        fy = self.fiscal_year_start
        if self.kind in ("day", "week"):
            start = first - timedelta(days=1 if self.kind == "day" else 7)
            return self._with_days(_label_for(self.kind, start, fy), start, first, self.kind)
        if self.kind in _ANCHOR_MONTHS:
            start = _add_months(first, -_ANCHOR_MONTHS[self.kind])
            return self._with_days(_label_for(self.kind, start, fy), start, first, self.kind)
        if self.kind == "to-date" and end > first:
            span = _ANCHOR_MONTHS[self.anchor or "month"]
            last = end - timedelta(days=1)
            month = (last.year - first.year) * 12 + last.month - first.month
            same = _same_day_in(_add_months(first, month - span), last.day)
            stop = min(same + timedelta(days=1), first)
            return self._with_days(f"previous {self.label}", _add_months(first, -span), stop,
                                   "range")
        length = (end - first).days
        return self._with_days(f"previous {length}d", first - timedelta(days=length), first,
                               "range")

    def describe(self) -> str:
        """Human text: "October 2026", "2026-Q3 (Jul 1 – Sep 30)", "last 7 days (...)"."""
        first, end = self._local_days()
        if end <= first:
            return f"{self.label} (no days)"
        last = end - timedelta(days=1)
        fy = self.fiscal_year_start
        if self.kind == "day":
            return f"{first:%a %b} {first.day}, {first.year}"
        if self.kind == "month" and last.day == calendar.monthrange(last.year, last.month)[1] \
                and first.day == 1 and first.month == last.month and first.year == last.year:
            return f"{first:%B %Y}"
        if self.kind == "week":
            year, week, _ = first.isocalendar()
            return f"week {week}, {year} ({_span(first, last, year)})"
        if self.kind in ("quarter", "year") and first.day == 1:
            name = _label_for(self.kind, first, fy)
            if fy == 1:
                year = int(name[:4])
                return name if self.kind == "year" else f"{name} ({_span(first, last, year)})"
            return f"FY{name} ({_span(first, last)})"
        if self.kind == "days":
            return f"last {len(self.days)} days ({_span(first, last, last.year)})"
        if self.kind == "to-date":
            name = _TO_DATE_NAMES.get(self.anchor or "month", self.label)
            return f"{name} ({_span(first, last)})"
        return _span(first, last)


@dataclass(frozen=True)
class Comparison:
    """What a change compares: `current` (the period asked for, or its elapsed part when it
    is still running) against `previous` (the same span of the period before)."""

    current: Period
    previous: Period
    partial: bool  # the period is still running: `current` is its elapsed days only

    def describe(self) -> str:
        """Both spans: "Dec 1 – Dec 5, 2026 vs Nov 1 – Nov 5, 2026"."""
        return f"{self.current.describe()} vs {self.previous.describe()}"


def comparison(period: Period, now: datetime) -> Comparison:
    """The spans a change of `period` compares at the tz-aware instant `now` (the module
    docstring has the rule); `now` is injected, never read from the clock."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be tz-aware")
    first, end = period._local_days()
    previous = period.previous()
    today = now.astimezone(_zone(period.tz)).date()
    if not first <= today < end - timedelta(days=1):  # whole: over, not begun, or last day
        return Comparison(period, previous, partial=False)
    stop = today + timedelta(days=1)
    before_first, before_end = previous._local_days()
    if period.kind in _ANCHOR_MONTHS or period.kind == "to-date":
        months = (today.year - first.year) * 12 + today.month - first.month
        same = _same_day_in(_add_months(before_first, months), today.day)
        before_stop = min(same + timedelta(days=1), before_end)
    else:
        before_stop = min(before_first + (stop - first), before_end)
    return Comparison(_range(period, first, stop), _range(period, before_first, before_stop),
                      partial=True)


def _range(period: Period, first: date, end: date) -> Period:
    """The days first..end (excluded) as a range period in `period`'s zone and fiscal year."""
    last = end - timedelta(days=1)
    return period._with_days(f"{first.isoformat()}..{last.isoformat()}", first, end, "range")


def _span(first: date, last: date, known_year: int | None = None) -> str:
    """`Oct 1 – Oct 31, 2026`; the year is left out when both days are in `known_year`."""
    if first == last:
        return f"{first:%b} {first.day}, {first.year}"
    tail = f"{last:%b} {last.day}"
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {tail}, {last.year}"
    if first.year == known_year:
        return f"{first:%b} {first.day} – {tail}"
    return f"{first:%b} {first.day} – {tail}, {last.year}"


_BARE_QUARTER = re.compile(r"^q(\d)(?:-(\d{4}))?$", re.ASCII)
_NAMED_MONTH = re.compile(r"^(?:([a-z]{3,9})(?:-(\d{4}))?|(\d{4})-([a-z]{3,9}))$", re.ASCII)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})-q(\d+)$", re.ASCII)
_WEEK = re.compile(r"^(\d{4})-w(\d+)$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_NDAYS = re.compile(r"^(\d+)d$", re.ASCII)


def _small_int(digits: str) -> int:
    """The number `digits` spells, or -1 when it has too many digits to be meaningful here."""
    return int(digits) if len(digits) <= 6 else -1


def _check_year(year: int, raw: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(Text("{word}: the year must be from {first} to {last}", word=quoted(raw),
                               first=str(MIN_YEAR), last=str(MAX_YEAR)))


def _iso_date(text: str, raw: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(Text("{word} is not a date (use YYYY-MM-DD, e.g. 2026-10-05)",
                               word=quoted(text))) from None
    _check_year(day.year, raw)
    return day


_SYNONYMS = {"month-to-date": "mtd", "quarter-to-date": "qtd", "year-to-date": "ytd",
             "previous-week": "last-week", "previous-month": "last-month",
             "previous-quarter": "last-quarter", "previous-year": "last-year"}
_LAST_DAYS = re.compile(r"^(?:last|past)-(\d+)-days?$", re.ASCII)


def _normalize(text: str) -> str:
    word = text.strip().lower()
    word = re.sub(r"\s*\.\.\s*", "..", word)
    word = re.sub(r"[\s_]+", "-", word)
    if match := _LAST_DAYS.match(word):
        return f"{match[1]}d"
    return _SYNONYMS.get(word, word)


def parse_period(text: str, *, now: datetime, tz: str, fiscal_year_start: int = 1) -> Period:
    """Resolve a period text at the tz-aware instant `now` in time zone `tz`.

    Raises PeriodError (user-facing message) for text outside the grammar or an unknown zone,
    ValueError for a naive `now`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be tz-aware")
    if not 1 <= fiscal_year_start <= 12:
        raise PeriodError("the fiscal year start month must be 1-12")
    zone = _zone(tz)
    raw = (text or "").strip()
    word = _normalize(raw)
    if not word:
        raise PeriodError(Text("A period is missing. Try {forms}", forms=PERIOD_FORMS))
    try:
        return _resolve(word, raw, now.astimezone(zone).date(), tz, fiscal_year_start)
    except PeriodError:
        raise
    except (ValueError, OverflowError):
        raise PeriodError(Text("{word} is out of the supported range of dates",
                               word=quoted(raw))) from None


def _resolve(word: str, raw: str, today: date, tz: str, fy: int) -> Period:
    def make(label: str, first: date, end: date, kind: str, anchor: str | None = None) -> Period:
        return Period.from_days(label, first, end, tz, kind, fiscal_year_start=fy, anchor=anchor)

    tomorrow = today + timedelta(days=1)
    starts = {
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "quarter": _quarter_start(today, fy),
        "year": _fiscal_year_start_date(today, fy),
    }
    if word in ("today", "yesterday"):
        first = today if word == "today" else today - timedelta(days=1)
        return make(word, first, first + timedelta(days=1), "day")
    if word[:5] in ("this-", "last-") and word[5:] in starts:
        kind = word[5:]
        first = starts[kind]
        if kind == "week":
            first -= timedelta(days=7 if word.startswith("last") else 0)
            return make(word, first, first + timedelta(days=7), kind)
        if word.startswith("last"):
            first = _add_months(first, -_ANCHOR_MONTHS[kind])
        return make(word, first, _add_months(first, _ANCHOR_MONTHS[kind]), kind)
    anchors = {"mtd": "month", "qtd": "quarter", "ytd": "year"}
    if word in anchors:
        return make(word, starts[anchors[word]], tomorrow, "to-date", anchors[word])
    if match := _NDAYS.match(word):
        n = _small_int(match[1])
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(Text("{word}: the number of days must be 1-{limit}",
                                   word=quoted(raw), limit=str(MAX_DAYS)))
        return make(f"{n}d", tomorrow - timedelta(days=n), tomorrow, "days")
    if match := _RANGE.match(word):
        first, last = _iso_date(match[1], raw), _iso_date(match[2], raw)
        if last < first:
            raise PeriodError(Text("{word}: the end is before the start", word=quoted(raw)))
        return make(f"{first.isoformat()}..{last.isoformat()}", first,
                    last + timedelta(days=1), "range")
    if _DAY.match(word):
        day = _iso_date(word, raw)
        return make(day.isoformat(), day, day + timedelta(days=1), "day")
    if match := _MONTH.match(word):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(Text("{word} is not a month (months run 01-12)", word=quoted(raw)))
        _check_year(year, raw)
        first = date(year, month, 1)
        return make(f"{year}-{month:02d}", first, _add_months(first, 1), "month")
    if match := _QUARTER.match(word):
        name, quarter = int(match[1]), _small_int(match[2])
        if not 1 <= quarter <= 4:
            raise PeriodError(_not_a_quarter(raw))
        _check_year(name, raw)
        first = _add_months(date(name if fy == 1 else name - 1, fy, 1), 3 * (quarter - 1))
        return make(f"{name}-Q{quarter}", first, _add_months(first, 3), "quarter")
    if match := _WEEK.match(word):
        year, week = int(match[1]), _small_int(match[2])
        _check_year(year, raw)
        weeks = date(year, 12, 28).isocalendar()[1]
        if not 1 <= week <= weeks:
            raise PeriodError(Text("{word} is not a week ({year} has ISO weeks W01-W{weeks})",
                                   word=quoted(raw), year=str(year), weeks=str(weeks)))
        first = date.fromisocalendar(year, week, 1)
        return make(f"{year}-W{week:02d}", first, first + timedelta(days=7), "week")
    if match := _YEAR.match(word):
        name = int(match[1])
        _check_year(name, raw)
        first = date(name if fy == 1 else name - 1, fy, 1)
        return make(str(name), first, _add_months(first, 12), "year")
    if named := _named(word, raw, today, fy):
        return make(*named)
    raise PeriodError(Text("{word} is not a period. Try {forms}", word=quoted(raw),
                           forms=PERIOD_FORMS))


def _not_a_quarter(raw: str) -> Text:
    return Text("{word} is not a quarter (Q1-Q4)", word=quoted(raw))


def _named(word: str, raw: str, today: date, fy: int) -> tuple[str, date, date, str] | None:
    """`q3`, `q3-2026`, `november`, `nov-2026`, `2026-nov`: (label, first, end, kind), or None.

    Without a year, the latest such quarter or month that has begun (today's included).
    """
    if match := _BARE_QUARTER.match(word):
        quarter = int(match[1])
        if not 1 <= quarter <= 4:
            raise PeriodError(_not_a_quarter(raw))
        if match[2]:
            name = int(match[2])
            _check_year(name, raw)
        else:
            name = _fiscal_name(_fiscal_year_start_date(today, fy), fy)
            if _add_months(date(name if fy == 1 else name - 1, fy, 1), 3 * (quarter - 1)) > today:
                name -= 1
        first = _add_months(date(name if fy == 1 else name - 1, fy, 1), 3 * (quarter - 1))
        return f"{name}-Q{quarter}", first, _add_months(first, 3), "quarter"
    match = _NAMED_MONTH.match(word)
    month = _unique_prefix(match[1] or match[4], MONTHS) if match else None
    if month is None:
        return None
    year_text = match[2] or match[3]
    year = int(year_text) if year_text else today.year - (month + 1 > today.month)
    _check_year(year, raw)
    first = date(year, month + 1, 1)
    return f"{year}-{month + 1:02d}", first, _add_months(first, 1), "month"


_MONTH_DAY = re.compile(r"^(?:(\d{1,2})[-\s/.]?([a-z]{3,9})|([a-z]{3,9})[-\s/.]?(\d{1,2}))$",
                        re.ASCII)


def _unique_prefix(word: str, names: tuple[str, ...]) -> int | None:
    """Index of the one name `word` abbreviates (3+ letters), else None."""
    hits = [i for i, name in enumerate(names) if len(word) >= 3 and name.startswith(word)]
    return hits[0] if len(hits) == 1 else None


def parse_day(text: str, *, today: date) -> date:
    """A past or current day for backdating (`on DATE`). Raises PeriodError.

    Forms: today, yesterday, 2026-10-05, a weekday (mon, tue, ..., monday: the most recent one,
    today included), a day of a month (5-oct, oct-5, 5 october: the most recent one).
    """
    raw = (text or "").strip()
    word = raw.lower()
    if word == "today":
        day = today
    elif word == "yesterday":
        day = today - timedelta(days=1)
    elif _DAY.match(word):
        day = _iso_date(word, raw)
    elif (weekday := _unique_prefix(word, WEEKDAYS)) is not None:
        day = today - timedelta(days=(today.weekday() - weekday) % 7)
    elif (match := _MONTH_DAY.match(word)) and \
            (month := _unique_prefix(match[2] or match[3], MONTHS)) is not None:
        day = _recent_month_day(int(match[1] or match[4]), month + 1, today, raw)
    else:
        raise PeriodError(Text("{word} is not a day. Use today, yesterday, a weekday "
                               "({weekdays}), {month_day} or a date like 2026-10-05",
                               word=quoted(raw), weekdays="mon, tuesday", month_day="5-oct"))
    if day > today:
        raise FutureDayError(Text("{day} is in the future; you can only log things that "
                                  "already happened", day=day.isoformat()), day)
    if day < EARLIEST_DAY:
        raise PeriodError(Text("{day} is before {earliest}, the earliest day kpibot logs events "
                               "on", day=day.isoformat(), earliest=EARLIEST_DAY.isoformat()))
    return day


def _recent_month_day(day_of_month: int, month: int, today: date, raw: str) -> date:
    """The most recent `day_of_month` of `month` that is not after `today`."""
    if not 1 <= day_of_month <= 31:
        raise PeriodError(Text("{word} is not a day of the month", word=quoted(raw)))
    for year in (today.year, today.year - 1, today.year - 2, today.year - 3, today.year - 4):
        if day_of_month <= calendar.monthrange(year, month)[1]:
            day = date(year, month, day_of_month)
            if day <= today:
                return day
    raise PeriodError(Text("{word} is not a day of {month}", word=quoted(raw),
                           month=MonthName(month)))


__all__ = ["DAY_FORMS", "DEFAULT_PERIOD", "EARLIEST_DAY", "KINDS", "MAX_DAYS", "PERIOD_FORMS",
           "Comparison", "FutureDayError", "Period", "PeriodError", "comparison", "parse_day",
           "parse_period"]
