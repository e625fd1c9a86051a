"""Date cells: the forms read, day/month order, patterns, and the evidence a cell gives."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.transfer.dates import DateReader, classify_date
from bot.transfer.problems import RowError

# ---------------------------------------------------------------------------------------------
# Parsing units (no database)
# ---------------------------------------------------------------------------------------------

OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize(("text", "order", "expected"), [
    ("2026-10-05", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("2026-10-05 14:30", None, datetime(2026, 10, 5, 14, 30, tzinfo=OSLO)),
    ("2026-10-05T14:30:00Z", None, datetime(2026, 10, 5, 14, 30, tzinfo=UTC)),
    ("2026-10-05T14:30:00.250+02:00", None,
     datetime(2026, 10, 5, 12, 30, 0, 250_000, tzinfo=UTC)),
    ("2026-10-05 14:30:00 UTC", None, datetime(2026, 10, 5, 14, 30, tzinfo=UTC)),
    ("2026/10/05", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("2026-10-5 9:05", None, datetime(2026, 10, 5, 9, 5, tzinfo=OSLO)),
    ("10/05/2026", "mdy", datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("10/05/2026", "dmy", datetime(2026, 5, 10, 12, tzinfo=OSLO)),
    ("10/5/2026, 2:30 PM", "mdy", datetime(2026, 10, 5, 14, 30, tzinfo=OSLO)),
    ("10/5/26 12:15 am", "mdy", datetime(2026, 10, 5, 0, 15, tzinfo=OSLO)),
    ("25/10/2026", None, datetime(2026, 10, 25, 12, tzinfo=OSLO)),
    ("05.10.2026", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("05.10.2026 14:30", "mdy", datetime(2026, 10, 5, 14, 30, tzinfo=OSLO)),
    ("5 Oct 2026", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("05-Oct-26", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("October 5, 2026 9:00", None, datetime(2026, 10, 5, 9, tzinfo=OSLO)),
    ("46300", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
    ("46300.5", None, datetime(2026, 10, 5, 12, tzinfo=OSLO)),
])
def test_dates(text, order, expected):
    assert DateReader(tz=OSLO, order=order).read(text, "date")[0] == expected


@pytest.mark.parametrize(("text", "order"), [
    ("10/05/2026", None), ("2026-02-30", None), ("31/10/2026", "mdy"), ("tomorrow", None),
    ("2026-10-05 25:00", None), ("13/13/2026", None), ("5 Foo 2026", None),
])
def test_bad_dates(text, order):
    with pytest.raises(RowError, match=f'date "{text}" is not a date'):
        DateReader(tz=OSLO, order=order).read(text, "date")


def test_date_pattern():
    reader = DateReader(tz=OSLO, pattern="%Y%m%d")
    assert reader.read("20261005", "d")[0] == datetime(2026, 10, 5, 12, tzinfo=OSLO)


def test_date_evidence():
    assert [classify_date(t) for t in ("2026-10-05", "25/10/2026", "10/25/2026", "10/05/2026",
                                       "05/05/2026", "05.10.2026", "")] == [
        None, "dmy", "mdy", "ambiguous", None, None, None]
