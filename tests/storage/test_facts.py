"""SqlFacts (storage/facts.py) on both backends: exact figures from the small hand-made
histories of tests/storage/facts_histories.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from reports.events import Stage
from reports.kpis.facts import DealRow, Distribution, EventSum
from storage.event_queries import list_events
from storage.models import Account
from tests.storage.facts_histories import (
    ACTIVITY,
    ACTIVITY_VOID,
    CUSTOMERS,
    CUSTOMERS_VOID,
    DAY,
    DEALS,
    DEALS_VOID,
    NOVEMBER,
    OCTOBER,
    TZ,
    WINDOW,
    WS,
    ev,
    facts,
    lerp,
    osl,
    write,
)

# ----------------------------------------------------------------------------------- binding


def test_bound_to_the_workspace_row(database):
    write(database, [])
    with database.read() as s:
        f = facts(s)
        assert (f.workspace_id, f.currency, f.timezone) == (WS, "EUR", TZ)
        assert f.event_sums(("call",), *NOVEMBER) == {}
        assert f.quotas() == []
        with pytest.raises(ValueError):
            f.event_sums(("call",), *NOVEMBER, by="owner")


# ------------------------------------------------------------------------------------ events


def test_event_sums_window_edges_off_local_midnight(database):
    write(database, ACTIVITY, void=ACTIVITY_VOID)
    with database.read() as s:
        f = facts(s)
        # c2 + c3 (leading edge), c4 + c6 + c7 (whole days 3-4 Nov), c8 (trailing edge)
        assert f.event_sums(("call",), *WINDOW) == {"call": EventSum(6, 574)}
        assert f.event_sums(("call", "email-sent"), *WINDOW) == {
            "call": EventSum(6, 574), "email-sent": EventSum(1, 40)}
        assert f.event_sums(("call",), *WINDOW, by="user") == {
            "U1": EventSum(4, 30), "U2": EventSum(2, 544)}
        assert f.event_sums(("call", "email-sent"), *WINDOW, by="user") == {
            "U1": EventSum(5, 70), "U2": EventSum(2, 544)}
        assert f.event_sums(("call",), *WINDOW, user="U2") == {"call": EventSum(2, 544)}
        assert f.event_sums(("call",), *WINDOW, user="U9") == {}
        # money: the void 8,000 is out; no source and a literal "other" group together
        assert f.event_sums(("spend",), *WINDOW) == {"spend": EventSum(3, 3, 7000)}
        assert f.event_sums(("spend",), *WINDOW, by="source") == {
            "paid-search": EventSum(1, 1, 1000), "other": EventSum(2, 2, 6000)}
        # durations are summed; an event without one counts as an event with 0 seconds
        assert f.event_sums(("inbound-responded",), *WINDOW) == {
            "inbound-responded": EventSum(6, 6, 0, 7880)}
        # inside one local day (edges only) and exactly on local midnights (rollups only)
        assert f.event_sums(("call",), osl(11, 2, 15), osl(11, 2, 23, 59)) == {
            "call": EventSum(1, 2)}
        assert f.event_sums(("call",), osl(11, 3, 0), osl(11, 5, 0)) == {
            "call": EventSum(3, 536)}
        assert f.event_sums(("call",), osl(11, 5, 9), osl(11, 5, 9)) == {}
        assert f.event_sums(("call",), *OCTOBER) == {}
        assert f.event_sums((), *WINDOW) == {}


def test_event_sums_match_the_events_for_any_window(database):
    """Rollups + edges equal a plain filter of the events, for windows around a DST change."""
    extra = [ev(f"x{i}", "call", osl(10, 23, 0) + timedelta(minutes=97 * i), count=i + 1,
                user=("U1", "U2")[i % 2]) for i in range(70)]  # 23 Oct .. 28 Oct
    write(database, [*ACTIVITY, *extra], void=("x5", *ACTIVITY_VOID))
    with database.read() as s:
        f = facts(s)
        events = list_events(session=s, workspace_id=WS)
        starts = [osl(10, 24, 15), osl(10, 25, 0), osl(10, 25, 1, 30), osl(10, 25, 2, 30),
                  osl(10, 26, 0), osl(11, 2, 15)]
        for start in starts:
            for hours in (1, 9, 24, 25, 49, 200):
                end = start + timedelta(hours=hours)
                expected: dict[str, EventSum] = {}
                for e in events:
                    if e.kind == "call" and start <= e.occurred_at < end:
                        expected[e.user_id] = expected.get(e.user_id, EventSum()) + EventSum(
                            1, e.count)
                assert f.event_sums(("call",), start, end, by="user") == expected, (start, end)


def test_event_durations_median_p90_within(database):
    write(database, ACTIVITY, void=ACTIVITY_VOID)
    with database.read() as s:
        f = facts(s)
        # odd n: 60, 180, 200, 240, 7200 (the void 5 s and the duration-less event are out)
        # median 200; p90 at rank 0.9 * 4 = 3.6: 240 + 0.6 * (7200 - 240) = 4416
        dist, within = f.event_durations("inbound-responded", *WINDOW, within=180)
        assert dist == Distribution(n=5, median=200.0, mean=1576.0, p90=4416.0, total=7880.0)
        assert within == 2  # 60 and exactly 180
        # even n (+ 300 on 5 Nov): median (200 + 240) / 2; p90 at 4.5: 300 + 0.5 * 6900
        dist, within = f.event_durations("inbound-responded", WINDOW[0], osl(11, 6, 0),
                                         within=240)
        assert dist == Distribution(n=6, median=220.0, mean=8180 / 6, p90=3750.0,
                                    total=8180.0)
        assert within == 4
        # one user: 60, 180, 240, 300: median 210, p90 at 2.7: 240 + 0.7 * 60
        dist, within = f.event_durations("inbound-responded", WINDOW[0], osl(11, 6, 0),
                                         user="U1")
        assert dist == Distribution(n=4, median=210.0, mean=195.0, p90=282.0, total=780.0)
        assert within == 0  # no target given
        # n = 2 and n = 1
        dist, _ = f.event_durations("inbound-responded", osl(11, 2, 0), osl(11, 3, 10, 30))
        assert (dist.n, dist.median, dist.p90) == (2, 120.0, 168.0)
        dist, _ = f.event_durations("inbound-responded", osl(11, 3, 11), osl(11, 3, 12))
        assert dist == Distribution(n=1, median=200.0, mean=200.0, p90=200.0, total=200.0)
        # empty
        dist, within = f.event_durations("inbound-responded", *OCTOBER, within=180)
        assert dist == Distribution() and dist.median is None and within == 0


# ------------------------------------------------------------------------------------- deals


def test_deals_reaching(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        assert f.deals_reaching(Stage.LEAD, *NOVEMBER) == {"all": 8}  # a-f, h, i (g: Oct)
        assert f.deals_reaching(Stage.LEAD, *NOVEMBER, by="user") == {"U1": 3, "U2": 3, "U3": 2}
        assert f.deals_reaching(Stage.LEAD, *NOVEMBER, by="source") == {
            "referral": 2, "organic": 2, "paid-search": 1, "other": 3}
        assert f.deals_reaching(Stage.LEAD, *NOVEMBER, user="U2") == {"all": 3}
        # skipped stages count as reached (b's mql/sql, g's mql..demo, h's lead..opportunity)
        assert f.deals_reaching(Stage.MQL, *NOVEMBER) == {"all": 6}  # a b c d g h
        assert f.deals_reaching(Stage.SQL, *NOVEMBER) == {"all": 5}  # a b c g h
        assert f.deals_reaching(Stage.OPPORTUNITY, *NOVEMBER) == {"all": 5}  # a b c g h
        assert f.deals_reaching(Stage.DEMO, *NOVEMBER) == {"all": 4}  # a c g h
        # won: a, g and the reopened c once; f's win is void
        assert f.deals_reaching(Stage.WON, *NOVEMBER) == {"all": 3}
        assert f.deals_reaching(Stage.WON, *NOVEMBER, by="user") == {"U1": 2, "U2": 1}
        assert f.deals_reaching(Stage.WON, *NOVEMBER, user="U3") == {}
        assert f.deals_reaching(Stage.WON, osl(11, 1, 0), osl(11, 8, 0)) == {"all": 1}  # g
        # window edges on the stage timestamp: [start, end)
        assert f.deals_reaching(Stage.LEAD, osl(11, 1), osl(11, 2)) == {"all": 2}  # a, b
        assert f.deals_reaching(Stage.LEAD, osl(11, 1, 10, 1), osl(11, 2, 10, 1)) == {"all": 1}
        assert f.deals_reaching(Stage.LEAD, *OCTOBER) == {"all": 1}  # g
        assert f.deals_reaching(Stage.LEAD, osl(6, 1), osl(7, 1)) == {}


def test_cohort_conversion(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        # leads of November: a b c d e f h i; won by now: a, c (reopened and won)
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, *NOVEMBER) == {"all": (8, 2)}
        assert f.cohort_conversion(Stage.LEAD, "won", *NOVEMBER) == {"all": (8, 2)}
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, *NOVEMBER, by="source") == {
            "referral": (2, 1), "organic": (2, 0), "paid-search": (1, 0), "other": (3, 1)}
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, *NOVEMBER, by="user") == {
            "U1": (3, 1), "U2": (3, 1), "U3": (2, 0)}
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, *NOVEMBER, user="U2") == {
            "all": (3, 1)}
        # final outcome: c was lost and then won, so it is not a loss; b and i are
        assert f.cohort_conversion(Stage.LEAD, "lost", *NOVEMBER) == {"all": (8, 2)}
        assert f.cohort_conversion(Stage.OPPORTUNITY, "lost", *NOVEMBER) == {"all": (5, 1)}
        # mql cohort a b c d g h: all but d reached sql (b, g, h by skipping)
        assert f.cohort_conversion(Stage.MQL, Stage.SQL, *NOVEMBER) == {"all": (6, 5)}
        assert f.cohort_conversion(Stage.DEMO, Stage.WON, *NOVEMBER) == {"all": (4, 3)}
        assert f.cohort_conversion(Stage.DEMO, "lost", *NOVEMBER) == {"all": (4, 0)}
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, *OCTOBER) == {"all": (1, 1)}  # g
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, osl(6, 1), osl(7, 1)) == {}


def test_closed_deals_and_losses_by_final_outcome(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        # won a 1,000 + c 500 + g 300; lost b, i (c's 5 Nov loss was reopened: not a loss)
        assert f.closed_deals(*NOVEMBER) == {"all": (3, 2, 180_000)}
        assert f.closed_deals(*NOVEMBER, by="user") == {
            "U1": (2, 1, 130_000), "U2": (1, 1, 50_000)}
        assert f.closed_deals(*NOVEMBER, user="U2") == {"all": (1, 1, 50_000)}
        assert f.closed_deals(osl(11, 1, 0), osl(11, 6, 0)) == {"all": (1, 0, 30_000)}  # g
        assert f.closed_deals(osl(11, 9, 0), osl(11, 10, 0)) == {"all": (0, 1, 0)}  # b
        assert f.closed_deals(*OCTOBER) == {}
        assert f.loss_breakdown(*NOVEMBER) == ({"price": 1, "(none)": 1},
                                               {"rival": 1, "(none)": 1})
        assert f.loss_breakdown(*NOVEMBER, user="U2") == ({"price": 1}, {"rival": 1})
        assert f.loss_breakdown(osl(11, 5, 0), osl(11, 6, 0)) == ({}, {})  # c: reopened


def test_sales_cycle(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        # a: 1 -> 10 Nov = 9 days; c: 2 -> 12 Nov = 10 days; g: 20 Oct 10:00 CEST -> 3 Nov
        # 10:00 CET = 14 days + 1 hour (the clocks went back on 25 Oct)
        a, c, g = 9 * DAY, 10 * DAY, 14 * DAY + 3600
        assert f.sales_cycle(*NOVEMBER) == Distribution(
            n=3, median=c, mean=(a + c + g) / 3, p90=lerp(c, g, 8), total=a + c + g)
        assert f.sales_cycle(*NOVEMBER, user="U1") == Distribution(
            n=2, median=lerp(a, g, 5), mean=(a + g) / 2, p90=lerp(a, g, 9), total=a + g)
        assert f.sales_cycle(*OCTOBER) == Distribution()


def test_stage_time(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        # left lead (reached mql) in November: a 1d, b 2d (to its skipped mql), c 1d, d 2d,
        # g 14d 1h, h 0 (skipped) -> sorted 0, 1, 1, 2, 2, 14d1h
        g = 14 * DAY + 3600
        assert f.stage_time(Stage.LEAD, *NOVEMBER) == Distribution(
            n=6, median=1.5 * DAY, mean=(6 * DAY + g) / 6, p90=lerp(2 * DAY, g, 5),
            total=6 * DAY + g)
        # left mql (reached sql): a 2d, b 0, c 4d (its reopened sql on 7 Nov), g 0, h 0
        assert f.stage_time(Stage.MQL, *NOVEMBER) == Distribution(
            n=5, median=0.0, mean=6 * DAY / 5, p90=lerp(2 * DAY, 4 * DAY, 6), total=6 * DAY)
        # left sql: a 2d, b 0, c 5d (sql 7 -> opportunity 12, skipped), g 0, h 0
        assert f.stage_time(Stage.SQL, *NOVEMBER) == Distribution(
            n=5, median=0.0, mean=7 * DAY / 5, p90=lerp(2 * DAY, 5 * DAY, 6), total=7 * DAY)
        # left opportunity (reached demo): a 2d, c 0, g 0, h 0; b's loss is not a stage exit
        assert f.stage_time(Stage.OPPORTUNITY, *NOVEMBER) == Distribution(
            n=4, median=0.0, mean=DAY / 2, p90=lerp(0, 2 * DAY, 7), total=2 * DAY)
        # left demo (won): a 2d, c 0, g 0; h is still at demo
        assert f.stage_time(Stage.DEMO, *NOVEMBER) == Distribution(
            n=3, median=0.0, mean=2 * DAY / 3, p90=lerp(0, 2 * DAY, 8), total=2 * DAY)
        assert f.stage_time(Stage.WON, *NOVEMBER) == Distribution()
        assert f.stage_time(Stage.LEAD, *NOVEMBER, user="U2") == Distribution(
            n=3, median=2 * DAY, mean=5 * DAY / 3, p90=2 * DAY, total=5 * DAY)  # b c d
        assert f.stage_time(Stage.LEAD, osl(6, 1), osl(7, 1)) == Distribution()


def test_open_deals(database):
    write(database, DEALS, void=DEALS_VOID)
    with database.read() as s:
        f = facts(s)
        f_row = DealRow("f", "F", "U3", "lead", osl(11, 3), None)  # its win is void
        e_row = DealRow("e", "E", "U3", "lead", osl(11, 5), None)
        d_row = DealRow("d", "D", "U2", "mql", osl(11, 6), None)
        h_row = DealRow("h", "H", "U1", "demo", osl(11, 7), None)
        assert f.open_deals() == [f_row, e_row, d_row, h_row]  # longest waiting first
        assert f.open_deals(stages=[Stage.LEAD]) == [f_row, e_row]
        assert f.open_deals(stages=(Stage.OPPORTUNITY, Stage.DEMO)) == [h_row]
        assert f.open_deals(user="U2") == [d_row]
        assert f.open_deals(user="U9") == []
        assert f.open_deals(stages=()) == []
        # idle: last stage change before the given instant (strictly), longest idle first
        assert f.open_deals(idle_before=osl(11, 6)) == [f_row, e_row]
        assert f.open_deals(idle_before=osl(11, 6, 10, 1)) == [f_row, e_row, d_row]
        assert f.open_deals(limit=2) == [f_row, e_row]
        assert f.open_deals(stages=[Stage.LEAD, Stage.MQL], idle_before=osl(11, 7),
                            limit=1) == [f_row]
        assert f.count_open_deals() == 4
        assert f.count_open_deals(stages=[Stage.LEAD, Stage.MQL], idle_before=osl(11, 7)) == 3
        assert f.count_open_deals(user="U1") == 1
        assert f.count_open_deals(stages=(Stage.WON,)) == 0


# --------------------------------------------------------------------------------- customers


def test_accounts_are_kept_with_the_events(database):
    write(database, CUSTOMERS, void=CUSTOMERS_VOID)
    with database.read() as s:
        rows = {a.key: a for a in s.scalars(select(Account).where(Account.workspace_id == WS))}
    assert set(rows) == {"alpha", "bravo", "charlie"}  # delta's only win is void
    a, b, c = rows["alpha"], rows["bravo"], rows["charlie"]
    assert (a.customer_since, a.churned_at, a.mrr_minor) == (osl(10, 1), None, 6_000)
    assert (b.customer_since, b.churned_at, b.mrr_minor, b.churned_mrr_minor) == (
        osl(10, 5), osl(11, 10), 0, 28_000)
    assert (c.customer_since, c.churned_at, c.mrr_minor, c.churned_mrr_minor) == (
        osl(11, 2), osl(11, 6), 0, 30_000)


def test_customers_and_churn(database):
    write(database, CUSTOMERS, void=CUSTOMERS_VOID)
    with database.read() as s:
        f = facts(s)
        assert f.customers_at(NOVEMBER[0]) == 2  # alpha, bravo
        assert f.customers_at(osl(11, 8)) == 2  # alpha, bravo (charlie churned on 6 Nov)
        assert f.customers_at(osl(10, 1)) == 0  # alpha's win is at that instant, not before
        assert f.customers_at(osl(10, 1, 10, 1)) == 1
        assert f.customers_at(NOVEMBER[1]) == 1  # alpha
        # November: bravo churned; charlie was won and churned inside it (not a customer at
        # the start, so in neither part of the churn rate)
        assert f.churned_customers(*NOVEMBER) == 1
        assert f.churned_customers(osl(11, 3), osl(11, 8)) == 1  # charlie, a customer on 3 Nov
        assert f.churned_customers(*OCTOBER) == 0
        assert f.new_customers(*NOVEMBER) == 1  # charlie (bravo's second win is not new)
        assert f.new_customers(*OCTOBER) == 2  # alpha, bravo


def test_mrr(database):
    write(database, CUSTOMERS, void=CUSTOMERS_VOID)
    with database.read() as s:
        f = facts(s)
        assert f.mrr_at(OCTOBER[0]) == 0
        assert f.mrr_at(NOVEMBER[0]) == 10_000 + 20_000 + 3_000
        # 4 Nov: wins of 650.00 and +30.00; alpha's -40.00 lands at 10:00 local
        # (read from the events table: the rest of that day is not in the rollups)
        assert f.mrr_at(osl(11, 4, 9)) == 68_000
        assert f.mrr_at(osl(11, 4, 15)) == 64_000
        # end of November: 650.00 - 10.00 - churned (bravo 280.00, charlie 300.00) = alpha's
        assert f.mrr_at(NOVEMBER[1]) == 6_000
        assert f.mrr_lost(*NOVEMBER) == (58_000, 4_000)
        assert f.mrr_lost(*OCTOBER) == (0, 0)


def test_a_win_after_churn_makes_a_customer_again(database):
    write(database, [
        ev("e1", "deal-won", osl(8, 3), deal="echo-1", account_key="echo", amount_minor=1,
           mrr_minor=1_000),
        ev("e2", "churned", osl(9, 1), account_key="echo"),
        ev("e3", "deal-won", osl(10, 15), deal="echo-2", account_key="echo", amount_minor=1,
           mrr_minor=2_000),
        ev("e4", "mrr-change", osl(10, 20), deal="echo", amount_minor=500),
    ])  # the bulk path keeps accounts too
    with database.read() as s:
        e = s.get(Account, (WS, "echo"))
        assert (e.customer_since, e.churned_at, e.mrr_minor) == (osl(8, 3), None, 3_500)
        assert facts(s).customers_at(NOVEMBER[0]) == 1
    write(database, [], void=["e3"])  # without the second win, echo churned on 1 Sep
    with database.read() as s:
        e = s.get(Account, (WS, "echo"))
        assert (e.churned_at, e.mrr_minor, e.churned_mrr_minor) == (osl(9, 1), 0, 1_000)
        f = facts(s)
        assert f.customers_at(NOVEMBER[0]) == 0
        assert f.churned_customers(osl(9, 1, 0), osl(10, 1, 0)) == 1
    write(database, [], void=["e1"])  # no win at all: not a customer, the row stays for MRR
    with database.read() as s:
        e = s.get(Account, (WS, "echo"))
        assert (e.customer_since, e.churned_at) == (None, osl(9, 1))
