"""The deal facts read from deal_counts (storage/deal_counts.py), on SQLite and PostgreSQL:
deals reaching a stage, cohorts, closed deals, wins without an amount, losses, the funnel's
counts and the won deals' MRR in `mrr_at` equal a direct count over the deals for periods in
several zones (half- and quarter-hour offsets, DST changes, local and UTC month edges), in
total, per rep and per source; a long period is one statement per fact on index ranges; a
year costs the same with ten times the deals in its whole months.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from reports.events import STAGE_ORDER, Stage
from storage.facts import SqlFacts
from storage.models import Deal, Workspace
from tests.storage.deal_tables import sqlite_instructions
from tests.storage.test_deal_counts import WS, _assert_in_step, _deal, _setup

STAGES = ("lead", "mql", "sql", "opportunity", "demo")
DAY = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# The facts equal a count over the deals
# ---------------------------------------------------------------------------------------------

OWNERS = ("U1", "U2", "rep:jane-doe", None)
SOURCES = (None, "web", "referral", "other", "")
REASONS = (None, "price", "timing")
COMPETITORS = (None, "rival", "other-co")


def _edge_instants(zones: tuple[str, ...]) -> list[datetime]:
    """UTC and local month starts, DST changes, a second either side."""
    instants = []
    for month in range(1, 13):
        for year in (2025, 2026):
            instants.append(datetime(year, month, 1, tzinfo=UTC))
            for tz in zones:
                instants.append(datetime(year, month, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC))
    for y, m, d in ((2025, 3, 30), (2025, 10, 26), (2025, 3, 9), (2025, 11, 2)):
        for tz in zones:
            instants.append(datetime(y, m, d, tzinfo=ZoneInfo(tz)).astimezone(UTC))
    return [at + timedelta(seconds=s) for at in instants for s in (-1, 0, 1)]


def _history(seed: int, n: int, edges: list[datetime]) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2024, 11, 1, tzinfo=UTC)

    def instant() -> datetime:
        if rng.random() < 0.3:
            return rng.choice(edges)
        return start + timedelta(seconds=rng.randrange(800 * 86_400))

    deals = []
    for i in range(n):
        times = sorted(instant() for _ in range(6))
        reached = rng.randint(0, 5)
        row = _deal(f"d{i}", owner=rng.choice(OWNERS), source=rng.choice(SOURCES))
        for j, stage in enumerate(STAGES[:reached]):
            if j == 0 or rng.random() < 0.85:  # some stages skipped
                row[f"{stage}_at"] = times[j]
        outcome = rng.choice(("open", "open", "won", "lost"))
        if outcome != "open":
            row.update(outcome=outcome, stage=outcome, closed_at=times[5],
                       amount_minor=rng.choice((None, rng.randint(1, 90_000))),
                       mrr_minor=rng.choice((None, rng.randint(1, 900))))
            row[f"{outcome}_at"] = times[5]
            if outcome == "lost":
                row.update(reason=rng.choice(REASONS), competitor=rng.choice(COMPETITORS))
        deals.append(row)
    return deals


def _at(deal: dict, stage: Stage) -> datetime | None:
    if stage is Stage.WON:
        return deal["closed_at"] if deal["outcome"] == "won" else None
    return deal[f"{stage.value}_at"]


def _key(deal: dict, by: str | None) -> str:
    if by == "user":
        return deal["owner_id"] or "(none)"
    if by == "source":
        return deal["source"] or "other"
    return "all"


def _reached(deal: dict, to: Stage | str) -> bool:
    if to == "lost":
        return deal["outcome"] == "lost"
    if Stage(to) is Stage.WON:
        return deal["outcome"] == "won"
    return deal[f"{Stage(to).value}_at"] is not None


def _in(deals, stage, start, end, user):
    return [d for d in deals if (at := _at(d, stage)) is not None and start <= at < end
            and (user is None or d["owner_id"] == user)]


def _cohort_truth(deals, stage, to, start, end, user, by) -> dict[str, tuple[int, int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in _in(deals, stage, start, end, user):
        found[_key(d, by)][0] += 1
        found[_key(d, by)][1] += _reached(d, to)
    return {k: tuple(v) for k, v in found.items()}


def _closed_truth(deals, start, end, user, by) -> dict[str, tuple[int, int, int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d in deals:
        if d["outcome"] in ("won", "lost") and start <= d["closed_at"] < end and (
                user is None or d["owner_id"] == user):
            row = found[_key(d, by)]
            row[0 if d["outcome"] == "won" else 1] += 1
            row[2] += (d["amount_minor"] or 0) if d["outcome"] == "won" else 0
    return {k: tuple(v) for k, v in found.items()}


def _loss_truth(deals, start, end, user) -> tuple[dict[str, int], dict[str, int]]:
    reasons: dict[str, int] = defaultdict(int)
    competitors: dict[str, int] = defaultdict(int)
    for d in deals:
        if d["outcome"] == "lost" and start <= d["closed_at"] < end and (
                user is None or d["owner_id"] == user):
            reasons[d["reason"] or "(none)"] += 1
            competitors[d["competitor"] or "(none)"] += 1
    return dict(reasons), dict(competitors)


def _windows(tz: str) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(tz)

    def local(y, m, d, h=0, minute=0):
        return datetime(y, m, d, h, minute, tzinfo=zone).astimezone(UTC)

    rng = random.Random(tz)
    windows = [
        (local(2020, 1, 1), local(2027, 1, 1)),  # the whole history
        (local(2025, 1, 1), local(2026, 1, 1)),  # a calendar year
        (local(2025, 4, 1), local(2026, 4, 1)),  # a fiscal year
        (local(2025, 3, 30), local(2025, 10, 26)),  # DST change days at both ends (Europe)
        (local(2025, 3, 9), local(2025, 11, 2)),  # DST change days at both ends (America)
        (local(2025, 1, 31, 23, 30), local(2025, 4, 1, 0, 30)),  # off midnight, month edges
        (local(2025, 2, 1), local(2025, 3, 1)),  # exactly one local month
        (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)),  # UTC months
        # a second inside / outside whole UTC months at both ends
        (datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC), datetime(2025, 4, 30, 23, 59, 59, tzinfo=UTC)),
        (datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC), datetime(2025, 5, 1, 0, 0, 1, tzinfo=UTC)),
        (local(2025, 2, 3), local(2025, 2, 27)),  # inside one month
        (local(2025, 5, 1, 6), local(2025, 5, 1, 18)),  # inside one day
        (local(2026, 10, 1), local(2027, 1, 1)),  # a quarter
    ]
    for _ in range(4):
        a = local(2024, 11, 1) + timedelta(minutes=rng.randrange(800 * 24 * 60))
        windows.append((a, a + timedelta(minutes=rng.randrange(1, 500 * 24 * 60))))
    return windows


ZONES = ("Europe/Oslo", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")


def test_deal_facts_equal_a_count_over_the_deals(database):
    _setup(database)
    deals = _history(5, 500, _edge_instants(ZONES))
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), deals)
        # and some written before they changed (the table has rows that went back to 0)
        session.execute(sa.update(Deal.__table__).where(Deal.key.in_(["d1", "d2", "d3"]))
                        .values(owner_id="U2"))
    for d in deals:
        if d["key"] in ("d1", "d2", "d3"):
            d["owner_id"] = "U2"
    _assert_in_step(database, "history")
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        checked = 0
        for tz in ZONES:
            for start, end in _windows(tz):
                for user in (None, "U1"):
                    where = (tz, start, end, user)
                    funnel = {stage: (n, converted) for stage, (n, converted) in (
                        (s, _cohort_truth(deals, s, STAGE_ORDER[min(i + 1, 5)], start, end,
                                          user, None).get("all", (0, 0)))
                        for i, s in enumerate(STAGE_ORDER))}
                    funnel[Stage.WON] = (funnel[Stage.WON][0], 0)
                    assert facts.funnel_counts(start, end, user=user) == funnel, where
                    for by in (None, "user", "source"):
                        for stage in STAGE_ORDER:
                            assert facts.deals_reaching(stage, start, end, user=user, by=by) \
                                == {k: n for k, (n, _c) in _cohort_truth(
                                    deals, stage, stage, start, end, user, by).items()}, where
                        for stage, to in ((Stage.LEAD, Stage.WON), (Stage.LEAD, "lost"),
                                          (Stage.MQL, Stage.SQL), (Stage.SQL, Stage.LEAD),
                                          (Stage.DEMO, Stage.WON), (Stage.WON, Stage.DEMO)):
                            assert facts.cohort_conversion(stage, to, start, end, user=user,
                                                           by=by) == _cohort_truth(
                                deals, stage, to, start, end, user, by), (where, stage, to)
                    for by in (None, "user"):
                        assert facts.closed_deals(start, end, user=user, by=by) == \
                            _closed_truth(deals, start, end, user, by), where
                    assert facts.wins_without_amount(start, end, user=user) == sum(
                        1 for d in _in(deals, Stage.WON, start, end, user)
                        if d["amount_minor"] is None), where
                    assert facts.loss_breakdown(start, end, user=user) == _loss_truth(
                        deals, start, end, user), where
                    checked += 1
                for instant in (start, end):  # no events, no accounts: the won deals' MRR
                    assert facts.mrr_at(instant) == sum(
                        d["mrr_minor"] or 0 for d in deals
                        if d["outcome"] == "won" and d["closed_at"] < instant), instant
        assert checked == 2 * sum(len(_windows(tz)) for tz in ZONES)
        everything = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
        assert facts.deals_reaching(Stage.LEAD, *everything)["all"] == sum(
            1 for d in deals if d["lead_at"])


def test_a_long_period_reads_a_key_range_of_months_and_index_ranges_of_deals_on_sqlite(
        database):
    """One statement per fact: deal_counts by its primary key (workspace, milestone, month
    range), the edge months of deals by their stage or close index (a timestamp range)."""
    from tests.storage.query_plans import _captured, _plans

    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _setup(database)
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__),
                        _history(6, 60, _edge_instants(("Asia/Kolkata",))))
    year = (datetime(2025, 1, 15, 18, 30, tzinfo=UTC), datetime(2026, 1, 9, 18, 30, tzinfo=UTC))
    calls = [lambda f: f.funnel_counts(*year), lambda f: f.funnel_counts(*year, user="U1"),
             lambda f: f.deals_reaching(Stage.MQL, *year, by="user"),
             lambda f: f.cohort_conversion(Stage.LEAD, Stage.WON, *year, by="source"),
             lambda f: f.closed_deals(*year, by="user"), lambda f: f.loss_breakdown(*year),
             lambda f: f.wins_without_amount(*year, user="U2")]

    def run() -> None:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            for call in calls:
                call(facts)

    statements = _captured(database, run)
    assert len(statements) == len(calls)
    plan = _plans(database, statements, "deal counts").splitlines()
    months = [line for line in plan if "deal_counts" in line]
    deals = [line for line in plan if " deals " in f"{line} "]
    assert months and deals
    for line in months:
        assert line.startswith("SEARCH deal_counts USING PRIMARY KEY (workspace_id=? AND "
                               "milestone=? AND month>? AND month<?)"), line
    for line in deals:
        assert re.fullmatch(r"SEARCH deals USING (COVERING )?INDEX ix_deals_(\w+) "
                            r"\(workspace_id=\? AND (\w+)_at>\? AND \2_at<\?\)", line), line




def _middle_deals(prefix: str, count: int) -> list[dict]:
    """`count` deals in the whole months of 2025 from February to November, every month with
    each owner (and source) open, won and lost, so that more of them add to the same
    deal_counts rows."""
    deals = []
    for i in range(count):
        at = datetime(2025, 2 + i % 10, 1 + i // 10 % 27, tzinfo=UTC)
        mine = i // 10 % 2 == 0
        outcome = ("open", "won", "lost")[i // 20 % 3]
        row = _deal(f"{prefix}-{i}", owner="U1" if mine else "U2",
                    source="web" if mine else None, lead_at=at,
                    mql_at=None if mine else at + DAY)
        if outcome != "open":
            row.update(outcome=outcome, stage=outcome, closed_at=at + 2 * DAY,
                       amount_minor=100 * i, reason="price" if outcome == "lost" else None)
        deals.append(row)
    return deals


def test_a_year_costs_the_same_with_ten_times_the_deals_in_its_whole_months_on_sqlite(
        database):
    if database.dialect != "sqlite":
        pytest.skip("the virtual machine's instruction count is SQLite's")
    _setup(database)
    edges = [_deal(f"edge-{i}", lead_at=at, outcome="won", stage="won", closed_at=at)
             for i, at in enumerate((datetime(2025, 1, 20, tzinfo=UTC),
                                     datetime(2025, 12, 10, tzinfo=UTC)))]
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), edges + _middle_deals("few", 60))
    year = (datetime(2025, 1, 15, 18, 30, tzinfo=UTC), datetime(2025, 12, 15, 18, 30, tzinfo=UTC))

    def counts(facts):
        return (facts.funnel_counts(*year), facts.closed_deals(*year, by="user"),
                facts.loss_breakdown(*year),
                facts.cohort_conversion(Stage.LEAD, Stage.WON, *year, by="source"))

    before, (funnel, closed, losses, cohorts) = sqlite_instructions(database, WS, counts)
    assert funnel[Stage.LEAD] == (62, 30) and losses == ({"price": 20}, {"(none)": 20})
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), _middle_deals("many", 600))
    after, (funnel, closed, losses, cohorts) = sqlite_instructions(database, WS, counts)
    assert funnel[Stage.LEAD] == (662, 330) and losses == ({"price": 220}, {"(none)": 220})
    assert closed["U1"][0] + closed["U2"][0] == 2 + 220
    assert cohorts["web"] == (330, 110)
    # 600 more deals; counting them one by one took ~10 instructions each per statement.
    assert after <= before * 1.1, (before, after)
