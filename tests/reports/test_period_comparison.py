"""`comparison`: a running period against the same days of the previous one (like for like)."""

from __future__ import annotations

from datetime import datetime

import pytest

from reports.periods import (
    comparison,
)
from tests.reports.period_cases import (
    bounds,
    period,
    utc,
)

# --------------------------------------------------------------------------- comparison()

@pytest.mark.parametrize(("text", "now", "current", "previous"), [
    # a running period: its elapsed days (today included) against the same days before
    ("this-month", utc(2026, 12, 5, 9), "Dec 1 – Dec 5, 2026", "Nov 1 – Nov 5, 2026"),
    ("this-month", utc(2026, 3, 30, 9), "Mar 1 – Mar 30, 2026", "Feb 1 – Feb 28, 2026"),
    ("this-quarter", utc(2026, 12, 5, 9), "Oct 1 – Dec 5, 2026", "Jul 1 – Sep 5, 2026"),
    ("this-week", utc(2026, 12, 2, 9), "Nov 30 – Dec 2, 2026", "Nov 23 – Nov 25, 2026"),
    ("this-year", utc(2026, 12, 5, 9), "Jan 1 – Dec 5, 2026", "Jan 1 – Dec 5, 2025"),
    ("2026-12-01..2026-12-31", utc(2026, 12, 5, 9), "Dec 1 – Dec 5, 2026",
     "Oct 31 – Nov 4, 2026"),
    # whole: over, not begun, on its last day, or already cut at today (mtd, Nd, today)
    ("last-month", utc(2026, 12, 5, 9), "November 2026", "October 2026"),
    ("2027-01", utc(2026, 12, 5, 9), "January 2027", "December 2026"),
    ("this-month", utc(2026, 12, 31, 9), "December 2026", "November 2026"),
    ("mtd", utc(2026, 12, 5, 9), "month to date (Dec 1 – Dec 5, 2026)", "Nov 1 – Nov 5, 2026"),
    ("today", utc(2026, 12, 5, 9), "Sat Dec 5, 2026", "Fri Dec 4, 2026"),
])
def test_comparison_is_like_for_like(text, now, current, previous):
    spans = comparison(period(text, now=now), now)
    assert (spans.current.describe(), spans.previous.describe()) == (current, previous)
    assert spans.describe() == f"{current} vs {previous}"
    assert spans.partial == (spans.current.label != period(text, now=now).label)


def test_comparison_in_a_zone_and_fiscal_year():
    # 23:30 UTC on Dec 4 is already Dec 5 in Oslo: five days against five
    now = utc(2026, 12, 4, 23, 30)
    spans = comparison(period("this-month", "Europe/Oslo", now=now), now)
    assert bounds(spans.current) == (utc(2026, 11, 30, 23), utc(2026, 12, 5, 23))
    assert bounds(spans.previous) == (utc(2026, 10, 31, 23), utc(2026, 11, 5, 23))
    # a fiscal quarter from February: Feb 1 – Mar 31 against Nov 1 – Dec 31
    now = utc(2026, 3, 31, 9)
    spans = comparison(period("this-quarter", now=now, fy=2), now)
    assert spans.describe() == "Feb 1 – Mar 31, 2026 vs Nov 1 – Dec 31, 2025"
    with pytest.raises(ValueError, match="tz-aware"):
        comparison(period("this-month"), datetime(2026, 12, 5))
