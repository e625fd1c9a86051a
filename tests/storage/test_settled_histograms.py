"""The duration histograms of whole months that ended before the history settled are read once
per process and history_version (storage/stage_durations.py `Settled`): a later session's
stage times over a period reaching into the present read only what can still change, and a
write that changes a settled month (a backdated log, an undo of an old event) moves the
version, so the answer follows it. Answers are compared with a read that remembers nothing.
On both databases; a fixed "now" for every write and read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from reports.events import Stage
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.stage_durations import MEASURES, summaries
from storage.workspaces import ensure_user, ensure_workspace

WS = "slack:TSETTLED"
NOW = datetime(2026, 11, 3, 15, 30, tzinfo=UTC)  # November covered 3 days: read as deals
START = datetime(2026, 8, 1, tzinfo=UTC)  # August to October: whole months, settled
END = datetime(2026, 11, 4, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def workspace(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack")
        ensure_user(session=session, workspace_id=WS, user_id="U1")
    for i, (lead, mql) in enumerate([(10, 8), (40, 35), (70, 60), (5, 1)]):
        _log(database, "lead", f"deal-{i}", NOW - lead * DAY)
        _log(database, "mql", f"deal-{i}", NOW - mql * DAY)
    return database


def _log(database, kind: str, deal: str, at: datetime) -> int:
    with database.write() as session:
        recorded = record_event(session=session, workspace=session.get(Workspace, WS),
                                new=NewEvent(kind=kind, user_id="U1", logged_by="U1",
                                             occurred_at=at, deal_key=deal,
                                             idempotency_key=str(uuid.uuid4())), now=NOW)
        return recorded.event.id


def _histogram_reads(database, user: str | None = None) -> tuple[dict, int]:
    """(the medians of [START, END) in a new session, statements on deal_duration_counts)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "deal_duration_counts" in statement:
            seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS),
                             clock=lambda: NOW)
            medians = facts.median_stage_times(START, END, user=user)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    return medians, len(seen)


def _unremembered(database, user: str | None = None) -> dict:
    """The lead stage's summary over [START, END), from the tables alone."""
    with database.read() as session:
        found = summaries(session.connection(), WS, MEASURES.values(), START, END,
                          user=user, tenths=(5,))
    return found[MEASURES[Stage.LEAD]]


def test_a_later_session_reads_no_histogram_of_a_settled_month(workspace):
    database = workspace
    first, reads = _histogram_reads(database)
    assert reads == 1
    again, reads = _histogram_reads(database)
    assert (again, reads) == (first, 0)  # August to October remembered; November: deals
    per_rep, reads = _histogram_reads(database, user="U1")
    assert (per_rep, reads) == (first, 1)  # another owner's histograms: read once
    assert _histogram_reads(database, user="U1") == (first, 0)
    assert _unremembered(database).n == 4
    assert first[Stage.LEAD] == pytest.approx(4.5 * 86_400, abs=1)  # [2, 4, 5, 10] days


def test_a_change_to_a_settled_month_is_read_again(workspace):
    database = workspace
    _histogram_reads(database)
    # Logging now changes only November (read as deals): nothing read again, and counted.
    _log(database, "lead", "deal-now", NOW - timedelta(minutes=2))
    _log(database, "mql", "deal-now", NOW)
    medians, reads = _histogram_reads(database)
    assert reads == 0
    assert medians[Stage.LEAD] == pytest.approx(4 * 86_400, abs=1)  # [2 minutes, 2, 4, 5, 10 days]

    # A backdated lead -> mql in September: the version moves, the histograms are read again.
    _log(database, "lead", "deal-old", datetime(2026, 9, 1, tzinfo=UTC))
    mql = _log(database, "mql", "deal-old", datetime(2026, 9, 21, tzinfo=UTC))
    medians, reads = _histogram_reads(database)
    assert reads == 1
    assert medians[Stage.LEAD] == pytest.approx(4.5 * 86_400, abs=1)  # + 20 days
    assert _unremembered(database).n == 6

    # Undone: the version moves again, and the answer is the one before the backdated log.
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=mql,
                   voided_by="U1", now=NOW)
    medians, reads = _histogram_reads(database)
    assert reads == 1
    assert medians[Stage.LEAD] == pytest.approx(4 * 86_400, abs=1)
    assert _unremembered(database).n == 5
