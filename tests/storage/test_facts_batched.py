"""SqlFacts' batched methods (the funnel's and the stalled deals' few round trips) return exactly
what the single methods they stand for return (their definitions in reports/kpis/facts.py), on
a generated history, for the team and for each rep, over several windows, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from reports.events import STAGE_ORDER, Stage
from reports.kpis.facts import Facts
from sampledata import seed_workspace
from storage.facts import SqlFacts
from storage.models import Deal, Workspace

WS = "slack:TBATCH"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WINDOWS = [
    (datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC)),  # quarter
    (NOW - timedelta(days=90), NOW),  # the stalled thresholds' trailing window
    (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)),  # one day
    (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)),  # before anything
]


@pytest.fixture
def history(database):
    seed_workspace(database=database, workspace_id=WS, target_events=4_000, end=NOW, seed=5,
                   timezone="Europe/Oslo")
    with database.read() as session:
        owners = sorted(session.execute(sa.select(Deal.owner_id).where(
            Deal.workspace_id == WS, Deal.owner_id.is_not(None)).distinct()).scalars())
    return database, [None, *owners[:3]]


def _facts(session, now: datetime | None = None) -> SqlFacts:
    return SqlFacts(session=session, workspace=session.get(Workspace, WS),
                    clock=None if now is None else lambda: now)


def test_funnel_counts_and_median_stage_times_equal_the_single_calls(history):
    database, users = history
    with database.read() as session:
        facts = _facts(session)
        nonempty = 0
        for start, end in WINDOWS:
            for user in users:
                # Facts' own definitions: the single methods, one call per stage.
                assert facts.funnel_counts(start, end, user=user) == \
                    Facts.funnel_counts(facts, start, end, user=user), (start, user)
                medians = facts.median_stage_times(start, end, user=user)
                assert list(medians) == list(STAGE_ORDER[:-1])
                assert medians == Facts.median_stage_times(facts, start, end, user=user), \
                    (start, user)
                nonempty += sum(1 for m in medians.values() if m is not None)
        assert nonempty > 20  # the windows hold real distributions


def _statements_of(database, call, now: datetime | None = None) -> list[str]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with database.read() as session:
        facts = _facts(session, now)
        sa.event.listen(database.engine, "before_cursor_execute", record)
        try:
            call(facts)
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", record)
    return statements


def test_median_stage_times_are_remembered_within_a_session(history):
    database, _users = history
    window = WINDOWS[0]  # reaches past now: remembered by the session only

    def twice(facts) -> None:
        first = facts.median_stage_times(*window)
        first[Stage.LEAD] = None  # a copy: the caller cannot spoil the memo
        assert facts.median_stage_times(*window)[Stage.LEAD] is not None

    # The workspace's history_version; the part settled at NOW (the deals counted before its
    # last whole hour less HISTORY_SETTLE: October's histograms and November's deals until
    # then, remembered by the process, storage/stage_durations.py `_read_plan`) and the
    # deals counted since, whose rows give their histogram and their values at once; the
    # values at the middle ranks of the settled part (remembered). (Before session 13: the
    # deals since the hour as a histogram, then their values at the ranks, 5 and 3.)
    assert len(_statements_of(database, twice, NOW)) == 4
    # A new session computes it again, but for the settled part: the version, the deals since.
    assert len(_statements_of(database, twice, NOW)) == 2


def test_medians_of_a_past_window_are_remembered_across_sessions(history):
    database, _users = history
    start, end = WINDOWS[1][0] - timedelta(days=1), WINDOWS[1][1]  # ended before now
    results = []
    first = _statements_of(database, lambda f: results.append(f.median_stage_times(start, end)))
    again = _statements_of(database, lambda f: results.append(f.median_stage_times(start, end)))
    assert len(first) == 3  # the workspace's history_version, then the medians (2)
    assert len(again) == 1 and "history_version" in again[0]  # the version alone
    assert results[0] == results[1] and results[0][Stage.LEAD] is not None


def test_open_deal_counts_and_idle_deals_equal_the_single_calls(history):
    database, users = history
    stages = [s for s in STAGE_ORDER if s is not Stage.WON]
    with database.read() as session:
        facts = _facts(session)
        for days in (0, 7, 20, 60, 400):
            idle_before = {stage: NOW - timedelta(days=days + 3 * i)
                           for i, stage in enumerate(stages)}
            for user in users:
                counts = facts.open_deal_counts(user=user, idle_before=idle_before)
                assert counts == Facts.open_deal_counts(facts, user=user,
                                                        idle_before=idle_before)
                for stage in stages:
                    n, idle = counts.get(stage.value, (0, 0))
                    assert n == facts.count_open_deals(user=user, stages=(stage,))
                    assert idle == facts.count_open_deals(user=user, stages=(stage,),
                                                          idle_before=idle_before[stage])
                assert sum(n for n, _ in counts.values()) == facts.count_open_deals(user=user)
                for limit in (1, 20):
                    assert facts.idle_deals(idle_before, user=user, limit=limit) == \
                        Facts.idle_deals(facts, idle_before, user=user, limit=limit)
            reversed_order = dict(reversed(idle_before.items()))
            assert facts.idle_deals(reversed_order, limit=20) == \
                Facts.idle_deals(facts, reversed_order, limit=20)
        assert facts.open_deal_counts() == {
            stage: (n, 0) for stage, (n, _) in facts.open_deal_counts(
                idle_before={Stage.LEAD: NOW - timedelta(days=10_000)}).items()}
        assert facts.idle_deals({}, limit=5) == []
        # the limit caps the list (generated histories keep a few dozen leads open at most)
        leads_open = facts.count_open_deals(stages=(Stage.LEAD,))
        assert leads_open > 5
        assert len(facts.idle_deals({Stage.LEAD: NOW}, limit=5)) == 5
        assert len(facts.idle_deals({Stage.LEAD: NOW}, limit=20)) == min(20, leads_open)


def test_the_funnel_reads_covering_indexes_on_sqlite(history):
    """Counts and cohorts come from the stage indexes alone (0005), median stage times from
    the histograms (a quarter: its months, ix_deal_duration_counts_month, 0019) and the
    deal_durations indexes alone
    (0016), the stalled counts from open_deal_stages (a few rows per rep) and
    ix_deals_open_stage ranges of the recent deals; no statement scans a table."""
    from tests.storage.query_plans import _captured, _plans

    database, _users = history
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    idle_before = {stage: NOW - timedelta(days=7) for stage in STAGE_ORDER[:-1]}

    def run() -> None:
        with database.read() as session:
            facts = _facts(session)
            facts.funnel_counts(*WINDOWS[0])
            facts.median_stage_times(*WINDOWS[0])
            facts.open_deal_counts(idle_before=idle_before)
            facts.idle_deals(idle_before, limit=20)

    text = _plans(database, _captured(database, run), "funnel")
    # (the values at the middle ranks: each bucket's deals of the settled part once; the
    # deals since the last hour by exit instant, storage/stage_durations.py `_recent_rows`)
    for index in ("ix_deals_lead", "ix_deals_mql", "ix_deals_sql", "ix_deals_opportunity",
                  "ix_deals_demo", "ix_deals_closed", "ix_deals_open_stage",
                  "ix_deal_durations_exit"):
        assert f"COVERING INDEX {index} " in text, f"{index} does not cover:\n{text}"
    # a quarter: its months' histograms (the counters stay out of the index: cheap updates)
    assert "USING INDEX ix_deal_duration_counts_month " in text, text
    uncovered = [line for line in text.splitlines()
                 if "USING INDEX" in line and "ix_deals_open_stage" not in line
                 and "USING INTEGER PRIMARY KEY" not in line
                 and "SEARCH open_deal_stages" not in line
                 and "SEARCH deal_duration_counts USING INDEX sqlite_autoindex" not in line
                 and "USING INDEX ix_deal_duration_counts_month " not in line]
    assert not uncovered, text


def test_years_of_stage_time_histograms_read_the_primary_key_on_sqlite(history):
    """Over more than FEW_MONTHS months the histograms are read through the primary key, in
    bucket order: ix_deal_duration_counts_month (0019) holds no counters, so through it every
    row of every month is a lookup in the table (at 5M events 2020..2027 took 21 ms a window
    that way, and SQLite chose it without statistics on it)."""
    from storage.stage_durations import FEW_MONTHS
    from tests.storage.query_plans import _captured, _plans

    database, _users = history
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    years = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert (years[1].year - years[0].year) * 12 > FEW_MONTHS
    with database.engine.begin() as connection:  # statistics, as `PRAGMA optimize` keeps them
        connection.exec_driver_sql("ANALYZE")

    def run() -> None:
        with database.read() as session:
            facts = _facts(session, NOW)
            facts.median_stage_times(*years)
            facts.stage_time(Stage.LEAD, *years)

    # The settled months up to NOW's are read as years (the month an expression); NOW's month
    # and December, a few months, through the month index.
    years_reads = [(q, p) for q, p in _captured(database, run)
                   if "deal_duration_counts.month +" in q]
    text = _plans(database, years_reads, "years of stage times")
    histogram_reads = [line for line in text.splitlines() if "deal_duration_counts" in line]
    assert histogram_reads, text
    assert not [line for line in histogram_reads if "ix_deal_duration_counts_month" in line], text


def test_years_of_stage_time_histograms_compare_the_month_itself_on_postgres(history):
    """PostgreSQL is not steered as SQLite is: with `month + 0` it expected 40 of the 7,700
    histogram rows of 2020..2027 at 1M events and sorted them; on the month column its estimate
    is right and it sums them in a hash table (5.4 -> 3.5 ms a window)."""
    from tests.storage.query_plans import _captured

    database, _users = history
    if database.dialect != "postgresql":
        pytest.skip("SQLite reads the key in bucket order (the test above)")
    years = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))

    def run() -> None:
        with database.read() as session:
            facts = _facts(session)
            facts.median_stage_times(*years)
            facts.stage_time(Stage.LEAD, *years)

    histogram_reads = [" ".join(q.split()) for q, _p in _captured(database, run)
                       if "FROM deal_duration_counts" in q]
    assert histogram_reads
    for statement in histogram_reads:
        assert "deal_duration_counts.month >= " in statement, statement
        assert "deal_duration_counts.month +" not in statement, statement


def test_funnel_counts_read_the_lead_to_won_cohort_and_the_closed_deals_in_one_statement(
        history):
    """The funnel's counts, its lead→won cohort and its won/lost deals come from one statement;
    each of the two later calls gets exactly what its own statement would have answered."""
    from storage import deal_counts

    database, users = history
    answered = 0
    for start, end in WINDOWS:
        for user in users:
            with database.read() as session:
                expected = (deal_counts.cohort_conversion(session, WS, Stage.LEAD, Stage.WON,
                                                          start, end, user=user),
                            deal_counts.closed_deals(session, WS, start, end, user=user))
            got = []

            def funnel(facts, start=start, end=end, user=user, got=got) -> None:
                facts.funnel_counts(start, end, user=user)
                got.append((facts.cohort_conversion(Stage.LEAD, Stage.WON, start, end,
                                                    user=user),
                            facts.closed_deals(start, end, user=user)))
                # asked again (or another way), they are read again
                got.append((facts.cohort_conversion(Stage.LEAD, "won", start, end, user=user),
                            facts.closed_deals(start, end, user=user)))

            statements = _statements_of(database, funnel)
            assert got == [expected, expected], (start, user)
            assert len(statements) == 3 and " AS part" in statements[0]  # the counts' one
            answered += bool(expected[0]) and bool(expected[1])
    assert answered > 4  # windows with leads and closed deals


def test_idle_deals_keep_the_deals_tied_with_the_last_one_listed(history):
    """A stage's `limit` longest idle plus every deal idle exactly as long as the last of them
    (imported histories share timestamps), so a shorter list (the funnel names five) is the
    start of the longer one whatever breaks a tie; Facts' definition agrees."""
    from reports.kpis.context import Ctx
    from reports.kpis.funnel import stalled
    from reports.periods import parse_period

    database, _users = history
    with database.write() as session:
        keys = session.execute(sa.select(Deal.key).where(
            Deal.workspace_id == WS, Deal.outcome == "open", Deal.stage == "lead")
            .order_by(Deal.key).limit(7)).scalars().all()
        assert len(keys) == 7
        session.execute(sa.update(Deal).where(Deal.workspace_id == WS, Deal.key.in_(keys))
                        .values(stage_changed_at=datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)))
    idle_before = {stage: NOW - timedelta(days=7) for stage in STAGE_ORDER[:-1]}
    with database.read() as session:
        facts = _facts(session)
        for limit in (1, 3, 7, 8):
            listed = facts.idle_deals(idle_before, limit=limit)
            assert listed == Facts.idle_deals(facts, idle_before, limit=limit)
            leads = [row.key for row in listed if row.stage == "lead"]
            assert sorted(leads[:7]) == sorted(keys), limit  # all tied, at any limit
        period = parse_period("this-quarter", now=NOW, tz="Europe/Oslo")
        ctx = Ctx(facts=facts, period=period, now=NOW)
        everything = stalled(ctx, listed=10_000).rows
        for listed in (1, 3, 5, 6, 20):
            assert stalled(ctx, listed=listed).rows == everything[:listed], listed
