"""Each KPI's details, rows and options on the scenario of tests/reports/kpi_scenario.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reports.events import Stage
from reports.format import format_details
from reports.i18n import translator
from reports.kpis.catalog import (
    CATALOG,
    leaderboard,
    me_summary,
    quota_months,
    quota_target,
)
from reports.kpis.facts import Quota
from tests.reports.fake_facts import Ev, FakeFacts
from tests.reports.kpi_scenario import (
    ANA,
    BO,
    CY,
    FACTS,
    NOV,
    NOV_ELAPSED,
    NOW,
    OCT,
    Q4,
    SCENARIO,
    deal,
    kpi,
    period,
    rows,
    t,
    usd,
)


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
    assert tuple(map(str, result.warnings)) == ("only 0 of 3 reps are at quota (0%, under 60%)",)
    at_quota = kpi("reps-at-quota", NOV)
    assert (at_quota.value, at_quota.numerator, at_quota.denominator) == (0, 0, 3)
    assert list(map(str, at_quota.warnings)) == list(map(str, result.warnings))


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
    assert tuple(map(str, result.warnings)) == ("only 1 of 2 reps are at quota (50%, under 60%)",)
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
    assert oct_clv.details["churn_month"] == period(OCT)
    # clv:cac = 18,000 / 2,500
    assert oct_clv.details["clv_to_cac"] == pytest.approx(7.2)
    # a quarter is not a month: the last whole month before NOW (October) gives the churn
    q4 = kpi("clv", Q4)
    assert q4.details["churn_month"] == period(OCT)  # named as the month, not "last-month"
    assert q4.value == pytest.approx(usd(18_000))
    # Q4's cac: 5,000 / 3 new customers (Acme, Globex, Oscorp); clv:cac 18,000 / 1,666.67
    assert q4.details["cac"] == pytest.approx(usd(5_000) / 3)
    assert q4.details["clv_to_cac"] == pytest.approx(10.8)
    # no churn in the month: CLV is n/a (not infinite)
    assert kpi("clv", "2026-09").value is None


def test_clv_churn_month_reads_as_the_month_in_every_view():
    q4 = kpi("clv", Q4)
    assert q4.to_json()["details"]["churn_month"] == "2026-10"
    shown = dict(format_details(q4.details, "USD"))
    assert shown["churn month"] == "October 2026"
    assert shown["CAC"] == "$1.7K"
    nb = dict(format_details(q4.details, "USD", "nb", translator("nb")))
    assert nb["churn month"] == "oktober 2026"


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
