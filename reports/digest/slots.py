"""When a digest is due: the slots of a schedule, as UTC instants. Pure; DST-safe.

A slot is the local wall time `hour:minute` on the schedule's day (weekly: a weekday, 0 = Monday;
monthly: day 1..28 of the month, or -1 for the last day) in the IANA zone `tz`, converted to UTC
on that date — so 09:00 Europe/Oslo is 08:00 UTC in winter and 07:00 UTC in summer. A wall time
that does not exist on the day clocks go forward (02:30 on a spring-forward night) moves
forward by the gap; one that occurs twice (fall back) is the first occurrence.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SlotRule:
    cadence: str  # weekly | monthly
    day: int  # weekly 0..6 (Mon..Sun); monthly 1..28 or -1 (last day)
    hour: int
    minute: int
    tz: str

    def __post_init__(self) -> None:
        if self.cadence == "weekly" and not 0 <= self.day <= 6:
            raise ValueError("a weekly digest day is 0 (Monday) .. 6 (Sunday)")
        if self.cadence == "monthly" and not (1 <= self.day <= 28 or self.day == -1):
            raise ValueError("a monthly digest day is 1..28, or -1 for the last day")
        if self.cadence not in ("weekly", "monthly"):
            raise ValueError(f"unknown cadence {self.cadence!r}")
        ZoneInfo(self.tz)  # raises for an unknown zone

    def describe(self) -> str:
        """`weekly on Monday at 09:00 Europe/Oslo`, `monthly on the last day at 08:30 UTC`."""
        at = f"{self.hour:02d}:{self.minute:02d} {self.tz}"
        if self.cadence == "weekly":
            return f"weekly on {WEEKDAY_NAMES[self.day]} at {at}"
        day = "the last day" if self.day == -1 else f"day {self.day}"
        return f"monthly on {day} at {at}"

    def slot_on(self, day: date) -> datetime:
        """The UTC instant of the slot on local date `day` (whether or not it is a slot day)."""
        # fold=0: a wall time in a spring-forward gap maps with the offset before the change
        # (02:30 -> 03:30 local); one that occurs twice maps to its first occurrence.
        wall = datetime.combine(day, time(self.hour, self.minute), tzinfo=ZoneInfo(self.tz))
        return wall.astimezone(UTC)

    def is_slot_day(self, day: date) -> bool:
        if self.cadence == "weekly":
            return day.weekday() == self.day
        if self.day == -1:
            return day.day == calendar.monthrange(day.year, day.month)[1]
        return day.day == self.day

    def slots_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every slot in (start, end], oldest first."""
        zone = ZoneInfo(self.tz)
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        found = []
        while day <= last:
            if self.is_slot_day(day):
                slot = self.slot_on(day)
                if start < slot <= end:
                    found.append(slot)
            day += timedelta(days=1)
        return found

    def latest_slot(self, at: datetime) -> datetime:
        """The most recent slot at or before `at`."""
        span = timedelta(days=8 if self.cadence == "weekly" else 32)
        return self.slots_between(at - span, at)[-1]

    def next_slot(self, after: datetime) -> datetime:
        """The first slot strictly after `after`."""
        span = timedelta(days=8 if self.cadence == "weekly" else 32)
        return self.slots_between(after, after + span)[0]
