"""Every KPI of the catalog against hand computations, on the in-memory reference Facts.

The scenario (all times UTC, 10:00 unless noted, year 2026; workspace time zone UTC). Reps:
ana (UANA, AE), bo (UBO, AE), cy (UCY, SDR), mgr (UMGR: web, spend). NOW = Sat Nov 21 10:00.
Amounts and MRR are in cents. Quotas: ana revenue 30,000/month, bo revenue 10,000/month,
cy demo-booked 3/month.

Deals (stage times after the SPEC 5 rules; owner = rep of the last stage event):
  deal      source       lead   mql    sql    opp    demo   outcome                     owner
  Umbrella  partner      07-01  07-20  07-20  07-20  07-20  won 07-20 (6,000 mrr 500),  bo
                                                            churned 10-16 (mrr 500)
  Initech   organic      08-03  08-05  08-12  08-20  08-25  won 09-03 (30,000 mrr 2,500) ana
                                                            mrr-change -500 on 10-14
  Acme      referral     09-10  09-15  09-27  10-01  10-06  won 10-20 (24,000 mrr 2,000) ana
  Globex    paid-search  10-02  10-05* 10-05* 10-05  10-09  won 10-23 (12,000 mrr 1,000) bo
                                                            churned 10-29 (mrr 1,000)
  Vandelay  organic      10-05  10-06  10-08  10-12  10-17  lost 10-26 (competitor,     bo
                                                            northwind)
  Soylent   social       10-07  10-09                       lost 10-21 (price)          bo
  Tyrell    organic      10-12  10-13  10-15                open at sql                 cy
  Wayne     organic      10-14                              open at lead                cy
  Wonka     direct       10-19  10-25* 10-25* 10-25         open at opportunity         bo
  Oscorp    referral     11-02  11-10* 11-10* 11-10* 11-10* won 11-10 (8,000 mrr 700)   ana
  Duff      organic      11-18 09:00                        open at lead                cy
  (* skipped stage: reached with the next reached stage, zero time in it)

October activity: ana email-sent 100 / delivered 90 / opened 45 / clicked 9 / replied 6 /
bounced 10 / spam 1, calls 10, meetings booked 3 held 2, demos held 1, discovery 2;
bo email-sent 50 / delivered 50 / opened 10 / clicked 1 / replied 4, calls 20, meetings booked
2 held 2, demos held 1, discovery 1; cy connection sent 40 / accepted 10 / replied 5,
demo-request 4 / replied 3, inbound-request 4, inbound-responded 60 s, 180 s, 7,200 s;
mgr website-visit 1,000 / bounce 400 / cta-click 50 / social-engagement 80, spend 3,000
(paid-search) + 2,000 (social). Not counted: ana's 999 emails on Sep 30 23:59 and ana's
voided 99 calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reports.events import KINDS, Stage
from reports.kpis.catalog import (
    CATALOG,
    LEADERBOARD_KPIS,
    Change,
    KpiSpec,
    compare,
    compute_kpi,
    leaderboard,
    me_summary,
    quota_months,
    quota_target,
)
from reports.kpis.facts import Quota
from reports.kpis.result import UNITS, KpiResult
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts

ANA, BO, CY, MGR = "UANA", "UBO", "UCY", "UMGR"
NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)
DAY = 86_400.0
ANY: Any = object()


def t(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def usd(major: float) -> int:
    return round(major * 100)


def deal(kind, when, user, name, **kw) -> Ev:
    return Ev(kind, when, user, name, **kw)


SCENARIO = [
    # --- deals
    deal("lead", t(7, 1), CY, "Umbrella", source="partner"),
    deal("deal-won", t(7, 20), BO, "Umbrella", amount=usd(6_000), mrr=usd(500)),
    deal("churned", t(10, 16), BO, "Umbrella", mrr=usd(500)),
    deal("lead", t(8, 3), CY, "Initech", source="organic"),
    deal("mql", t(8, 5), CY, "Initech"),
    deal("sql", t(8, 12), CY, "Initech"),
    deal("opportunity", t(8, 20), ANA, "Initech"),
    deal("demo-booked", t(8, 25), CY, "Initech"),
    deal("deal-won", t(9, 3), ANA, "Initech", amount=usd(30_000), mrr=usd(2_500)),
    deal("mrr-change", t(10, 14), ANA, "Initech", amount=usd(-500)),
    deal("lead", t(9, 10), CY, "Acme", source="referral"),
    deal("mql", t(9, 15), CY, "Acme"),
    deal("sql", t(9, 27), CY, "Acme"),
    deal("opportunity", t(10, 1), ANA, "Acme"),
    deal("demo-booked", t(10, 6), CY, "Acme"),
    deal("deal-won", t(10, 20), ANA, "Acme", amount=usd(24_000), mrr=usd(2_000)),
    deal("lead", t(10, 2), CY, "Globex", source="paid-search"),
    deal("opportunity", t(10, 5), BO, "Globex"),
    deal("demo-booked", t(10, 9), CY, "Globex"),
    deal("deal-won", t(10, 23), BO, "Globex", amount=usd(12_000), mrr=usd(1_000)),
    deal("churned", t(10, 29), BO, "Globex", mrr=usd(1_000)),
    deal("lead", t(10, 5), CY, "Vandelay", source="organic"),
    deal("mql", t(10, 6), CY, "Vandelay"),
    deal("sql", t(10, 8), CY, "Vandelay"),
    deal("opportunity", t(10, 12), BO, "Vandelay"),
    deal("demo-booked", t(10, 17), CY, "Vandelay"),
    deal("deal-lost", t(10, 26), BO, "Vandelay", reason="competitor", competitor="northwind"),
    deal("lead", t(10, 7), CY, "Soylent", source="social"),
    deal("mql", t(10, 9), CY, "Soylent"),
    deal("deal-lost", t(10, 21), BO, "Soylent", reason="price"),
    deal("lead", t(10, 12), CY, "Tyrell", source="organic"),
    deal("mql", t(10, 13), CY, "Tyrell"),
    deal("sql", t(10, 15), CY, "Tyrell"),
    deal("lead", t(10, 14), CY, "Wayne", source="organic"),
    deal("lead", t(10, 19), CY, "Wonka", source="direct"),
    deal("opportunity", t(10, 25), BO, "Wonka"),
    deal("lead", t(11, 2), CY, "Oscorp", source="referral"),
    deal("deal-won", t(11, 10), ANA, "Oscorp", amount=usd(8_000), mrr=usd(700)),
    deal("lead", t(11, 18, 9), CY, "Duff", source="organic"),
    # --- outreach and activity (October)
    Ev("email-sent", t(9, 30, 23, 59), ANA, count=999),  # September: never in October
    Ev("email-sent", t(10, 5, 9), ANA, count=100),
    Ev("email-delivered", t(10, 5, 9), ANA, count=90),
    Ev("email-opened", t(10, 5, 14), ANA, count=45),
    Ev("email-clicked", t(10, 5, 14), ANA, count=9),
    Ev("email-replied", t(10, 5, 15), ANA, count=6),
    Ev("email-bounced", t(10, 5, 9), ANA, count=10),
    Ev("spam-complaint", t(10, 6), ANA),
    Ev("email-sent", t(10, 5, 9), BO, count=50),
    Ev("email-delivered", t(10, 5, 9), BO, count=50),
    Ev("email-opened", t(10, 5, 14), BO, count=10),
    Ev("email-clicked", t(10, 5, 14), BO, count=1),
    Ev("email-replied", t(10, 5, 15), BO, count=4),
    Ev("call", t(10, 7), ANA, count=10),
    Ev("call", t(10, 7, 16), ANA, count=99, void=True),
    Ev("call", t(10, 8), BO, count=20),
    Ev("meeting-booked", t(10, 10), ANA, count=3),
    Ev("meeting-booked", t(10, 11), BO, count=2),
    Ev("meeting-held", t(10, 12), ANA, count=2),
    Ev("meeting-held", t(10, 13), BO, count=2),
    Ev("demo-held", t(10, 8), ANA),
    Ev("demo-held", t(10, 11), BO),
    Ev("discovery-booked", t(10, 15), ANA, count=2),
    Ev("discovery-booked", t(10, 15), BO),
    Ev("demo-request", t(10, 12, 12), CY, count=4),
    Ev("demo-request-replied", t(10, 12, 13), CY, count=3),
    Ev("connection-sent", t(10, 9), CY, count=40),
    Ev("connection-accepted", t(10, 10), CY, count=10),
    Ev("connection-replied", t(10, 11), CY, count=5),
    Ev("website-visit", t(10, 3), MGR, count=1_000),
    Ev("website-bounce", t(10, 3), MGR, count=400),
    Ev("cta-click", t(10, 3), MGR, count=50),
    Ev("social-engagement", t(10, 3), MGR, count=80),
    Ev("spend", t(10, 1, 9), MGR, amount=usd(3_000), source="paid-search"),
    Ev("spend", t(10, 1, 9), MGR, amount=usd(2_000), source="social"),
    Ev("inbound-request", t(10, 7, 9), CY),
    Ev("inbound-responded", t(10, 7, 9, 1), CY, duration=60),
    Ev("inbound-request", t(10, 13, 9), CY),
    Ev("inbound-responded", t(10, 13, 9, 3), CY, duration=180),
    Ev("inbound-request", t(10, 16, 9), CY),
    Ev("inbound-responded", t(10, 16, 11), CY, duration=7_200),
    Ev("inbound-request", t(10, 28, 9), CY),  # never answered
]
QUOTAS = [Quota(ANA, "revenue", "monthly", usd(30_000)),
          Quota(BO, "revenue", "monthly", usd(10_000)),
          Quota(CY, "demo-booked", "monthly", 3)]
FACTS = FakeFacts(SCENARIO, QUOTAS)
EMPTY = FakeFacts()
OCT, NOV, Q4 = "2026-10", "2026-11", "2026-Q4"
# Nov 1 00:00 -> NOW (Nov 21 10:00) = 20 days 10 hours = 490 of the month's 720 hours
NOV_ELAPSED = 490 / 720


def period(text: str):
    return parse_period(text, now=NOW, tz="UTC")


def kpi(name: str, when: str = OCT, *, facts=FACTS, user=None, options=None) -> KpiResult:
    return compute_kpi(name, facts=facts, period=period(when), now=NOW, user=user,
                       options=options)


def rows(result: KpiResult) -> dict[str, Any]:
    return {row.key: row for row in result.rows}


def approx(value):
    return value if value is None or value is ANY else pytest.approx(value, rel=1e-12)


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
        assert result.warnings == case.warnings


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
            assert payload["details"]["warnings"] == list(result.warnings)


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
    assert result.warnings == ("more email-opened (52) than email-delivered (50): log the "
                               "missing email-delivered events; shown capped at 100%",)
    assert result.to_json()["details"]["warnings"] == list(result.warnings)


def test_zero_numerator_is_zero_percent_but_zero_denominator_is_n_a():
    facts = FakeFacts([Ev("email-delivered", t(10, 5), count=50)])
    assert kpi("click-rate", facts=facts).value == 0.0  # 0 / 50
    # clicks with nothing delivered: still n/a, with a data warning
    result = kpi("click-rate", facts=FakeFacts([Ev("email-clicked", t(10, 5), count=3)]))
    assert result.value is None and (result.numerator, result.denominator) == (3, 0)
    assert result.warnings == ("email-clicked (3) without any email-delivered: log the "
                               "missing email-delivered events",)
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


# ----------------------------------------------------------------------------- per KPI

def test_rates_have_per_rep_rows_with_counts():
    result = kpi("open-rate")
    by_rep = rows(result)
    assert set(by_rep) == {ANA, BO}
    assert (by_rep[ANA].value, by_rep[ANA].numerator, by_rep[ANA].denominator) == (0.5, 45, 90)
    assert (by_rep[BO].value, by_rep[BO].numerator, by_rep[BO].denominator) == (0.2, 10, 50)


def test_meetings_report_booked_and_held():
    result = kpi("meetings")
    assert result.details["booked"] == 5 and result.details["held"] == 4
    assert result.details["show_rate"] == pytest.approx(4 / 5)
    assert rows(result)[ANA].extra == {"booked": 3, "held": 2}


def test_activities_per_rep():
    result = kpi("activities")
    assert [r.key for r in result.rows] == [ANA, BO]  # most active first
    assert rows(result)[ANA].value == 113 and rows(result)[ANA].extra == {
        "calls": 10, "emails": 100, "meetings": 2, "demos": 1}
    assert rows(result)[BO].value == 73
    assert result.details == {"calls": 30, "emails": 150, "meetings": 4, "demos": 2,
                              "formula": CATALOG["activities"].formula}
    mine = kpi("activities", user=BO)
    assert mine.value == 73 and [r.key for r in mine.rows] == [BO]


def test_leads_mql_sql_per_rep_owner():
    # owners: Globex, Vandelay, Soylent, Wonka -> bo; Tyrell, Wayne -> cy
    assert {r.key: r.value for r in kpi("leads").rows} == {BO: 4, CY: 2}
    assert {r.key: r.value for r in kpi("mql").rows} == {BO: 4, CY: 1}
    assert {r.key: r.value for r in kpi("sql").rows} == {BO: 3, CY: 1}


def test_lead_sources_rows():
    result = kpi("lead-sources")
    got = {r.key: (r.value, r.numerator, r.denominator) for r in result.rows}
    assert got == {"paid-search": (1.0, 1, 1), "organic": (0.0, 0, 3),
                   "social": (0.0, 0, 1), "direct": (0.0, 0, 1)}
    assert result.rows[0].key == "organic"  # most leads first
    assert result.details["lead_to_won"] == pytest.approx(1 / 6)


def test_win_rate_per_rep_and_for_one_rep():
    by_rep = rows(kpi("win-rate"))
    assert (by_rep[ANA].numerator, by_rep[ANA].denominator) == (1, 1)  # Acme won
    assert (by_rep[BO].numerator, by_rep[BO].denominator) == (1, 3)  # Globex; 2 lost
    bo = kpi("win-rate", user=BO)
    assert (bo.value, bo.numerator, bo.denominator) == (pytest.approx(1 / 3), 1, 3)


def test_revenue_for_one_rep_and_rows():
    assert kpi("revenue", user=ANA).value == usd(24_000)
    assert [(r.key, r.value) for r in kpi("revenue").rows] == [(ANA, usd(24_000)),
                                                                (BO, usd(12_000))]
    assert kpi("revenue", NOV).value == usd(8_000)
    assert kpi("revenue", Q4).value == usd(44_000)  # 24,000 + 12,000 + 8,000


def test_sales_cycle_details():
    d = kpi("sales-cycle").details
    # [21, 40]: mean 30.5; p90 = 21 + (40 - 21) x 0.9 = 38.1
    assert d["n"] == 2 and d["mean"] == pytest.approx(30.5) and d["p90"] == pytest.approx(38.1)


def test_stage_time():
    # deals leaving each stage in October (the next stage reached in October):
    #   lead: Globex 3 (10-02 -> 10-05), Vandelay 1, Soylent 2, Tyrell 1, Wonka 6
    #         [1, 1, 2, 3, 6]: median 2, p90 = 3 + (6 - 3) x 0.6 = 4.8 (rank 3.6)
    #   mql: Globex 0 (skipped), Vandelay 2, Tyrell 2, Wonka 0: median 1, p90 2
    #   sql: Acme 4 (09-27 -> 10-01), Globex 0, Vandelay 4, Wonka 0: median 2, p90 4
    #   opportunity: Acme 5, Globex 4, Vandelay 5: median 5
    #   demo: Acme 14 (10-06 -> 10-20), Globex 14: median 14
    got = {r.key: (r.extra["median_days"], r.extra["n"]) for r in kpi("stage-time").rows}
    assert got == {"lead": (2, 5), "mql": (1, 4), "sql": (2, 4), "opportunity": (5, 3),
                   "demo": (14, 2)}
    lead = rows(kpi("stage-time"))["lead"]
    assert lead.extra["p90_days"] == pytest.approx(4.8)
    assert lead.extra["mean_days"] == pytest.approx(13 / 5)


def test_stalled_deals():
    # thresholds from the stays of deals leaving each stage in [Aug 23 10:00, NOW):
    #   lead [1, 1, 2, 3, 5 (Acme), 6, 8 (Oscorp)]: median 3 -> max(7, 6) = 7
    #   mql [0, 0, 0, 2, 2, 12 (Acme)]: median 1 -> 7
    #   sql [0, 0, 0, 4, 4]: median 0 -> 7 (the 7-day floor)
    #   opportunity [0, 4, 5 (Initech 08-20 -> 08-25), 5, 5]: median 5 -> 10
    #   demo [0, 9 (Initech), 14, 14]: median 11.5 -> 23
    # open: Wayne lead 38 days, Tyrell sql 37, Wonka opportunity 27 (> 10), Duff lead 3.04
    result = kpi("stalled-deals", "this-month")
    assert [(r.key, r.value) for r in result.rows] == [("Wayne", 38), ("Tyrell", 37),
                                                       ("Wonka", 27)]
    assert rows(result)["Wonka"].extra == {"deal": "wonka", "stage": "opportunity",
                                           "owner": BO, "days_in_stage": 27.0,
                                           "threshold_days": 10.0}
    assert result.details["threshold_days"] == {"lead": 7, "mql": 7, "sql": 7,
                                                "opportunity": 10, "demo": 23}
    assert kpi("stalled-deals", user=CY).value == 2  # Wayne, Tyrell (Duff is fresh)


def test_stalled_threshold_is_at_least_seven_days():
    now = NOW
    fast = [  # won deals passing through each stage in 1 hour: the median stay is 1 hour
        deal(kind, now - timedelta(days=20, hours=-h), ANA, f"fast{i}", amount=100)
        for i in range(3)
        for h, kind in enumerate(("lead", "mql", "sql", "opportunity", "deal-won"))]
    stale = deal("sql", now - timedelta(days=8), ANA, "stale")  # idle 8 days
    fresh = deal("sql", now - timedelta(days=6), ANA, "fresh")  # idle 6 days
    facts = FakeFacts([*fast, stale, fresh])
    result = kpi("stalled-deals", "this-month", facts=facts)
    # 2 x 1 hour is far below 7 days: the threshold is 7 days
    assert result.details["threshold_days"]["sql"] == 7
    assert [r.key for r in result.rows] == ["stale"]
    # deals staying 5 days in sql: threshold 2 x 5 = 10 days -> the 8-day deal is not stalled
    slow = [deal(kind, now - timedelta(days=30 - 5 * h), ANA, f"slow{i}", amount=100)
            for i in range(3) for h, kind in enumerate(("sql", "opportunity", "deal-won"))]
    result = kpi("stalled-deals", "this-month", facts=FakeFacts([*slow, stale, fresh]))
    assert result.details["threshold_days"]["sql"] == 10
    assert result.rows == ()


def test_stalled_deals_are_all_counted_and_the_longest_idle_listed():
    # 25 deals idle in lead for 30..54 days: all stalled (threshold 7 days), 20 listed
    facts = FakeFacts([deal("lead", NOW - timedelta(days=30 + i), ANA, f"d{i:02}")
                       for i in range(25)])
    result = kpi("stalled-deals", "this-month", facts=facts)
    assert (result.value, result.numerator, result.denominator) == (25, 25, 25)
    assert len(result.rows) == 20 and result.details["listed"] == 20
    assert result.rows[0].key == "d24" and result.rows[0].value == 54


def test_sales_velocity():
    # trailing 90 days [Aug 23 10:00, NOW): won Initech 30,000 (09-03), Acme 24,000, Globex
    # 12,000, Oscorp 8,000 = 4 wins, 74,000; lost Soylent, Vandelay: win rate 4 / 6;
    # average deal 74,000 / 4 = 18,500; cycles 31, 40, 21, 8 -> median (21 + 31) / 2 = 26;
    # open opportunities (stage opportunity or demo): Wonka = 1
    d = kpi("sales-velocity", "this-month").details
    assert d["open_opportunities"] == 1
    assert d["win_rate_90d"] == pytest.approx(4 / 6)
    assert d["avg_deal_size_90d"] == pytest.approx(usd(18_500))
    assert d["median_cycle_days_90d"] == pytest.approx(26)
    # an open opportunity but no closed deal in the trailing 90 days: n/a, not 0
    only_open = FakeFacts([deal("opportunity", t(11, 1), BO, "Wonka")])
    result = kpi("sales-velocity", "this-month", facts=only_open)
    assert result.value is None and result.details["open_opportunities"] == 1
    # closed deals but no open opportunity: a true 0 per day
    assert kpi("sales-velocity", "this-month", facts=FakeFacts(SCENARIO[:9])).value == 0


def test_funnel():
    result = kpi("funnel")
    got = {r.key: (r.value, r.numerator, r.denominator, r.extra["median_days"])
           for r in result.rows}
    # deals reaching each stage in October (lead 6, mql 5, sql 4, opportunity 4, demo 3,
    # won 2); the conversion into a stage is the cohort that reached the stage before in
    # October and how many of them reached it by now: lead->mql 5/6 (not Wayne), mql->sql 4/5
    # (not Soylent), sql->opportunity 3/4 (not Tyrell), opportunity->demo 3/4 (not Wonka),
    # demo->won 2/3 (not Vandelay). The old period view divided counts of different deals
    # (opportunity 4 / sql 4: Acme's sql was in September).
    assert got == {"lead": (6, None, None, 2), "mql": (5, 5, 6, 1), "sql": (4, 4, 5, 2),
                   "opportunity": (4, 3, 4, 5), "demo": (3, 3, 4, 14),
                   "won": (2, 2, 3, None)}
    assert rows(result)["opportunity"].extra["conversion"] == pytest.approx(3 / 4)
    assert all(r.numerator <= r.denominator for r in result.rows if r.denominator)
    assert result.details["stalled"] == 3 and result.details["won"] == 2
    assert result.details["lost"] == 2 and result.details["revenue"] == usd(36_000)
    assert [d["key"] for d in result.details["stalled_deals"]] == ["Wayne", "Tyrell", "Wonka"]
    # the cohort view follows the 6 October leads: mql Globex (skipped), Vandelay, Soylent,
    # Tyrell, Wonka (skipped) = 5; sql 4 (not Soylent); opportunity 3 (not Tyrell); demo
    # Globex, Vandelay = 2; won Globex = 1
    as_cohort = kpi("funnel", options={"cohort": True})
    got = {r.key: (r.value, r.numerator, r.denominator) for r in as_cohort.rows}
    assert got == {"lead": (6, None, None), "mql": (5, 5, 6), "sql": (4, 4, 5),
                   "opportunity": (3, 3, 4), "demo": (2, 2, 3), "won": (1, 1, 2)}
    assert as_cohort.details["cohort"] is True
    assert (as_cohort.value, as_cohort.numerator, as_cohort.denominator) == (1 / 6, 1, 6)


def test_quota_attainment_rows_and_team_total_over_total():
    result = kpi("quota-attainment")
    got = {r.key: (r.value, r.numerator, r.denominator, r.extra["metric"]) for r in result.rows}
    # ana 24,000 / 30,000; bo 12,000 / 10,000; cy 3 demos booked / 3
    assert got == {ANA: (pytest.approx(0.8), usd(24_000), usd(30_000), "revenue"),
                   BO: (pytest.approx(1.2), usd(12_000), usd(10_000), "revenue"),
                   CY: (1.0, 3, 3, "demo-booked")}
    assert [r.key for r in result.rows] == [BO, CY, ANA]  # best first
    # team = 36,000 / 40,000 = 90%; the average of the percentages would say 100%
    average = (rows(result)[ANA].value + rows(result)[BO].value) / 2
    assert result.value == pytest.approx(0.9) and average == pytest.approx(1.0)
    d = result.details
    assert d["reps_at_quota"] == 2 and d["reps_with_quota"] == 3
    assert d["elapsed"] == 1.0 and d["pace"] == pytest.approx(0.9)  # October is over
    assert result.warnings == ()  # 2 of 3 = 67% is not under 60%


def test_pace_and_the_reps_at_quota_warning_in_a_running_month():
    result = kpi("quota-attainment", NOV)
    # team 8,000 / 40,000 = 0.2 with 490 of 720 hours gone: pace 0.2 / (490 / 720)
    assert result.value == pytest.approx(0.2)
    assert result.details["elapsed"] == pytest.approx(NOV_ELAPSED)
    assert result.details["pace"] == pytest.approx(0.2 / NOV_ELAPSED)
    ana = rows(result)[ANA]
    assert ana.value == pytest.approx(8 / 30)
    assert ana.extra["pace"] == pytest.approx((8 / 30) / NOV_ELAPSED)
    assert result.warnings == ("only 0 of 3 reps are at quota (0%, under 60%)",)
    at_quota = kpi("reps-at-quota", NOV)
    assert (at_quota.value, at_quota.numerator, at_quota.denominator) == (0, 0, 3)
    assert at_quota.warnings == result.warnings


def test_reps_at_quota_ignores_zero_quotas_and_counts_reps_once():
    quotas = [Quota(ANA, "revenue", "monthly", 100), Quota(ANA, "call", "monthly", 10),
              Quota(BO, "revenue", "monthly", 100), Quota(CY, "revenue", "monthly", 0)]
    facts = FakeFacts([deal("deal-won", t(10, 5), ANA, "a", amount=100),
                       Ev("call", t(10, 5), ANA, count=4),
                       deal("deal-won", t(10, 6), BO, "b", amount=150)], quotas)
    result = kpi("reps-at-quota", facts=facts)
    # ana: revenue 100% but calls 4 / 10 -> not at quota; bo 150% -> at quota;
    # cy's quota is 0 -> not counted: 1 of 2
    assert (result.numerator, result.denominator) == (1, 2)
    assert result.warnings == ("only 1 of 2 reps are at quota (50%, under 60%)",)
    assert rows(kpi("quota-attainment", facts=facts))[CY].value is None  # 0 target: n/a


def test_quota_targets_scale_with_the_period():
    assert quota_months(period(Q4)) == 3.0
    assert quota_months(period(OCT)) == 1.0
    # Oct 16..31 = 16/31 of October + Nov 1..15 = 15/30 of November
    assert quota_months(period("2026-10-16..2026-11-15")) == pytest.approx(16 / 31 + 15 / 30)
    monthly, quarterly = Quota(ANA, "revenue", "monthly", 900), Quota(ANA, "revenue",
                                                                      "quarterly", 900)
    assert quota_target(monthly, period(Q4)) == 2_700  # 3 months
    assert quota_target(quarterly, period(OCT)) == 300  # a third
    assert quota_target(quarterly, period(Q4)) == 900
    # a to-date period counts its whole month/quarter
    assert quota_target(monthly, period("mtd")) == 900
    assert quota_target(monthly, period("qtd")) == 2_700
    result = kpi("quota-attainment", Q4)
    # Q4: ana (24,000 + 8,000) / 90,000, bo 12,000 / 30,000 -> team 44,000 / 120,000;
    # cy 3 / 9
    assert result.value == pytest.approx(44 / 120)
    assert rows(result)[CY].denominator == 9
    # elapsed: Oct 1 -> Nov 21 10:00 = 1,234 of the quarter's 2,208 hours
    assert result.details["elapsed"] == pytest.approx(1_234 / 2_208)


def test_month_to_date_is_measured_against_the_whole_month():
    result = kpi("quota-attainment", "mtd")
    # the full November target (40,000) and the month's elapsed share, as for "2026-11"
    assert result.denominator == usd(40_000) and result.value == pytest.approx(0.2)
    assert result.details["pace"] == pytest.approx(0.2 / NOV_ELAPSED)


def test_monthly_progress_against_the_same_days_of_last_month():
    result = kpi("monthly-progress", "this-month")
    d = result.details
    # Nov 1-21: 8,000; Oct 1-21: Acme 24,000 (Globex on Oct 23 is later)
    assert d["revenue_mtd"] == usd(8_000) and d["same_day_last_month"] == usd(24_000)
    assert d["vs_last_month"] == pytest.approx((8_000 - 24_000) / 24_000)
    assert d["pace"] == pytest.approx(0.2 / NOV_ELAPSED)
    # a past month is measured whole: October 36,000 / 40,000 vs all of September 30,000
    past = kpi("monthly-progress", OCT)
    assert past.value == pytest.approx(0.9)
    assert past.details["same_day_last_month"] == usd(30_000)


def test_churn_details_and_mrr():
    assert kpi("churn-rate").details["new_customers"] == 2  # Acme, Globex
    assert kpi("mrr").details["mrr_at_start"] == usd(3_000)
    d = kpi("mrr-churn").details
    assert (d["churned_mrr"], d["downgrades"]) == (usd(1_500), usd(500))


def test_clv_uses_a_monthly_churn_rate():
    oct_clv = kpi("clv")
    assert oct_clv.details["churn_month"] == OCT
    # clv:cac = 18,000 / 2,500
    assert oct_clv.details["clv_to_cac"] == pytest.approx(7.2)
    # a quarter is not a month: the last whole month before NOW (October) gives the churn
    q4 = kpi("clv", Q4)
    assert q4.details["churn_month"] == "last-month"
    assert q4.value == pytest.approx(usd(18_000))
    # Q4's cac: 5,000 / 3 new customers (Acme, Globex, Oscorp); clv:cac 18,000 / 1,666.67
    assert q4.details["cac"] == pytest.approx(usd(5_000) / 3)
    assert q4.details["clv_to_cac"] == pytest.approx(10.8)
    # no churn in the month: CLV is n/a (not infinite)
    assert kpi("clv", "2026-09").value is None


def test_cost_kpis_are_team_wide():
    # spend is not credited to reps: asking for one rep gives the team's figure
    assert kpi("cpl", user=CY).value == kpi("cpl").value
    assert kpi("roi", user=ANA).value == pytest.approx(6.2)


def test_inbound_response_time():
    result = kpi("inbound-response-time")
    d = result.details
    # [60, 180, 7,200]: within 180 s: 60, 180 = 2 of 3; answered 3 of 4 requests
    assert (d["within_target"], d["share_within_target"]) == (2, pytest.approx(2 / 3))
    assert d["response_rate"] == pytest.approx(3 / 4)
    assert d["mean_seconds"] == pytest.approx(2_480)
    assert d["p90_seconds"] == pytest.approx(180 + (7_200 - 180) * 0.8)
    strict = kpi("inbound-response-time", options={"target_seconds": 60})
    assert strict.details["within_target"] == 1
    assert strict.details["share_within_target"] == pytest.approx(1 / 3)


def test_loss_reasons():
    result = kpi("loss-reasons")
    got = {r.key: (r.value, r.numerator, r.denominator, r.extra["share"]) for r in result.rows}
    assert got == {"reason: price": (1, 1, 2, 0.5), "reason: competitor": (1, 1, 2, 0.5),
                   "competitor: northwind": (1, 1, 2, 0.5)}
    assert result.details["price_share"] == 0.5
    assert result.details["competitor_share"] == 0.5


# ----------------------------------------------------------------------------- per-rep views

def test_leaderboards_are_best_first():
    def board(name):
        return [(r.key, r.value) for r in
                leaderboard(name, facts=FACTS, period=period(OCT), now=NOW).rows]

    assert board("activities") == [(ANA, 113), (BO, 73)]
    assert board("revenue") == [(ANA, usd(24_000)), (BO, usd(12_000))]
    assert board("deals-won") == [(ANA, 1), (BO, 1)]
    assert board("win-rate") == [(ANA, 1.0), (BO, pytest.approx(1 / 3))]
    assert board("quota-attainment") == [(BO, pytest.approx(1.2)), (CY, 1.0),
                                         (ANA, pytest.approx(0.8))]
    assert board("meetings") == [(ANA, 3), (BO, 2)]
    assert board("leads") == [(BO, 4), (CY, 2)]
    assert board("open-rate") == [(ANA, 0.5), (BO, 0.2)]
    with pytest.raises(ValueError, match="no per-rep leaderboard"):
        leaderboard("churn-rate", facts=FACTS, period=period(OCT), now=NOW)


def test_me_summary():
    results = me_summary(ANA, facts=FACTS, period=period(OCT), now=NOW)
    assert [r.kpi for r in results] == ["activities", "revenue", "deals-won", "win-rate",
                                        "quota-attainment"]
    values = {r.kpi: r.value for r in results}
    assert values == {"activities": 113, "revenue": usd(24_000), "deals-won": 1,
                      "win-rate": 1.0, "quota-attainment": pytest.approx(0.8)}
    quota = results[-1]
    assert [r.key for r in quota.rows] == [ANA]
    assert quota.details["pace"] == pytest.approx(0.8)  # October is over: pace = attainment


# ----------------------------------------------------------------------------- the reference

def test_the_reference_facts_follow_the_deal_rules():
    assert FACTS.deals["globex"].stage_at[Stage.MQL] == t(10, 5)  # skipped: = opportunity
    assert FACTS.deals["wonka"].stage == "opportunity"
    assert FACTS.deals["soylent"].owner_id == BO
    assert FACTS.customers_at(t(10, 1)) == 2
    assert FACTS.mrr_at(t(10, 1)) == usd(3_000)
    # the void call is not there; the September emails are outside October
    sums = FACTS.event_sums(("call", "email-sent"), t(10, 1, 0), t(11, 1, 0))
    assert (sums["call"].count, sums["email-sent"].count) == (30, 150)
