"""The catalog's rules on an in-memory Facts: n/a, capping, "new", team totals, thresholds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from reports.events import Stage
from reports.format import format_change, format_value
from reports.kpis.catalog import CATALOG, compare, compute_kpi, quota_months
from reports.kpis.facts import DealRow, Distribution, EventSum, Facts, Quota
from reports.periods import parse_period

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


@dataclass
class FakeFacts(Facts):  # the batched methods: Facts' definitions
    """Answers from fixed tables; windows are ignored except where a test says otherwise."""

    workspace_id: str = "test:ws"
    currency: str = "USD"
    counts: dict[str, int] = field(default_factory=dict)
    per_user: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> user -> count
    closed: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # user -> w, l, amount
    quota_list: list[Quota] = field(default_factory=list)
    open_list: list[DealRow] = field(default_factory=list)
    stage_medians: dict[Stage, float] = field(default_factory=dict)

    def event_sums(self, kinds, start, end, *, user=None, by=None):
        if by == "user":
            out: dict[str, EventSum] = {}
            for kind in kinds:
                for rep, n in self.per_user.get(kind, {}).items():
                    out[rep] = out.get(rep, EventSum()) + EventSum(n, n)
            return out
        return {k: EventSum(self.counts[k], self.counts[k]) for k in kinds if k in self.counts}

    def event_durations(self, kind, start, end, *, user=None, within=None):
        return Distribution(), 0

    def deals_reaching(self, stage, start, end, *, user=None, by=None):
        return {}

    def cohort_conversion(self, from_stage, to_stage, start, end, *, user=None, by=None):
        return {}

    def closed_deals(self, start, end, *, user=None, by=None):
        if by == "user":
            return dict(self.closed)
        w = sum(v[0] for v in self.closed.values())
        lo = sum(v[1] for v in self.closed.values())
        a = sum(v[2] for v in self.closed.values())
        return {"all": (w, lo, a)} if self.closed else {}

    def loss_breakdown(self, start, end, *, user=None):
        return {}, {}

    def wins_without_amount(self, start, end, *, user=None):
        return 0

    def sales_cycle(self, start, end, *, user=None):
        return Distribution()

    def stage_time(self, stage, start, end, *, user=None):
        median = self.stage_medians.get(stage)
        return Distribution(n=1 if median else 0, median=median)

    def open_deals(self, *, user=None, stages=None, idle_before=None, limit=None):
        rows = [d for d in self.open_list
                if (not stages or d.stage in {Stage(s).value for s in stages})
                and (idle_before is None or d.stage_changed_at < idle_before)]
        return rows[:limit]

    def count_open_deals(self, *, user=None, stages=None, idle_before=None):
        return len(self.open_deals(user=user, stages=stages, idle_before=idle_before))

    def customers_at(self, instant):
        return 0

    def churned_customers(self, start, end):
        return 0

    def new_customers(self, start, end):
        return 0

    def mrr_at(self, instant):
        return 0

    def mrr_lost(self, start, end):
        return 0, 0

    def quotas(self, metric=None):
        return list(self.quota_list)


def period(text="this-month"):
    return parse_period(text, now=NOW, tz="UTC")


def test_every_kpi_answers_on_an_empty_workspace_with_json():
    for name in CATALOG:
        result = compute_kpi(name, facts=FakeFacts(), period=period(), now=NOW)
        payload = json.loads(json.dumps(result.to_json()))
        assert set(payload) == {"kpi", "workspace", "period", "value", "unit", "numerator",
                                "denominator", "rows", "details"}
        assert payload["kpi"] == name
        if result.unit == "ratio" and name not in ("stage-time",):
            assert result.value is None, name  # zero denominators are n/a, never 0%


def test_zero_denominator_is_na_with_counts():
    result = compute_kpi("open-rate", facts=FakeFacts(counts={"email-opened": 0}),
                         period=period(), now=NOW)
    assert result.value is None
    assert format_value(result) == "n/a (0/0)"


def test_rate_shows_counts_and_caps_with_a_warning():
    facts = FakeFacts(counts={"email-opened": 52, "email-delivered": 50})
    result = compute_kpi("open-rate", facts=facts, period=period(), now=NOW)
    assert result.value == 1.0 and (result.numerator, result.denominator) == (52, 50)
    assert "email-delivered" in str(result.warnings[0])
    facts = FakeFacts(counts={"email-opened": 19, "email-delivered": 50})
    assert format_value(compute_kpi("open-rate", facts=facts, period=period(),
                                    now=NOW)) == "38% (19/50)"


def test_change_from_zero_is_new_and_rates_change_in_points():
    before = compute_kpi("open-rate", facts=FakeFacts(), period=period(), now=NOW)
    now = compute_kpi("open-rate", facts=FakeFacts(counts={"email-opened": 1,
                                                           "email-delivered": 2}),
                      period=period(), now=NOW)
    assert compare(now, before).new and format_change(compare(now, before), "ratio") == "new"
    later = compute_kpi("open-rate", facts=FakeFacts(counts={"email-opened": 3,
                                                             "email-delivered": 4}),
                        period=period(), now=NOW)
    assert format_change(compare(later, now), "ratio") == "▲ 25 pts"


def test_team_attainment_is_total_over_total_and_warns_under_60_percent():
    facts = FakeFacts(
        closed={"A": (1, 0, 150_000), "B": (1, 0, 10_000), "C": (0, 0, 0)},
        quota_list=[Quota("A", "revenue", "monthly", 100_000),
                    Quota("B", "revenue", "monthly", 100_000),
                    Quota("C", "revenue", "monthly", 100_000)])
    result = compute_kpi("quota-attainment", facts=facts, period=period(), now=NOW)
    # total / total = 160k / 300k = 53.3%; the average of percentages would be (150+10+0)/3
    assert result.value == pytest.approx(160_000 / 300_000)
    assert result.details["reps_at_quota"] == 1 and result.details["reps_with_quota"] == 3
    assert any("under 60%" in str(w) for w in result.warnings)
    elapsed = period().elapsed_fraction(NOW)
    assert result.details["pace"] == pytest.approx(result.value / elapsed)


def test_quota_scaling_over_quarters_and_months():
    assert quota_months(period("2026-Q3")) == pytest.approx(3.0)
    assert quota_months(period("2026-10")) == pytest.approx(1.0)
    assert quota_months(period("2026-10-01..2026-10-31")) == pytest.approx(1.0)
    facts = FakeFacts(closed={"A": (1, 0, 90_000)},
                      quota_list=[Quota("A", "revenue", "quarterly", 90_000)])
    result = compute_kpi("quota-attainment", facts=facts, period=period("2026-10"), now=NOW)
    assert result.value == pytest.approx(3.0)  # a third of the quarterly target per month


def test_stalled_threshold_is_at_least_seven_days():
    stale = DealRow("a", "A", "U1", "sql", NOW - timedelta(days=8), None)
    fresh = DealRow("b", "B", "U1", "sql", NOW - timedelta(days=6), None)
    facts = FakeFacts(open_list=[stale, fresh], stage_medians={Stage.SQL: 3600.0})
    result = compute_kpi("stalled-deals", facts=facts, period=period(), now=NOW)
    assert [r.key for r in result.rows] == ["A"]
    facts.stage_medians[Stage.SQL] = 5 * 86_400.0  # threshold 10 days: nothing stalled
    result = compute_kpi("stalled-deals", facts=facts, period=period(), now=NOW)
    assert result.rows == ()
