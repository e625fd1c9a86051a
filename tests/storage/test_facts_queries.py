"""The SQL behind SqlFacts (storage/facts.py): it never counts another workspace's data, and on
SQLite its queries and the event writes go through the indexes.
"""

from __future__ import annotations

from datetime import date

import pytest

from reports.events import Stage
from reports.kpis.facts import Quota
from storage.quotas import set_quota
from tests.storage.facts_histories import (
    ACTIVITY,
    ACTIVITY_VOID,
    CUSTOMERS,
    CUSTOMERS_VOID,
    DEALS,
    DEALS_VOID,
    NOVEMBER,
    NOW,
    OTHER,
    WINDOW,
    WS,
    ev,
    facts,
    osl,
    write,
)
from tests.storage.query_plans import _captured, _plans


def _snapshot(session, workspace_id: str) -> dict:
    f = facts(session, workspace_id)
    month = NOVEMBER
    return {
        "sums": f.event_sums(("call", "spend", "inbound-responded"), *WINDOW, by="user"),
        "sources": f.event_sums(("spend",), *WINDOW, by="source"),
        "durations": f.event_durations("inbound-responded", *WINDOW, within=200),
        "reaching": {st: f.deals_reaching(st, *month, by="source") for st in Stage},
        "cohorts": f.cohort_conversion(Stage.LEAD, Stage.WON, *month, by="user"),
        "closed": f.closed_deals(*month, by="user"),
        "losses": f.loss_breakdown(*month),
        "cycle": f.sales_cycle(*month),
        "stage_time": {st: f.stage_time(st, *month) for st in Stage},
        "open": (f.open_deals(), f.count_open_deals(idle_before=osl(11, 6))),
        "customers": (f.customers_at(month[0]), f.churned_customers(*month),
                      f.new_customers(*month)),
        "mrr": (f.mrr_at(month[0]), f.mrr_at(month[1]), f.mrr_lost(*month)),
        "quotas": f.quotas(),
    }


def test_workspaces_never_count_each_others_data(database):
    everything = [*ACTIVITY, *DEALS, *CUSTOMERS]
    voids = (*ACTIVITY_VOID, *DEALS_VOID, *CUSTOMERS_VOID)
    write(database, everything, void=voids, bulk=False)
    with database.write() as s:
        set_quota(session=s, workspace_id=WS, user_id="U1", metric="revenue",
                  cadence="monthly", target=500_000, set_by="UADMIN", now=NOW)
    with database.read() as s:
        alone = _snapshot(s, WS)
    # the same history again in another workspace (now through the bulk path), same quota
    write(database, everything, void=voids, workspace_id=OTHER, bulk=True)
    with database.write() as s:
        set_quota(session=s, workspace_id=OTHER, user_id="U1", metric="revenue",
                  cadence="monthly", target=500_000, set_by="UADMIN", now=NOW)
    with database.read() as s:
        assert _snapshot(s, WS) == alone
        assert _snapshot(s, OTHER) == alone
    assert alone["quotas"] == [Quota("U1", "revenue", "monthly", 500_000, date(2026, 12, 1),
                                     NOW, "UADMIN")]
    # customers: alpha, bravo at the start; bravo churned; new: charlie and deals a, c, g
    assert alone["customers"] == (2, 1, 4) and alone["closed"]["U1"] == (4, 1, 130_002)


# ---------------------------------------------------------------------------------- plans

def test_queries_use_the_indexes_on_sqlite(database):
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    write(database, [*ACTIVITY, *DEALS, *CUSTOMERS], void=(*ACTIVITY_VOID, *DEALS_VOID))
    expected = {  # method call -> indexes its plan must use
        "event_sums": (lambda f: f.event_sums(("call", "spend"), *WINDOW, by="user"),
                       ("ix_events_workspace_occurred", "daily_rollups")),
        "event_durations": (lambda f: f.event_durations("inbound-responded", *WINDOW,
                                                        within=60),
                            ("ix_events_durations",)),
        "deals_reaching": (lambda f: [f.deals_reaching(st, *NOVEMBER) for st in Stage],
                           ("ix_deals_lead", "ix_deals_mql", "ix_deals_sql",
                            "ix_deals_opportunity", "ix_deals_demo", "ix_deals_closed")),
        "cohort_conversion": (lambda f: f.cohort_conversion(Stage.MQL, Stage.SQL, *NOVEMBER,
                                                            by="source"), ("ix_deals_mql",)),
        "closed_deals": (lambda f: f.closed_deals(*NOVEMBER, by="user"), ("ix_deals_closed",)),
        "loss_breakdown": (lambda f: f.loss_breakdown(*NOVEMBER), ("ix_deals_closed",)),
        # a month's histogram, the deals of its edges and of the buckets of the ranks (0016)
        "sales_cycle": (lambda f: f.sales_cycle(*NOVEMBER),
                        ("deal_duration_counts", "ix_deal_durations_exit",
                         "ix_deal_durations_bucket")),
        # the stage times: the buckets of the ranks, settled (remembered) and since the last
        # hour, read by exit instant (storage/stage_durations.py `_split_values`)
        "stage_time": (lambda f: [f.stage_time(st, *NOVEMBER) for st in Stage],
                       ("deal_duration_counts", "ix_deal_durations_exit")),
        "open_deals": (lambda f: (f.open_deals(idle_before=osl(11, 6), limit=5),
                                  f.count_open_deals(stages=(Stage.LEAD,))),
                       ("ix_deals_open_stage",)),
        "customers": (lambda f: (f.customers_at(NOVEMBER[0]), f.churned_customers(*NOVEMBER),
                                 f.new_customers(*NOVEMBER)),
                      ("ix_accounts_customer_since", "ix_accounts_churned")),
        "mrr": (lambda f: (f.mrr_at(osl(11, 4, 15)), f.mrr_lost(*NOVEMBER)),
                ("ix_deals_closed", "ix_monthly_rollups_kind", "ix_daily_rollups_kind",
                 "ix_events_workspace_occurred", "ix_events_downgrades", "ix_accounts_churned")),
    }
    for name, (call, indexes) in expected.items():
        def run(call=call) -> None:
            with database.read() as s:
                call(facts(s))

        text = _plans(database, _captured(database, run), name)
        for index in indexes:
            assert index in text, f"{name} does not use {index}:\n{text}"


def test_event_writes_keep_deals_and_accounts_through_indexes_on_sqlite(database):
    """Deal and account upkeep on every write reads the touched keys, not the history."""
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    write(database, [*DEALS, *CUSTOMERS])
    text = _plans(database, _captured(database, lambda: write(database, [
        ev("w1", "deal-won", osl(11, 21), deal="e", amount_minor=1, mrr_minor=100),
        ev("w2", "churned", osl(11, 22), account_key="bravo"),
        ev("w3", "mrr-change", osl(11, 23), deal="alpha", amount_minor=-5),
    ], void=["w1"], bulk=False)), "record_event/void_event")
    for index in ("ix_events_workspace_deal", "ix_events_workspace_account",
                  "ix_deals_account"):
        assert index in text, f"account upkeep does not use {index}:\n{text}"
    _plans(database, _captured(database, lambda: write(database, [
        ev("b1", "mrr-change", osl(11, 24), deal="alpha", amount_minor=-5),
        ev("b2", "deal-won", osl(11, 24), deal="d", amount_minor=1),
    ], bulk=True)), "record_events")


def test_per_rep_and_per_source_deal_counts_read_only_the_stage_indexes_on_sqlite(database):
    """Rows per rep or per lead source, and the won cohorts, come from the stage index alone
    (it holds outcome, owner and source since 0014): no table lookup per deal."""
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    write(database, [*DEALS])
    stages = (Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.DEMO)

    def run() -> None:
        with database.read() as s:
            f = facts(s)
            for stage in stages:
                for by in ("user", "source"):
                    f.deals_reaching(stage, *NOVEMBER, by=by)
                    f.cohort_conversion(stage, Stage.WON, *NOVEMBER, by=by)

    text = _plans(database, _captured(database, run), "grouped deal counts")
    for stage in stages:
        assert f"COVERING INDEX ix_deals_{stage.value}" in text, text
    assert "USING INDEX ix_deals" not in text, text
