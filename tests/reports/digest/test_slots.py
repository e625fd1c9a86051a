"""Digest slots: local wall time in the schedule's zone, across daylight-saving changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.digest.slots import SlotRule

OSLO = ZoneInfo("Europe/Oslo")
MONDAY_9_OSLO = SlotRule("weekly", 0, 9, 0, "Europe/Oslo")


@pytest.mark.parametrize("monday", [
    "2026-03-16", "2026-03-23", "2026-03-30", "2026-04-06",  # DST starts Sun 29 Mar
    "2026-10-19", "2026-10-26", "2026-11-02",  # DST ends Sun 25 Oct
])
def test_monday_nine_oslo_is_nine_local_around_both_dst_changes(monday):
    day = datetime.fromisoformat(monday).date()
    slot = MONDAY_9_OSLO.next_slot(datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                                   - timedelta(days=1))
    local = slot.astimezone(OSLO)
    assert (local.date(), local.hour, local.minute) == (day, 9, 0)
    summer = datetime(2026, 3, 29) <= datetime.combine(day, datetime.min.time()) \
        < datetime(2026, 10, 25)
    assert slot.hour == (7 if summer else 8)  # UTC moves, local time does not


def test_slots_between_is_half_open_and_ordered():
    start = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # exactly a slot: excluded
    slots = MONDAY_9_OSLO.slots_between(start, datetime(2026, 4, 6, 7, 0, tzinfo=UTC))
    assert slots == [datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
                     datetime(2026, 4, 6, 7, 0, tzinfo=UTC)]


def test_latest_and_next_slot():
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Oslo exactly
    assert MONDAY_9_OSLO.latest_slot(at) == at
    assert MONDAY_9_OSLO.next_slot(at) == at + timedelta(days=7)


def test_wall_time_in_spring_forward_gap_moves_forward_and_repeated_time_is_first():
    gap = SlotRule("weekly", 6, 2, 30, "Europe/Oslo")  # Sunday 02:30
    assert gap.next_slot(datetime(2026, 3, 28, tzinfo=UTC)).astimezone(OSLO).hour == 3
    twice = gap.next_slot(datetime(2026, 10, 24, tzinfo=UTC))
    assert twice == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first one


def test_monthly_last_day_and_day_of_month():
    last = SlotRule("monthly", -1, 8, 0, "UTC")
    assert [s.day for s in last.slots_between(datetime(2026, 1, 1, tzinfo=UTC),
                                              datetime(2026, 5, 1, tzinfo=UTC))] == [31, 28, 31, 30]
    first = SlotRule("monthly", 1, 9, 30, "America/New_York")
    slot = first.next_slot(datetime(2026, 11, 2, tzinfo=UTC))
    assert slot.astimezone(ZoneInfo("America/New_York")).timetuple()[:5] == (2026, 12, 1, 9, 30)


@pytest.mark.parametrize("args, problem", [
    (("weekly", 7, 9, 0, "UTC"), "weekly"),
    (("monthly", 29, 9, 0, "UTC"), "monthly"),
    (("daily", 0, 9, 0, "UTC"), "cadence"),
])
def test_bad_rules_are_refused(args, problem):
    with pytest.raises(ValueError, match=problem):
        SlotRule(*args)


def test_describe():
    assert MONDAY_9_OSLO.describe() == "weekly on Monday at 09:00 Europe/Oslo"
    assert SlotRule("monthly", -1, 8, 5, "UTC").describe() == \
        "monthly on the last day at 08:05 UTC"
