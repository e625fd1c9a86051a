"""The clock, zones and helpers the period tests share."""

from __future__ import annotations

from datetime import UTC, date, datetime

from reports.periods import (
    Period,
    parse_period,
)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # Wednesday; Oslo 15:30, New York 09:30
TODAY = date(2026, 11, 18)
ZONES = ["UTC", "Europe/Oslo", "America/New_York", "Asia/Shanghai", "Australia/Sydney",
         "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def period(text: str, tz: str = "UTC", now: datetime = NOW, fy: int = 1) -> Period:
    return parse_period(text, now=now, tz=tz, fiscal_year_start=fy)


def bounds(p: Period) -> tuple[datetime, datetime]:
    return p.start, p.end
