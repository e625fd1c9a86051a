"""The funnel's Python makes only what its answer shows: the stalled deals it lists are the
first of all its candidates in the stalled-deals order (longest idle, then by name; ties kept
in order), and a row is made for those alone (the funnel lists 5 of ~25 candidates); a ratio
makes its warning's texts only when it warns. Counts, no timing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reports.events import Stage
from reports.kpis import funnel as funnel_module
from reports.kpis import ratios
from reports.kpis.context import Ctx
from reports.kpis.facts import DealRow
from reports.kpis.result import KpiRow
from reports.text import Text
from tests.reports.test_kpi_rules import NOW, FakeFacts, period


def _candidates() -> list[DealRow]:
    """Stale deals in three stages with equal idle times and equal names among them, longest
    idle first (as the open deals are read: FakeFacts keeps their order)."""
    rows = []
    for i in range(30):
        stage = ("lead", "sql", "demo")[i % 3]
        idle = timedelta(days=8 + (i * 7) % 11, hours=i % 2)  # many ties
        rows.append(DealRow(f"k{i}", f"Deal {i % 9}", f"U{i % 4}", stage, NOW - idle, None))
    return sorted(rows, key=lambda d: d.stage_changed_at)


def _expected(rows: list[DealRow], listed: int) -> list[tuple]:
    """The stalled-deals order of every candidate, as rows were sorted before: the first
    `listed`, as (name, days idle, deal key)."""
    made = [(d.name, (NOW - d.stage_changed_at).total_seconds() / 86_400, d.key) for d in rows]
    made.sort(key=lambda r: (-(r[1] or 0), r[0]))
    return made[:listed]


@pytest.mark.parametrize("listed", [1, 5, 20, 40])
def test_the_listed_stalled_deals_are_the_first_of_all_candidates(listed):
    facts = FakeFacts(open_list=_candidates(), stage_medians={})
    result = funnel_module.stalled(Ctx(facts=facts, period=period(), now=NOW), listed=listed)
    assert [(r.key, r.value, r.extra["deal"]) for r in result.rows] == \
        _expected(facts.open_list, listed)
    assert result.details["listed"] == min(30, listed)
    assert result.value == 30.0


def test_a_row_is_made_only_for_each_listed_deal(monkeypatch):
    made = []

    class CountedRow(KpiRow):
        def __init__(self, *args, **kwargs):
            made.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(funnel_module, "KpiRow", CountedRow)
    facts = FakeFacts(open_list=_candidates(), stage_medians={})
    result = funnel_module.stalled(Ctx(facts=facts, period=period(), now=NOW), listed=5)
    assert len(result.rows) == 5
    assert made == [r.key for r in result.rows]  # 5 rows made for 30 candidates (was 30)


def test_a_ratio_without_a_warning_makes_no_text(monkeypatch):
    made = []

    class CountedText(Text):
        __slots__ = ()

        def __init__(self, msgid, /, **fields):
            made.append(msgid)
            super().__init__(msgid, **fields)

    monkeypatch.setattr(ratios, "Text", CountedText)
    assert ratios.ratio(3, 4) == (0.75, [])
    assert ratios.ratio(0, 0) == (None, [])
    assert ratios.ratio(3, 0) == (None, [])  # no `what`: no warning
    assert made == []  # was 3 a ratio
    value, warnings = ratios.ratio(5, 4, what=("email-opened", "email-delivered"))
    assert value == 1.0 and len(warnings) == 1
    assert str(warnings[0]) == ("more email-opened (5) than email-delivered (4): log the "
                                "missing email-delivered events; shown capped at 100%")
    value, warnings = ratios.ratio(3, 0, what=("email-clicked", "email-delivered"))
    assert value is None and str(warnings[0]) == (
        "email-clicked (3) without any email-delivered: log the missing email-delivered events")
    value, warnings = ratios.ratio(5, 4)
    assert str(warnings[0]) == ("more numerator (5) than denominator (4): log the missing "
                                "denominator events; shown capped at 100%")


def test_the_stalled_rows_of_the_funnel_are_the_stalled_deals_kpis_first(monkeypatch):
    facts = FakeFacts(open_list=_candidates(), stage_medians={Stage.SQL: 3600.0})
    ctx = Ctx(facts=facts, period=period(), now=NOW)
    five = funnel_module.stalled(ctx, listed=5)
    twenty = funnel_module.stalled(ctx, listed=20)
    assert [r.to_json() for r in five.rows] == [r.to_json() for r in twenty.rows[:5]]
