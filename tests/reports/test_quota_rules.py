"""Effective-dated quotas (reports/kpis/quotas.py): which target applies on which day, a
period's target pro rata over its parts, and every quota view following the rule.

Story (hand-computed; today is Sat 5 Dec 2026):
- ana: 31,000 monthly set 20 Oct (from 1 Oct); 36,000 monthly set 16 Nov from 16 Nov (a
  mid-month, mid-quarter change); 40,000 monthly set today (from 1 Dec).
  November = 31,000 x 15/30 + 36,000 x 15/30 = 33,500; Q4 = 31,000 + 33,500 + 40,000 = 104,500.
- dan: 10,000 monthly set 20 Oct; 90,000 quarterly set today: November keeps 10,000 (not
  30,000), December = 30,000, Q4 = 10,000 + 10,000 + 30,000 = 50,000.
- cy: 60,000 quarterly set today only: no quota in November; December = 20,000.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reports.kpis.catalog import compute_kpi, me_summary
from reports.kpis.facts import Quota
from reports.kpis.quotas import (
    effective_from_for,
    history,
    in_force,
    months_spanned,
    parts,
    period_targets,
)
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts

NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)
OCT20, NOV16 = datetime(2026, 10, 20, 9, tzinfo=UTC), datetime(2026, 11, 16, 9, tzinfo=UTC)


def usd(major: float) -> int:
    return round(major * 100)


def q(user, target, cadence, start, set_at, metric="revenue") -> Quota:
    return Quota(user, metric, cadence, target, start, set_at, "UMGR")


ANA = [q("ana", usd(31_000), "monthly", date(2026, 10, 1), OCT20),
       q("ana", usd(36_000), "monthly", date(2026, 11, 16), NOV16),
       q("ana", usd(40_000), "monthly", date(2026, 12, 1), NOW)]
DAN = [q("dan", usd(10_000), "monthly", date(2026, 10, 1), OCT20),
       q("dan", usd(90_000), "quarterly", date(2026, 12, 1), NOW)]
CY = [q("cy", usd(60_000), "quarterly", date(2026, 12, 1), NOW)]
WINS = [Ev("deal-won", datetime(2026, 11, 10, 12, tzinfo=UTC), "ana", "acme",
           amount=usd(16_750)),
        Ev("deal-won", datetime(2026, 12, 2, 12, tzinfo=UTC), "cy", "beta", amount=usd(5_000))]


def period(text: str):
    return parse_period(text, now=NOW, tz="UTC")


def targets(text: str, changes=(*ANA, *DAN, *CY)) -> dict[str, float]:
    p = period(text)
    return {t.user_id: t.target / 100 for t in period_targets(changes, p.first_day, p.end_day)}


def test_a_quota_set_without_a_date_applies_from_the_first_of_its_month():
    assert effective_from_for(date(2026, 12, 5)) == date(2026, 12, 1)
    assert effective_from_for(date(2026, 12, 1)) == date(2026, 12, 1)


def test_each_day_takes_the_most_recently_set_change_starting_on_or_before_it():
    assert in_force(ANA, date(2026, 9, 30)) is None
    assert in_force(ANA, date(2026, 11, 15)) is ANA[0]
    assert in_force(ANA, date(2026, 11, 16)) is ANA[1]
    assert in_force(ANA, date(2026, 12, 31)) is ANA[2]
    # set later from an earlier day: it replaces the older changes from that day on
    backdated = q("ana", usd(50_000), "monthly", date(2026, 11, 1),
                  datetime(2026, 12, 6, tzinfo=UTC))
    assert in_force([*ANA, backdated], date(2026, 12, 20)) is backdated
    assert in_force([*ANA, backdated], date(2026, 10, 31)) is ANA[0]
    # kept from before effective dates: in force from the beginning
    old = Quota("ana", "revenue", "monthly", 100)
    assert in_force([old], date(1999, 1, 1)) is old


def test_a_month_spanning_a_change_takes_each_part_pro_rata_by_days():
    november = parts(ANA, date(2026, 11, 1), date(2026, 12, 1))
    assert [(p.quota, p.first, p.end) for p in november] == [
        (ANA[0], date(2026, 11, 1), date(2026, 11, 16)),
        (ANA[1], date(2026, 11, 16), date(2026, 12, 1))]
    assert months_spanned(date(2026, 11, 1), date(2026, 11, 16)) == pytest.approx(15 / 30)
    assert sum(p.target for p in november) == pytest.approx(usd(33_500))


def test_past_periods_keep_their_targets_after_edits_today():
    assert targets("2026-10") == {"ana": 31_000, "dan": 10_000}
    assert targets("last-month") == pytest.approx({"ana": 33_500, "dan": 10_000})
    # without today's edits, November is the same: today's changes do not reach back
    assert targets("last-month", (*ANA[:2], DAN[0])) == targets("last-month")
    assert targets("this-month") == pytest.approx({"ana": 40_000, "dan": 30_000, "cy": 20_000})
    assert targets("this-quarter") == pytest.approx(
        {"ana": 104_500, "dan": 50_000, "cy": 20_000})


def test_quarterly_set_today_is_not_in_last_month():
    assert "cy" not in targets("last-month")
    assert targets("last-month")["dan"] == 10_000  # not 90,000 / 3


def test_every_quota_view_uses_the_target_in_force():
    facts = FakeFacts(WINS, [*ANA, *DAN, *CY])
    last = compute_kpi("quota-attainment", facts=facts, period=period("last-month"), now=NOW)
    rows = {row.key: row for row in last.rows}
    assert set(rows) == {"ana", "dan"}
    assert rows["ana"].denominator == pytest.approx(usd(33_500))
    assert rows["ana"].value == pytest.approx(0.5)  # 16,750 of 33,500
    assert rows["ana"].extra["changed_on"] == (date(2026, 11, 16),)
    assert rows["ana"].extra["cadence"] == "monthly"
    assert last.denominator == pytest.approx(usd(43_500))
    reps = compute_kpi("reps-at-quota", facts=facts, period=period("last-month"), now=NOW)
    assert (reps.numerator, reps.denominator) == (0, 2)
    me = me_summary("ana", facts=facts, period=period("last-month"), now=NOW)[-1]
    assert me.denominator == pytest.approx(usd(33_500))
    progress = compute_kpi("monthly-progress", facts=facts, period=period("this-month"),
                           now=NOW)
    assert progress.denominator == pytest.approx(usd(90_000))  # 40,000 + 30,000 + 20,000
    mtd = compute_kpi("quota-attainment", facts=facts, period=period("mtd"), now=NOW)
    assert {r.key: r.extra["cadence"] for r in mtd.rows} == {
        "ana": "monthly", "dan": "quarterly", "cy": "quarterly"}


def test_history_lists_changes_in_effective_order_and_marks_replaced_ones():
    again = q("ana", usd(42_000), "monthly", date(2026, 12, 1),
              datetime(2026, 12, 5, 11, tzinfo=UTC))
    entries = history([*CY, again, *ANA])
    assert [(e.quota.user_id, e.quota.target, e.replaced) for e in entries] == [
        ("ana", usd(31_000), False), ("ana", usd(36_000), False),
        ("ana", usd(40_000), True),  # the 42,000 set later the same day starts the same day
        ("ana", usd(42_000), False), ("cy", usd(60_000), False)]
