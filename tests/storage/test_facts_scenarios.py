"""SqlFacts on both backends: exact aggregates over small hand-made histories (Europe/Oslo).

November 2026: Oslo is UTC+1, so local midnight is 23:00 UTC the day before. The main window
W = [2 Nov 10:00Z, 5 Nov 15:00Z) starts and ends off local midnight: whole local days 3 and 4
Nov come from the rollups, the edges from the events table.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from reports.events import Stage
from reports.kpis.facts import DealRow, Distribution, EventSum, Quota
from storage.engine import Database
from storage.facts import SqlFacts
from storage.models import Account
from storage.quotas import list_quotas, set_quota
from storage.recording import NewEvent, record_event, void_event
from storage.workspaces import ensure_workspace
from tests.conftest import BACKENDS, _pg_admin_execute

WS, OTHER = "slack:T1", "slack:T2"
START = datetime(2026, 11, 2, 10, tzinfo=UTC)
END = datetime(2026, 11, 5, 15, tzinfo=UTC)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
_keys = itertools.count()


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def log(session, workspace, kind, when, *, user="U1", deal=None, **kw):
    return record_event(session=session, workspace=workspace, now=NOW, new=NewEvent(
        kind=kind, user_id=user, logged_by=user, occurred_at=when,
        idempotency_key=f"k{next(_keys)}", deal_key=deal, deal_name=deal, **kw)).event


def void(session, workspace, event) -> None:
    void_event(session=session, workspace=workspace, event_id=event.id, voided_by="U1",
               now=NOW)


@pytest.fixture(scope="module", params=BACKENDS)
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One database per backend holding both workspaces' history, shared by the read-only
    tests of this module (building it per test would dominate the run time)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("facts") / "kpibot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = Database.from_url(f"sqlite:///{path}")
        _record_history(database)
        yield database
        database.dispose()
        return
    cluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("postgres_template")
    name = f"facts_{uuid.uuid4().hex[:12]}"
    _pg_admin_execute(cluster, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    database = Database.from_url(cluster.url(name))
    _record_history(database)
    yield database
    database.dispose()
    _pg_admin_execute(cluster, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _record_history(database: Database) -> None:
    with database.write() as s:
        ws = ensure_workspace(session=s, workspace_id=WS, platform="slack",
                              timezone="Europe/Oslo", currency="EUR", now=NOW)
        other = ensure_workspace(session=s, workspace_id=OTHER, platform="slack", now=NOW)
        # --- activity: calls, spend, inbound response times
        log(s, ws, "call", at(11, 2, 9), count=5)  # same local day, before the window
        log(s, ws, "call", at(11, 2, 12), count=3)  # leading edge
        log(s, ws, "call", at(11, 2, 23, 30), count=4)  # local 3 Nov: rollup
        log(s, ws, "call", at(11, 3, 12), count=7, user="U2")
        void(s, ws, log(s, ws, "call", at(11, 4, 10), count=6))
        log(s, ws, "call", at(11, 5, 14, 59), count=2)  # trailing edge
        log(s, ws, "call", at(11, 5, 15), count=9)  # at the end: outside
        log(s, ws, "call", at(10, 25, 22, 30), count=8)  # local 25 Oct, a 25-hour day (DST)
        log(s, ws, "spend", at(11, 3, 10), amount_minor=5000, source="ads")
        log(s, ws, "spend", at(11, 5, 12), amount_minor=2500, source="events")
        for seconds, user, when in ((60, "U1", at(11, 2, 11)), (120, "U1", at(11, 3, 11)),
                                    (600, "U1", at(11, 5, 11)), (300, "U2", at(11, 4, 11))):
            log(s, ws, "inbound-responded", when, user=user, duration_seconds=seconds)
        void(s, ws, log(s, ws, "inbound-responded", at(11, 4, 12), duration_seconds=10))
        log(s, ws, "inbound-responded", at(11, 6, 12), duration_seconds=5)
        # --- deals
        log(s, ws, "lead", at(10, 20, 10), deal="acme", source="ads")
        log(s, ws, "mql", at(10, 25, 10), deal="acme")
        log(s, ws, "sql", at(11, 2, 12), deal="acme")
        log(s, ws, "demo-booked", at(11, 3, 12), deal="acme")  # skips opportunity
        log(s, ws, "deal-won", at(11, 4, 12), deal="acme", amount_minor=10000, mrr_minor=1000,
            account_key="acme-co")
        log(s, ws, "lead", at(11, 2, 11), deal="beta", user="U2", source="events")
        log(s, ws, "deal-lost", at(11, 3, 9), deal="beta", user="U2", reason="price",
            competitor="Rival")
        log(s, ws, "lead", at(11, 2, 9), deal="gamma", source="ads")
        log(s, ws, "deal-won", at(11, 3, 10), deal="gamma", amount_minor=5000, mrr_minor=500)
        log(s, ws, "demo-booked", at(11, 4, 10), deal="gamma")  # reopens
        log(s, ws, "deal-won", at(11, 5, 10), deal="gamma", amount_minor=7000, mrr_minor=700)
        log(s, ws, "lead", at(11, 3, 8), deal="delta", user="U2")
        log(s, ws, "mql", at(11, 4, 8), deal="delta", user="U2")
        log(s, ws, "opportunity", at(10, 1, 9), deal="eps")
        void(s, ws, log(s, ws, "lead", at(11, 3, 10), deal="voided"))
        log(s, ws, "lead", at(11, 1, 9), deal="gone", user="U2")
        log(s, ws, "deal-lost", at(11, 4, 12), deal="gone", user="U2")
        # --- customers and MRR
        log(s, ws, "lead", at(9, 1, 9), deal="old")
        log(s, ws, "deal-won", at(9, 10, 9), deal="old", mrr_minor=2000)
        log(s, ws, "mrr-change", at(10, 1, 9), account_key="old", amount_minor=-500)
        log(s, ws, "churned", at(11, 3, 12), account_key="old")  # churns 1500
        log(s, ws, "deal-won", at(8, 1, 9), deal="zed", mrr_minor=300)
        log(s, ws, "churned", at(11, 10, 9), account_key="zed", mrr_minor=250)
        log(s, ws, "mrr-change", at(11, 5, 12), account_key="acme-co", amount_minor=200)
        void(s, ws, log(s, ws, "mrr-change", at(11, 4, 9), account_key="acme-co",
                        amount_minor=-999))
        log(s, ws, "mrr-change", at(11, 5, 14), account_key="gamma", amount_minor=-100)
        void(s, ws, log(s, ws, "churned", at(11, 5, 13), account_key="gamma"))
        set_quota(session=s, workspace_id=WS, user_id="U1", metric="revenue",
                  cadence="monthly", target=100_000, set_by="A", now=NOW)
        set_quota(session=s, workspace_id=WS, user_id="U1", metric="revenue",
                  cadence="quarterly", target=300_000, set_by="A", now=NOW)
        set_quota(session=s, workspace_id=WS, user_id="U2", metric="demo-booked",
                  cadence="monthly", target=5, set_by="A", now=NOW)
        # --- another workspace, which must never leak in
        log(s, other, "call", at(11, 3, 12), count=100)
        log(s, other, "lead", at(11, 3, 9), deal="acme")
        log(s, other, "deal-won", at(11, 4, 9), deal="acme", amount_minor=99, mrr_minor=99)
        log(s, other, "inbound-responded", at(11, 4, 9), duration_seconds=1)
        set_quota(session=s, workspace_id=OTHER, user_id="U1", metric="revenue",
                  cadence="monthly", target=1, set_by="A", now=NOW)


def facts(session, workspace_id=WS) -> SqlFacts:
    from storage.models import Workspace

    return SqlFacts(session=session, workspace=session.get(Workspace, workspace_id))


def test_binding(history):
    with history.read() as s:
        f = facts(s)
        assert (f.workspace_id, f.currency, f.timezone) == (WS, "EUR", "Europe/Oslo")


def test_event_sums_edges_voids_and_groupings(history):
    with history.read() as s:
        f = facts(s)
        assert f.event_sums(("call",), START, END) == {"call": EventSum(4, 16, 0, 0)}
        assert f.event_sums(("call",), START, END, by="user") == {
            "U1": EventSum(3, 9, 0, 0), "U2": EventSum(1, 7, 0, 0)}
        assert f.event_sums(("call",), START, END, user="U2") == {"call": EventSum(1, 7, 0, 0)}
        assert f.event_sums(("spend",), START, END, by="source") == {
            "ads": EventSum(1, 1, 5000, 0), "events": EventSum(1, 1, 2500, 0)}
        both = f.event_sums(("call", "spend"), START, END)
        assert both == {"call": EventSum(4, 16, 0, 0), "spend": EventSum(2, 2, 7500, 0)}
        assert f.event_sums(("inbound-responded",), START, END)["inbound-responded"] == \
            EventSum(4, 4, 0, 1080)
        # within one local day (edges only), and exactly on local midnights (rollups only)
        assert f.event_sums(("call",), START, at(11, 2, 13)) == {"call": EventSum(1, 3, 0, 0)}
        assert f.event_sums(("call",), at(11, 2, 23), at(11, 4, 23)) == {
            "call": EventSum(2, 11, 0, 0)}
        assert f.event_sums(("call",), at(1, 1), at(1, 2)) == {}
        # across the end of summer time: local 25 Oct runs 24 Oct 22:00Z to 25 Oct 23:00Z
        assert f.event_sums(("call",), at(10, 24, 22), at(10, 25, 23)) == {
            "call": EventSum(1, 8, 0, 0)}
        assert f.event_sums(("call",), at(10, 24, 22), at(10, 25, 22, 30)) == {}
        assert f.event_sums(("call",), at(10, 25, 22, 30), at(10, 26, 23)) == {
            "call": EventSum(1, 8, 0, 0)}
        assert f.event_sums(("call",), END, END) == {}
        assert facts(s, OTHER).event_sums(("call",), START, END) == {
            "call": EventSum(1, 100, 0, 0)}


def test_event_durations(history):
    with history.read() as s:
        f = facts(s)
        dist, within = f.event_durations("inbound-responded", START, END, within=120)
        assert dist == Distribution(n=4, median=210.0, mean=270.0, p90=510.0, total=1080.0)
        assert within == 2
        dist, within = f.event_durations("inbound-responded", START, END, user="U1")
        assert dist == Distribution(n=3, median=120.0, mean=260.0, p90=504.0, total=780.0)
        assert within == 0
        dist, within = f.event_durations("inbound-responded", at(1, 1), at(2, 1), within=60)
        assert dist == Distribution() and dist.median is None and within == 0


def test_deals_reaching(history):
    with history.read() as s:
        f = facts(s)
        assert f.deals_reaching(Stage.LEAD, START, END) == {"all": 2}
        assert f.deals_reaching(Stage.LEAD, START, END, by="user") == {"U2": 2}
        assert f.deals_reaching(Stage.LEAD, START, END, by="source") == {
            "events": 1, "other": 1}
        assert f.deals_reaching(Stage.MQL, START, END) == {"all": 2}
        assert f.deals_reaching(Stage.SQL, START, END) == {"all": 2}
        assert f.deals_reaching(Stage.OPPORTUNITY, START, END) == {"all": 2}  # skipped: counts
        assert f.deals_reaching(Stage.DEMO, START, END) == {"all": 2}
        assert f.deals_reaching(Stage.WON, START, END) == {"all": 2}
        assert f.deals_reaching(Stage.WON, START, END, user="U2") == {}
        # gamma's first win (3 Nov) was reopened: only its final win counts
        assert f.deals_reaching(Stage.WON, at(11, 3), at(11, 3, 23)) == {}
        assert facts(s, OTHER).deals_reaching(Stage.WON, START, END) == {"all": 1}


def test_cohort_conversion(history):
    with history.read() as s:
        f = facts(s)
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, START, END) == {"all": (2, 0)}
        assert f.cohort_conversion(Stage.LEAD, "lost", START, END) == {"all": (2, 1)}
        assert f.cohort_conversion(Stage.LEAD, Stage.MQL, START, END) == {"all": (2, 1)}
        assert f.cohort_conversion(Stage.LEAD, Stage.WON, START, END, by="source") == {
            "events": (1, 0), "other": (1, 0)}
        assert f.cohort_conversion(Stage.SQL, Stage.WON, START, END, by="user") == {
            "U1": (2, 2)}
        assert f.cohort_conversion(Stage.SQL, Stage.WON, START, END, user="U2") == {}


def test_closed_deals_and_losses(history):
    with history.read() as s:
        f = facts(s)
        assert f.closed_deals(START, END) == {"all": (2, 2, 17000)}
        assert f.closed_deals(START, END, by="user") == {
            "U1": (2, 0, 17000), "U2": (0, 2, 0)}
        assert f.closed_deals(START, END, user="U1") == {"all": (2, 0, 17000)}
        assert f.closed_deals(at(11, 3), at(11, 3, 23)) == {"all": (0, 1, 0)}  # reopened win
        assert f.closed_deals(at(1, 1), at(2, 1)) == {}
        assert f.loss_breakdown(START, END) == ({"price": 1, "(none)": 1},
                                                {"Rival": 1, "(none)": 1})
        assert f.loss_breakdown(START, END, user="U1") == ({}, {})


def test_sales_cycle_and_stage_time(history):
    with history.read() as s:
        f = facts(s)
        # acme: 20 Oct 10:00 -> 4 Nov 12:00; gamma: 2 Nov 09:00 -> 5 Nov 10:00
        assert f.sales_cycle(START, END) == Distribution(
            n=2, median=783000.0, mean=783000.0, p90=1199160.0, total=1566000.0)
        assert f.sales_cycle(START, END, user="U2") == Distribution()
        day = 86400.0
        assert f.stage_time(Stage.LEAD, START, END) == Distribution(
            n=2, median=1.5 * day + 1800, mean=1.5 * day + 1800, p90=day + 0.9 * 90000,
            total=176400.0 + day)
        assert f.stage_time(Stage.SQL, START, END) == Distribution(
            n=2, median=day / 2, mean=day / 2, p90=0.9 * day, total=day)
        # skipped opportunity (acme) and filled stages (gamma): zero-length stays
        assert f.stage_time(Stage.OPPORTUNITY, START, END) == Distribution(
            n=2, median=0.0, mean=0.0, p90=0.0, total=0.0)
        assert f.stage_time(Stage.DEMO, START, END) == Distribution(
            n=2, median=day, mean=day, p90=day, total=2 * day)
        assert f.stage_time(Stage.DEMO, at(1, 1), at(2, 1)).n == 0


def test_open_deals(history):
    with history.read() as s:
        f = facts(s)
        eps = DealRow("eps", "eps", "U1", "opportunity", at(10, 1, 9), None)
        delta = DealRow("delta", "delta", "U2", "mql", at(11, 4, 8), None)
        assert f.open_deals() == [eps, delta]
        assert f.open_deals(stages=[Stage.MQL]) == [delta]
        assert f.open_deals(user="U2") == [delta]
        assert facts(s, OTHER).open_deals() == []


def test_accounts_maintained(history):
    with history.read() as s:
        rows = {a.key: a for a in s.execute(sa.select(Account).where(
            Account.workspace_id == WS)).scalars()}
        assert set(rows) == {"acme-co", "gamma", "old", "zed"}
        assert (rows["acme-co"].customer_since, rows["acme-co"].mrr_minor) == (at(11, 4, 12), 1200)
        assert (rows["gamma"].customer_since, rows["gamma"].churned_at) == (at(11, 5, 10), None)
        assert rows["gamma"].mrr_minor == 600
        assert (rows["old"].churned_at, rows["old"].churned_mrr_minor) == (at(11, 3, 12), 1500)
        assert rows["old"].mrr_minor == 0
        assert rows["zed"].churned_mrr_minor == 250
        assert (rows["acme-co"].name, rows["old"].name) == ("acme", "old")


def test_customers_and_mrr(history):
    with history.read() as s:
        f = facts(s)
        assert f.customers_at(START) == 2  # old, zed
        assert f.customers_at(END) == 3  # zed, acme-co, gamma
        assert f.customers_at(at(12, 1)) == 2
        assert f.churned_customers(START, END) == 1
        assert f.churned_customers(at(1, 1), at(2, 1)) == 0
        assert f.new_customers(START, END) == 2
        assert f.mrr_at(START) == 1800
        assert f.mrr_at(END) == 2100
        assert f.mrr_at(at(12, 1)) == 1850
        assert f.mrr_lost(START, END) == (1500, 100)
        assert f.mrr_lost(at(1, 1), at(2, 1)) == (0, 0)
        assert facts(s, OTHER).mrr_at(END) == 99
        assert facts(s, OTHER).customers_at(END) == 1


def test_win_after_churn_makes_a_customer_again(database):
    with database.write() as s:
        ws = ensure_workspace(session=s, workspace_id=WS, platform="slack", now=NOW)
        log(s, ws, "deal-won", at(1, 1), deal="a", mrr_minor=100)
        log(s, ws, "churned", at(2, 1), deal="a")
        log(s, ws, "deal-won", at(3, 1), deal="a2", account_key="a", mrr_minor=300)
    with database.read() as s:
        f = facts(s)
        assert [f.customers_at(at(m, 15)) for m in (1, 2, 3)] == [1, 1, 1]
        assert s.get(Account, (WS, "a")).churned_at is None
        # the churn was superseded by the later win, so its MRR is not subtracted
        assert f.mrr_at(at(3, 15)) == 400


def test_quotas(history):
    with history.read() as s:
        f = facts(s)
        nov = date(2026, 11, 1)  # quotas apply from the first day of the month they are set
        assert f.quotas() == [Quota("U1", "revenue", "monthly", 100_000, nov, NOW, "A"),
                              Quota("U1", "revenue", "quarterly", 300_000, nov, NOW, "A"),
                              Quota("U2", "demo-booked", "monthly", 5, nov, NOW, "A")]
        assert f.quotas("demo-booked") == [Quota("U2", "demo-booked", "monthly", 5, nov, NOW,
                                                 "A")]
        assert [q.target for q in list_quotas(session=s, workspace_id=OTHER)] == [1]
    with history.write() as s, pytest.raises(ValueError):
        set_quota(session=s, workspace_id=WS, user_id="U1", metric="revenue", cadence="weekly",
                  target=1, set_by="A", now=NOW)
