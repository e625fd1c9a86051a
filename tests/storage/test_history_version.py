"""workspaces.history_version moves exactly when a write changes the deals of a past time, and
the medians of past windows that SqlFacts remembers across sessions never outlive it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from reports.events import Stage
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.reps import link_rep
from storage.workspaces import ensure_user, ensure_workspace

WS = "slack:THISTORY"
# A fixed "now", passed to every write and read: nothing here depends on when it runs.
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def workspace(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack")
        ensure_user(session=session, workspace_id=WS, user_id="U1")
    return database


def _log(database, kind: str, deal: str, at: datetime, *, user: str = "U1") -> int:
    with database.write() as session:
        ws = session.get(Workspace, WS)
        recorded = record_event(session=session, workspace=ws, new=NewEvent(
            kind=kind, user_id=user, logged_by=user, occurred_at=at, deal_key=deal,
            idempotency_key=str(uuid.uuid4())), now=NOW)
        return recorded.event.id


def _version(database) -> int:
    with database.read() as session:
        return session.get(Workspace, WS).history_version


def _medians(database, start: datetime, end: datetime, *, user: str | None = None):
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS), clock=lambda: NOW)
        return facts.median_stage_times(start, end, user=user)


def test_logging_now_keeps_the_version_and_backdating_moves_it(workspace):
    database = workspace
    before = _version(database)
    _log(database, "lead", "acme", NOW)
    _log(database, "mql", "acme", NOW + timedelta(seconds=5))
    assert _version(database) == before  # only the present changed

    _log(database, "lead", "globex", NOW - 20 * DAY)  # a backdated log
    moved = _version(database)
    assert moved != before

    # A stage event now on a deal with an old lead: only a new time, the old one stays.
    _log(database, "mql", "globex", NOW)
    assert _version(database) == moved


def test_undo_of_an_old_event_moves_it_and_of_a_new_one_does_not(workspace):
    database = workspace
    old = _log(database, "lead", "initech", NOW - 30 * DAY)
    new = _log(database, "mql", "initech", NOW)
    before = _version(database)
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=new,
                   voided_by="U1", now=NOW)
    assert _version(database) == before
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=old,
                   voided_by="U1", now=NOW)  # the deal goes away with its only event
    assert _version(database) != before


def test_linking_a_rep_with_past_deals_moves_it(workspace):
    database = workspace
    with database.write() as session:
        ensure_user(session=session, workspace_id=WS, user_id="rep:jane-doe")
    _log(database, "lead", "hooli", NOW - 10 * DAY, user="rep:jane-doe")
    before = _version(database)
    with database.write() as session:
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U1",
                 now=NOW)
    assert _version(database) != before


def test_remembered_medians_of_a_past_window_follow_a_backdated_change(workspace):
    database = workspace
    # lead -> mql: 2 days (acme), 4 days (globex); the window ends at midnight, 1 day ago.
    end = datetime.combine((NOW - DAY).date(), datetime.min.time(), tzinfo=UTC)
    start = end - 90 * DAY
    _log(database, "lead", "acme", end - 10 * DAY)
    _log(database, "mql", "acme", end - 8 * DAY)
    _log(database, "lead", "globex", end - 10 * DAY)
    _log(database, "mql", "globex", end - 6 * DAY)
    first = _medians(database, start, end)
    assert first[Stage.LEAD] == 3 * 86_400
    assert _medians(database, start, end) == first  # remembered, and the same

    # Logging now touches nothing before `end`: still the same, and right.
    _log(database, "lead", "umbrella", NOW)
    assert _medians(database, start, end)[Stage.LEAD] == 3 * 86_400

    # A backdated mql for a third deal inside the window: the remembered result is stale.
    _log(database, "lead", "initech", end - 30 * DAY)
    _log(database, "mql", "initech", end - 20 * DAY)  # 10 days
    assert _medians(database, start, end)[Stage.LEAD] == 4 * 86_400  # [2, 4, 10]
    # Per rep, too: the same windows for U1 (the owner of every deal).
    assert _medians(database, start, end, user="U1")[Stage.LEAD] == 4 * 86_400


def test_windows_reaching_into_the_present_are_not_remembered(workspace):
    database = workspace
    _log(database, "lead", "acme", NOW - 2 * DAY)
    start, end = NOW - 90 * DAY, NOW + DAY  # still open: logging now changes it
    assert _medians(database, start, end)[Stage.LEAD] is None
    _log(database, "mql", "acme", NOW)  # no version move (the present)
    assert _medians(database, start, end)[Stage.LEAD] == pytest.approx(2 * 86_400, abs=1)
