"""Dates and times in CSV cells: ISO 8601 with or without time and offset, `10/05/2026` (month or
day first, as the whole file tells: bot.transfer.evidence), `05.10.2026` (day first),
`5 Oct 2026`, `Oct 5, 2026`, Excel serial numbers. A time without an offset is
workspace-local; a date without a time is noon workspace-local."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.transfer.problems import RowError
from reports.periods import MONTHS

# Month names as files write them: the full English name, its first three letters, and "sept".
_MONTHS = {name: i + 1 for i, full in enumerate(MONTHS) for name in (full, full[:3])}
_MONTHS["sept"] = 9
_REST = r"(?:(?:\s*T\s*|\s*,\s*|\s+(?:at\s+)?)(?P<time>.+))?"
_NUMERIC_DATE = re.compile(r"(?a)^(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)"
                           r"(?P<y>\d{4}|\d{2})" + _REST + "$")
_YMD_DATE = re.compile(r"(?a)^(?P<y>\d{4})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                       + _REST + "$")
_NAMED_DMY = re.compile(r"(?a)^(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]+(?P<mon>[A-Za-z]{3,9})\.?"
                        r"[\s,-]+(?P<y>\d{4}|\d{2})" + _REST + "$")
_NAMED_MDY = re.compile(r"(?a)^(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+"
                        r"(?P<y>\d{4})" + _REST + "$")
_TIME = re.compile(r"(?a)^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,6})\d*)?)?"
                   r"\s*(?P<ampm>[AaPp])?\.?(?:[Mm]\.?)?"
                   r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?$")
_EXCEL_SERIAL = re.compile(r"(?a)^\d{5}(?:\.\d+)?$")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_TZ_SUFFIX = re.compile(r"\s*(?:UTC|GMT)$")


@dataclass(frozen=True)
class DateReader:
    """Reads the date/time cells of one file: its day/month order and workspace zone."""

    tz: ZoneInfo
    order: str | None = None  # "dmy" | "mdy" | None (unknown: refuse day/month forms)
    pattern: str | None = None  # an explicit strptime pattern

    def read(self, text: str, what: str) -> tuple[datetime, bool]:
        """(UTC instant, had a time of day). Raises RowError naming `what` and the value."""
        s = text.strip()
        try:
            local, has_time = self._parse(s)
        except (ValueError, OverflowError):
            raise RowError(f'{what} "{text}" is not a date') from None
        if local is None:
            raise RowError(f'{what} "{text}" is not a date (write it like 2026-10-05 or '
                           "2026-10-05 14:30)")
        if not has_time:
            local = datetime.combine(local.date(), time(12), tzinfo=self.tz)
        elif local.tzinfo is None:
            local = local.replace(tzinfo=self.tz)
        return local.astimezone(UTC), has_time

    def _parse(self, s: str) -> tuple[datetime | None, bool]:
        if self.pattern:
            parsed = datetime.strptime(s, self.pattern)
            has_time = any(d in self.pattern for d in ("%H", "%I", "%M", "%X", "%c"))
            return parsed, has_time
        if len(s) >= 10 and s[4] == "-" and s[:4].isdigit():
            core = _TZ_SUFFIX.sub("", s) if s[-1] in "CT" else s  # ends in UTC or GMT?
            try:
                parsed = datetime.fromisoformat(core)
            except ValueError:
                pass
            else:
                if len(core) != len(s) and parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
                return parsed, len(core) > 10
        m = _YMD_DATE.match(s)
        if m:
            return self._with_time(date(int(m["y"]), int(m["m"]), int(m["d"])), m["time"])
        m = _NUMERIC_DATE.match(s)
        if m:
            day_month = self._day_month(int(m["a"]), int(m["b"]), m["sep"])
            if day_month is None:
                return None, False
            day, month = day_month
            return self._with_time(date(_year(m["y"]), month, day), m["time"])
        m = _NAMED_DMY.match(s) or _NAMED_MDY.match(s)
        if m:
            month = _MONTHS.get(m["mon"].lower())
            if month is None:
                return None, False
            return self._with_time(date(_year(m["y"]), month, int(m["d"])), m["time"])
        if _EXCEL_SERIAL.match(s):
            days = float(s)
            parsed = _EXCEL_EPOCH + timedelta(days=days)
            return parsed, days != int(days)
        return None, False

    def _day_month(self, a: int, b: int, sep: str) -> tuple[int, int] | None:
        """(day, month) of `a/b/year`: day first with dots, else as the numbers or the file's
        order tell; None when nothing tells. A form against the file's order is a ValueError."""
        if sep == ".":
            return a, b
        if a == b or a > 12 or b > 12:
            if self.order == "mdy" and a > 12:
                raise ValueError("day first in a month-first file")
            if self.order == "dmy" and b > 12:
                raise ValueError("month first in a day-first file")
            return (a, b) if a > 12 else (b, a)
        if self.order == "dmy":
            return a, b
        if self.order == "mdy":
            return b, a
        return None

    @staticmethod
    def _with_time(day: date, text: str | None) -> tuple[datetime, bool]:
        if not text:
            return datetime.combine(day, time(0)), False
        m = _TIME.match(text.strip())
        if not m:
            raise ValueError("bad time")
        hour, minute = int(m["h"]), int(m["m"])
        if m["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError("bad 12-hour time")
            hour = hour % 12 + (12 if m["ampm"].lower() == "p" else 0)
        second = int(m["s"] or 0)
        micro = int((m["f"] or "0").ljust(6, "0"))
        tzinfo = None
        if m["tz"]:
            tzinfo = UTC if m["tz"] in ("Z", "UTC", "GMT") else _offset(m["tz"])
        return datetime.combine(day, time(hour, minute, second, micro), tzinfo=tzinfo), True


def _offset(text: str):
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def classify_date(text: str) -> str | None:
    """Evidence a date cell gives about day/month order: "dmy", "mdy", "ambiguous" or None."""
    s = text.strip()
    if not s or s[:4].isdigit():
        return None
    m = _NUMERIC_DATE.match(s)
    if not m or m["sep"] == ".":
        return None
    a, b = int(m["a"]), int(m["b"])
    if a == b:
        return None
    if a > 12 >= b:
        return "dmy"
    if b > 12 >= a:
        return "mdy"
    if a <= 12 and b <= 12:
        return "ambiguous"
    return None


# ---------------------------------------------------------------------------------------------
# Money and numbers


__all__ = ["DateReader", "classify_date"]
