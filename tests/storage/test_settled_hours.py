"""The stage times' deals that counted before the last whole hour before now - HISTORY_SETTLE
are remembered with the settled months (storage/stage_durations.py `_read_plan`): a later
session over a period reaching into the present reads only the deals counted since that hour,
not the current month's histograms or its earlier deals. Any write that changes what was
remembered moves the history version (a backdated log in the current month, its undo), so the
answer follows it; a log now is counted at once; the next hour reads again. Every answer is
compared with a read that remembers nothing. On both databases; a fixed "now" for each read.

The sales cycle remembers whole settled months only: its current month is read as before (a
test below); a loss logged before a won deal's first stage event moves its start, and the
version (the last test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage import stage_durations
from storage.facts import SqlFacts, _median_of
from storage.models import Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.stage_durations import CYCLE, MEASURES, summaries
from storage.workspaces import ensure_user
from tests.storage.test_settled_histograms import (  # (workspace: a fixture)
    END,
    NOW,
    START,
    WS,
    _log,
    workspace,  # noqa: F401
)


def _read(database, monkeypatch, *, now: datetime = NOW, user: str | None = None
          ) -> tuple[dict, int, int]:
    """(the medians of [START, END) in a new session at `now`, statements on
    deal_duration_counts, histogram rows read)."""
    statements: list[str] = []
    rows = [0]

    def record(_conn, _cursor, statement, *_args) -> None:
        if "deal_duration_counts" in statement:
            statements.append(statement)

    readers = {name: getattr(stage_durations, name)
               for name in ("_histogram_rows", "_recent_rows")}  # (the deals since the hour)

    def counted(read):
        def counting(*args, **kwargs):
            found = read(*args, **kwargs)
            rows[0] += len(found)
            return found
        return counting

    sa.event.listen(database.engine, "before_cursor_execute", record)
    for name, read in readers.items():
        monkeypatch.setattr(stage_durations, name, counted(read))
    try:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS),
                             clock=lambda: now)
            medians = facts.median_stage_times(START, END, user=user)
    finally:
        for name, read in readers.items():
            monkeypatch.setattr(stage_durations, name, read)
        sa.event.remove(database.engine, "before_cursor_execute", record)
    return medians, len(statements), rows[0]


def _unremembered(database, user: str | None = None) -> dict:
    """The medians of [START, END) from the tables alone (nothing remembered)."""
    with database.read() as session:
        found = summaries(session.connection(), WS, MEASURES.values(), START, END,
                          user=user, tenths=(5,))
    return {stage: _median_of(found[m]) for stage, m in MEASURES.items()}


@pytest.fixture
def this_month(workspace):  # noqa: F811 (the fixture above)
    """Deals whose lead -> mql counted in November before 15:00 of NOW's day."""
    for i, (lead, mql) in enumerate([(datetime(2026, 11, 1, 9), datetime(2026, 11, 2, 9)),
                                     (datetime(2026, 11, 2, 8), datetime(2026, 11, 3, 11)),
                                     (datetime(2026, 10, 30), datetime(2026, 11, 3, 14))]):
        _log(workspace, "lead", f"nov-{i}", lead.replace(tzinfo=UTC))
        _log(workspace, "mql", f"nov-{i}", mql.replace(tzinfo=UTC))
    return workspace


def test_a_later_session_reads_only_the_deals_since_the_last_hour(this_month, monkeypatch):
    database = this_month
    first, statements, _rows = _read(database, monkeypatch)
    assert statements == 1  # August to October, once
    assert first == _unremembered(database)
    again, statements, rows = _read(database, monkeypatch)
    assert again == first
    # November's deals before 15:00 remembered too: nothing counted since then, no row read
    # (before: November's histogram or its deals, read every time)
    assert (statements, rows) == (0, 0)
    per_rep, statements, _rows = _read(database, monkeypatch, user="U1")
    assert per_rep == _unremembered(database, user="U1") and statements == 1
    assert _read(database, monkeypatch, user="U1")[1:] == (0, 0)


def test_a_log_now_is_counted_at_once(this_month, monkeypatch):
    database = this_month
    _read(database, monkeypatch)
    # within HISTORY_SETTLE: the version stays, the new stay is among the deals read anew
    _log(database, "lead", "deal-now", NOW - timedelta(minutes=2))
    _log(database, "mql", "deal-now", NOW)
    medians, statements, rows = _read(database, monkeypatch)
    assert (statements, rows) == (0, 1)  # one (measure, bucket) row: the new lead stay
    assert medians == _unremembered(database)


def test_a_backdated_change_before_the_hour_is_read_again(this_month, monkeypatch):
    database = this_month
    before, _statements, _rows = _read(database, monkeypatch)
    # A lead -> mql earlier today, before 15:00: older than HISTORY_SETTLE, so the version
    # moves and what was remembered is read again.
    _log(database, "lead", "deal-today", datetime(2026, 11, 3, 6, tzinfo=UTC))
    mql = _log(database, "mql", "deal-today", datetime(2026, 11, 3, 13, tzinfo=UTC))
    medians, statements, rows = _read(database, monkeypatch)
    assert statements == 1 and rows > 0
    assert medians == _unremembered(database) != before
    # Undone: the version moves again, and the answer is the one before.
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=mql,
                   voided_by="U1", now=NOW)
    medians, statements, _rows = _read(database, monkeypatch)
    assert statements == 1
    assert medians == _unremembered(database) == before


def test_the_next_hour_reads_again(this_month, monkeypatch):
    database = this_month
    _read(database, monkeypatch)
    _log(database, "lead", "deal-now", NOW - timedelta(minutes=20))
    _log(database, "mql", "deal-now", NOW - timedelta(minutes=10))
    later = NOW + timedelta(hours=1)  # 16:30: the deals before 16:00 remembered anew
    medians, _statements, rows = _read(database, monkeypatch, now=later)
    assert rows > 0  # the part before 16:00 read once
    assert medians == _unremembered(database)
    assert _read(database, monkeypatch, now=later)[1:] == (0, 0)


def test_a_write_whose_clock_was_read_before_the_readers_cannot_spoil_what_it_remembers(
        this_month, monkeypatch):
    """A write decides with its own clock, read before it commits, whether it changes the
    past (HISTORY_SETTLE). One that read its clock at 16:03 and commits after a reader read at
    16:06 changes a stay that ended at 15:59, four minutes before its clock: not the past, so
    the version stays. The reader must not have remembered 15:59 (a cut at 16:00 would have):
    what a reader remembers is older than REMEMBER_BEFORE, twice HISTORY_SETTLE."""
    database = this_month
    reader = datetime(2026, 11, 3, 16, 6, tzinfo=UTC)
    _read(database, monkeypatch, now=reader)  # remembers what has settled at 16:06
    clock = datetime(2026, 11, 3, 16, 3, tzinfo=UTC)  # the write's clock, read before 16:06
    for kind, at in (("lead", datetime(2026, 11, 3, 15, 58, 30)),
                     ("mql", datetime(2026, 11, 3, 15, 59))):
        with database.write() as session:
            record_event(session=session, workspace=session.get(Workspace, WS),
                         new=NewEvent(kind=kind, user_id="U1", logged_by="U1",
                                      occurred_at=at.replace(tzinfo=UTC), deal_key="deal-late",
                                      idempotency_key=f"late-{kind}"), now=clock)
    medians, _statements, _rows = _read(database, monkeypatch, now=reader)
    assert medians == _unremembered(database)


def test_the_sales_cycle_reads_its_current_month(this_month, monkeypatch):
    database = this_month
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS),
                         clock=lambda: NOW)
        first = facts.sales_cycle(START, END)
    plan = stage_durations._read_plan(START, END, None, (CYCLE,),
                                      facts._settled())
    kept, whole, ranges = plan
    assert kept == ((2026 * 12 + 7, 2026 * 12 + 10), [])  # August to October only
    assert ranges  # November's part read every time
    with database.read() as session:
        found = summaries(session.connection(), WS, (CYCLE,), START, END, user=None,
                          tenths=(5, 9))
    assert first.n == found[CYCLE].n


def test_a_close_logged_before_a_won_deals_first_event_moves_its_sales_cycle(
        workspace, monkeypatch):  # noqa: F811 (the fixture above)
    """A loss dated before a won deal's first stage event moves where its sales cycle starts
    (first_event_at) and nothing else of it: the version moves, and a process that remembered
    the settled months answers what the tables say (it raised KeyError: its remembered
    histogram counted a duration the deals no longer had)."""
    database = workspace
    _log(database, "lead", "cycle-1", datetime(2026, 9, 1, tzinfo=UTC))
    _log(database, "deal-won", "cycle-1", datetime(2026, 9, 20, tzinfo=UTC))

    def cycle() -> tuple[int, float]:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS),
                             clock=lambda: NOW)
            found = facts.sales_cycle(START, END)
        return found.n, found.median

    def from_the_tables() -> tuple[int, float]:
        with database.read() as session:
            found = summaries(session.connection(), WS, (CYCLE,), START, END, user=None,
                              tenths=(5,))
        return found[CYCLE].n, _median_of(found[CYCLE])

    assert cycle() == from_the_tables() == (1, 19 * 86400)
    _log(database, "deal-lost", "cycle-1", datetime(2026, 8, 15, tzinfo=UTC))
    assert cycle() == from_the_tables() == (1, 36 * 86400)



def test_every_percentile_with_many_deals_since_the_hour_equals_a_full_read(this_month):
    """The deals counted since the last hour are read as rows (storage/stage_durations.py
    `_recent_rows`) and merged with each bucket's remembered durations before it: every
    percentile (tenths 0..10) of every stage, for the team and a rep, equals a read that
    remembers nothing, the first time (the settled part read) and the next (remembered),
    with stays since the hour in buckets of their own and in the settled deals' buckets."""
    database = this_month
    with database.write() as session:
        ensure_user(session=session, workspace_id=WS, user_id="U2")
    for i, (lead_before, minutes) in enumerate([(timedelta(hours=1), 2), (timedelta(hours=5), 4),
                                                (timedelta(days=1), 7), (timedelta(days=2), 9),
                                                (timedelta(days=2, hours=3), 12),
                                                (timedelta(days=30), 15), (timedelta(0), 21)]):
        mql = datetime(2026, 11, 3, 15, minutes, tzinfo=UTC)  # since 15:00, before NOW
        _log(database, "lead", f"recent-{i}", mql - lead_before)
        _log(database, "mql", f"recent-{i}", mql)
        if i % 2:
            _log(database, "sql", f"recent-{i}", mql + timedelta(minutes=3))

    def read(user: str | None, settled: bool) -> dict:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS),
                             clock=lambda: NOW)
            return summaries(session.connection(), WS, MEASURES.values(), START, END,
                             user=user, tenths=range(11),
                             settled=facts._settled() if settled else None)

    for user in (None, "U1", "U2"):
        full = read(user, settled=False)
        assert read(user, settled=True) == full
        assert read(user, settled=True) == full  # remembered
    assert read(None, settled=False)[MEASURES["lead"]].n > 3
