"""The stalled thresholds' window: the 90 whole local days before today."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.kpis.catalog import Ctx
from reports.periods import parse_period


def _ctx(now: datetime, tz: str) -> Ctx:
    return Ctx(facts=None, period=parse_period("this-month", now=now, tz=tz), now=now)


def test_the_window_ends_at_local_midnight_and_holds_still_all_day():
    morning = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # 01:30 in Oslo
    evening = datetime(2026, 11, 21, 22, 30, tzinfo=UTC)  # 23:30 in Oslo
    window = _ctx(morning, "Europe/Oslo").trailing_days()
    assert window == _ctx(evening, "Europe/Oslo").trailing_days()
    # Nov 21 00:00 CET; Aug 23 00:00 CEST (summer time, +2)
    assert window == (datetime(2026, 8, 22, 22, tzinfo=UTC), datetime(2026, 11, 20, 23, tzinfo=UTC))


def test_the_day_is_the_workspace_zone_s():
    now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # still Nov 20 in New York
    start, end = _ctx(now, "America/New_York").trailing_days(7)
    assert (start, end) == (datetime(2026, 11, 13, 5, tzinfo=UTC),
                            datetime(2026, 11, 20, 5, tzinfo=UTC))
