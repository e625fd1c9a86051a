"""Every KPI of the catalog against hand computations on the scenario of
tests/reports/kpi_scenario.py, and the rules every KPI follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from reports.events import KINDS
from reports.kpis.catalog import (
    CATALOG,
    LEADERBOARD_KPIS,
    Change,
    KpiSpec,
    compare,
)
from reports.kpis.result import UNITS, KpiResult
from tests.reports.fake_facts import Ev, FakeFacts
from tests.reports.kpi_scenario import (
    ANA,
    ANY,
    EMPTY,
    FACTS,
    NOW,
    OCT,
    Q4,
    approx,
    deal,
    kpi,
    t,
    usd,
)


@dataclass(frozen=True)
class Case:
    kpi: str
    value: float | None
    numerator: Any = ANY
    denominator: Any = ANY
    when: str = OCT
    warnings: Any = ()  # the scenario's data is complete: no data warnings

    def __str__(self) -> str:
        return f"{self.kpi}@{self.when}"


# The hand computations, one or more per catalog KPI (period October unless noted).
CASES = [
    # email-delivered 90 + 50 = 140 / email-sent 100 + 50 = 150 (not the 999 of Sep 30)
    Case("delivery-rate", 140 / 150, 140, 150),
    # email-opened 45 + 10 = 55 / delivered 140
    Case("open-rate", 55 / 140, 55, 140),
    # email-clicked 9 + 1 = 10 / 140
    Case("click-rate", 10 / 140, 10, 140),
    # email-replied 6 + 4 = 10 / 140
    Case("reply-rate", 10 / 140, 10, 140),
    # spam-complaint 1 / 140
    Case("spam-rate", 1 / 140, 1, 140),
    # email-bounced 10 / email-SENT 150
    Case("bounce-rate", 10 / 150, 10, 150),
    # discovery-booked 2 + 1 = 3 / email-replied 10
    Case("reply-to-discovery", 3 / 10, 3, 10),
    # demo-request-replied 3 / demo-request 4
    Case("demo-request-response", 3 / 4, 3, 4),
    # cohort, demo in October: Acme (10-06), Globex (10-09), Vandelay (10-17) = 3;
    # won since: Acme, Globex = 2; lost: Vandelay = 1
    Case("demo-to-won", 2 / 3, 2, 3),
    Case("demo-to-lost", 1 / 3, 1, 3),
    # connection-accepted 10 / sent 40; connection-replied 5 / accepted 10
    Case("connection-acceptance", 10 / 40, 10, 40),
    Case("connection-reply", 5 / 10, 5, 10),
    Case("website-visits", 1_000, 1_000),
    # website-bounce 400 / website-visit 1,000; cta-click 50 / 1,000
    Case("website-bounce-rate", 400 / 1_000, 400, 1_000),
    Case("ctr", 50 / 1_000, 50, 1_000),
    Case("engagement", 80, 80),
    # meeting-booked 3 + 2 = 5 (held 2 + 2 = 4 in the details)
    Case("meetings", 5, 5),
    # meeting-held 4 / meeting-booked 5
    Case("show-rate", 4 / 5, 4, 5),
    # ana 10 calls + 100 emails + 2 meetings held + 1 demo held = 113 (not the void 99 calls);
    # bo 20 + 50 + 2 + 1 = 73; team 186
    Case("activities", 186, 186),
    # leads created in October: Globex, Vandelay, Soylent, Tyrell, Wayne, Wonka = 6
    Case("leads", 6, 6),
    # the same 6 leads; won since: Globex = 1
    Case("lead-sources", 6, 1, 6),
    # mql_at in October: Globex (skipped, 10-05), Vandelay, Soylent, Tyrell, Wonka (skipped,
    # 10-25) = 5 (Acme's was 09-15)
    Case("mql", 5, 5),
    # sql_at in October: Globex, Vandelay, Tyrell, Wonka = 4 (Acme's was 09-27)
    Case("sql", 4, 4),
    # cohort: of the 5 October MQLs, reached sql by now: all but Soylent = 4
    Case("mql-to-sql", 4 / 5, 4, 5),
    # cohort: of the 6 October leads, won by now: Globex = 1
    Case("conversion-rate", 1 / 6, 1, 6),
    # period: deals won in October (Acme, Globex) = 2 / leads created in October = 6
    Case("conversion-rate-period", 2 / 6, 2, 6),
    # closed in October: won Acme, Globex = 2; lost Soylent, Vandelay = 2 -> 2 / 4
    Case("win-rate", 2 / 4, 2, 4),
    # won in October 2 / opportunities created in October (Acme, Globex, Vandelay, Wonka) 4
    Case("close-rate", 2 / 4, 2, 4),
    # 24,000 + 12,000 = 36,000
    Case("revenue", usd(36_000), usd(36_000)),
    Case("deals-won", 2, 2),
    # 36,000 / 2 = 18,000
    Case("avg-deal-size", usd(18_000), usd(36_000), 2),
    # Acme 09-10 -> 10-20 = 40 days, Globex 10-02 -> 10-23 = 21 days: median (21 + 40) / 2
    Case("sales-cycle", 30.5, None, 2),
    # sum of the stage medians 2 + 1 + 2 + 5 + 14 = 24 (see test_stage_time)
    Case("stage-time", 24),
    # open deals now: Tyrell, Wayne, Wonka, Duff = 4; stalled: 3 (see test_stalled_deals)
    Case("stalled-deals", 3, 3, 4, "this-month"),
    # see test_sales_velocity: 1 x 4/6 x 18,500 / 26 days
    Case("sales-velocity", 1 * (4 / 6) * usd(18_500) / 26, None, None, "this-month"),
    # revenue quotas: (24,000 + 12,000) / (30,000 + 10,000) = 36,000 / 40,000
    Case("quota-attainment", 0.9, usd(36_000), usd(40_000)),
    # at >= 100%: bo (1.2), cy (3 demos / 3 = 1.0); not ana (0.8) -> 2 of 3
    Case("reps-at-quota", 2 / 3, 2, 3),
    # November to date: Oscorp 8,000 / team quota 40,000 (no rep at quota yet: a warning)
    Case("monthly-progress", 0.2, usd(8_000), usd(40_000), "this-month",
         ("only 0 of 3 reps are at quota (0%, under 60%)",)),
    # customers at Oct 1: Umbrella, Initech = 2; churned in October among them: Umbrella = 1
    # (Globex, won and churned inside October, is in neither part)
    Case("churn-rate", 1 / 2, 1, 2),
    # MRR at Nov 1: won 500 + 2,500 + 2,000 + 1,000 - 500 (change) - 500 - 1,000 (churned)
    Case("mrr", usd(4_000), usd(4_000)),
    # ... and at NOW: + Oscorp 700
    Case("mrr", usd(4_700), usd(4_700), ANY, "this-month"),
    # churned 500 + 1,000 + downgrade 500 = 2,000 / MRR at Oct 1 (500 + 2,500) = 3,000
    Case("mrr-churn", 2_000 / 3_000, usd(2_000), usd(3_000)),
    # spend 3,000 + 2,000 = 5,000 / new customers (Acme, Globex) 2
    Case("cac", usd(2_500), usd(5_000), 2),
    # 5,000 / 6 leads; / 5 MQLs; / 4 SQLs; / 4 opportunities
    Case("cpl", usd(5_000) / 6, usd(5_000), 6),
    Case("cost-per-mql", usd(1_000), usd(5_000), 5),
    Case("cost-per-sql", usd(1_250), usd(5_000), 4),
    Case("cost-per-opportunity", usd(1_250), usd(5_000), 4),
    # revenue 36,000 / customers active (2 at the start + 2 new) 4 = 9,000
    Case("arpc", usd(9_000), usd(36_000), 4),
    # monthly ARPC 9,000 / monthly churn 1/2 = 18,000
    Case("clv", usd(18_000), usd(9_000), 1 / 2),
    # revenue 36,000 / 6 leads
    Case("lead-value", usd(6_000), usd(36_000), 6),
    # (36,000 - 5,000) / 5,000 = 6.2
    Case("roi", 6.2, usd(31_000), usd(5_000)),
    # durations 60, 180, 7,200 s: median 180
    Case("inbound-response-time", 180, None, 3),
    # lost in October: Soylent (price), Vandelay (competitor) = 2
    Case("loss-reasons", 2, 2),
    # lead -> won, the cohort of the 6 October leads: won by now Globex = 1 of 6 (Acme's win
    # in October was a September lead: counting it gave 2 / 6, a numerator outside the
    # denominator)
    Case("funnel", 1 / 6, 1, 6),
]


def test_every_catalog_kpi_has_a_hand_computed_case():
    assert {case.kpi for case in CASES} == set(CATALOG)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_kpi_matches_the_hand_computation(case: Case):
    result = kpi(case.kpi, case.when)
    assert result.kpi == case.kpi
    assert result.value == approx(case.value)
    if case.numerator is not ANY:
        assert result.numerator == approx(case.numerator)
    if case.denominator is not ANY:
        assert result.denominator == approx(case.denominator)
    if case.warnings is not ANY:
        assert tuple(map(str, result.warnings)) == case.warnings


# ----------------------------------------------------------------------------- the catalog

SPEC_KPIS = (
    "delivery-rate", "open-rate", "click-rate", "reply-rate", "spam-rate", "bounce-rate",
    "reply-to-discovery", "demo-request-response", "demo-to-won", "demo-to-lost",
    "connection-acceptance", "connection-reply", "website-visits", "website-bounce-rate", "ctr",
    "engagement", "meetings", "show-rate", "activities", "leads", "lead-sources", "mql", "sql",
    "mql-to-sql", "conversion-rate", "conversion-rate-period", "win-rate", "close-rate",
    "revenue", "deals-won", "avg-deal-size", "sales-cycle", "stage-time", "stalled-deals",
    "sales-velocity", "quota-attainment", "reps-at-quota", "monthly-progress", "churn-rate",
    "mrr", "mrr-churn", "cac", "cpl", "cost-per-mql", "cost-per-sql", "cost-per-opportunity",
    "arpc", "clv", "lead-value", "roi", "inbound-response-time", "loss-reasons", "funnel",
)


def test_catalog_has_every_spec_kpi_with_a_well_formed_spec():
    assert set(CATALOG) == set(SPEC_KPIS)
    for name, spec in CATALOG.items():
        assert isinstance(spec, KpiSpec) and spec.name == name
        assert spec.unit in UNITS, name
        assert spec.title and spec.group, name
        assert spec.formula and "\n" not in spec.formula, name
        assert spec.needs and set(spec.needs) <= set(KINDS), name
        assert callable(spec.compute)
    assert set(LEADERBOARD_KPIS) >= {"activities", "revenue", "deals-won", "win-rate",
                                     "quota-attainment", "meetings", "leads"}


def test_unknown_kpi_is_a_key_error():
    with pytest.raises(KeyError, match="not a KPI"):
        kpi("happiness")


DOCUMENTED_KEYS = {"kpi", "workspace", "period", "value", "unit", "numerator", "denominator",
                   "rows", "details"}


@pytest.mark.parametrize("facts", [FACTS, EMPTY], ids=["scenario", "empty"])
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_kpi_computes_and_its_json_has_the_documented_shape(name, facts):
    for when in (OCT, "this-month", "mtd", Q4, "7d"):
        result = kpi(name, when, facts=facts)
        payload = json.loads(json.dumps(result.to_json()))
        assert set(payload) == DOCUMENTED_KEYS
        assert set(payload["period"]) == {"label", "start", "end"}
        assert payload["kpi"] == name and payload["workspace"] == "test:ws"
        assert payload["unit"] == CATALOG[name].unit
        assert payload["details"]["formula"] == CATALOG[name].formula
        for row in payload["rows"]:
            assert {"key", "value", "numerator", "denominator"} <= set(row)
        if result.warnings:
            assert payload["details"]["warnings"] == list(map(str, result.warnings))


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_an_empty_workspace_gives_n_a_or_zero_never_a_fake_zero_percent(name):
    result = kpi(name, facts=EMPTY)
    if result.unit == "count" or name in ("revenue", "mrr"):
        assert result.value == 0, name  # nothing happened: a true zero
    else:
        assert result.value is None, name  # a zero denominator: n/a, never 0% or infinity
    assert result.warnings == ()
    if result.unit == "ratio":
        assert result.denominator == 0, name  # shown as "n/a (0/0)"


# ----------------------------------------------------------------------------- rules

def test_a_ratio_above_100_percent_is_capped_with_a_warning_and_keeps_its_counts():
    facts = FakeFacts([Ev("email-opened", t(10, 5), count=52),
                       Ev("email-delivered", t(10, 5), count=50)])
    result = kpi("open-rate", facts=facts)
    assert result.value == 1.0  # capped: 52 / 50 would be 104%
    assert (result.numerator, result.denominator) == (52, 50)
    assert tuple(map(str, result.warnings)) == (
        "more email-opened (52) than email-delivered (50): log the missing email-delivered "
        "events; shown capped at 100%",)
    assert result.to_json()["details"]["warnings"] == list(map(str, result.warnings))


def test_zero_numerator_is_zero_percent_but_zero_denominator_is_n_a():
    facts = FakeFacts([Ev("email-delivered", t(10, 5), count=50)])
    assert kpi("click-rate", facts=facts).value == 0.0  # 0 / 50
    # clicks with nothing delivered: still n/a, with a data warning
    result = kpi("click-rate", facts=FakeFacts([Ev("email-clicked", t(10, 5), count=3)]))
    assert result.value is None and (result.numerator, result.denominator) == (3, 0)
    assert tuple(map(str, result.warnings)) == (
        "email-clicked (3) without any email-delivered: log the missing email-delivered events",)
    result = kpi("win-rate", facts=EMPTY)
    assert result.value is None and (result.numerator, result.denominator) == (0, 0)


def test_period_ratios_above_100_percent_are_timing_and_not_capped():
    # October: 2 wins of leads created in September, 1 lead created in October
    facts = FakeFacts([
        deal("lead", t(9, 1), ANA, "a"), deal("deal-won", t(10, 2), ANA, "a", amount=100),
        deal("lead", t(9, 2), ANA, "b"), deal("deal-won", t(10, 3), ANA, "b", amount=100),
        deal("lead", t(10, 4), ANA, "c"),
    ])
    period_variant = kpi("conversion-rate-period", facts=facts)
    assert period_variant.value == 2.0 and period_variant.warnings == ()  # 2 / 1
    assert "note" in period_variant.details
    assert kpi("conversion-rate", facts=facts).value == 0.0  # cohort: lead c not won, 0 / 1


def test_cohort_and_period_conversion_differ():
    # cohort: of the 6 October leads only Globex was won (1/6); period: October's 2 wins
    # (Acme's lead was in September) over the 6 leads (2/6)
    cohort, by_period = kpi("conversion-rate"), kpi("conversion-rate-period")
    assert (cohort.numerator, cohort.denominator) == (1, 6)
    assert (by_period.numerator, by_period.denominator) == (2, 6)
    assert cohort.value != by_period.value


def test_compare_gives_delta_relative_new_and_nothing():
    def result(value):
        return dataclass_result(value)

    assert compare(result(0.5), result(0.4)).delta == pytest.approx(0.1)
    assert compare(result(0.5), result(0.4)).relative == pytest.approx(0.25)
    assert compare(result(3), result(0)) == Change(3, None, new=True)  # from zero
    assert compare(result(3), result(None)) == Change(3, None, new=True)  # from n/a
    assert compare(result(0), result(0)) == Change(0, None, new=False)
    assert compare(result(None), result(None)) == Change(None, None)  # both n/a
    assert compare(result(None), result(5)) == Change(None, None)
    assert compare(result(2), None).new
    # a real pair: the open rate was n/a in September (nothing delivered) -> "new"
    assert compare(kpi("open-rate"), kpi("open-rate", "2026-09")).new


def dataclass_result(value) -> KpiResult:
    return KpiResult(kpi="x", workspace="w", period_label="p", start=NOW, end=NOW,
                     value=value, unit="count")
