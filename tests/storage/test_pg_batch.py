"""PostgreSQL: statements read ahead in one round trip (storage/pg_batch.py) are handed only to
the same statement with the same values, once, in the same transaction; and the funnel that
reads ahead follows every write: a backdated log into a settled month, and its undo, each
change the answer, which equals the answer of a read that reads nothing ahead. Counted and
compared, never timed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import CommandRequest
from storage import pg_batch
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.users import display_names, display_names_request
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.statements import executed

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

WS = "slack:TBATCH"
OTHER = "slack:TBATCH2"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def people(database):
    with database.write() as session:
        for workspace, name in ((WS, "Ann"), (OTHER, "Olu")):
            ensure_workspace(session=session, workspace_id=workspace, platform="slack", now=NOW)
            ensure_user(session=session, workspace_id=workspace, user_id="U1",
                        display_name=name, now=NOW)
    return database


def _rename(database, name: str) -> None:
    with database.write() as session:
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name=name, now=NOW)


def test_rows_read_ahead_go_to_their_own_statement_once_in_their_own_transaction(people):
    database = people
    with database.read() as session:
        connection = session.connection()
        pg_batch.read_ahead(connection, [display_names_request(WS)])
        _rename(database, "Bea")  # committed meanwhile: this read's snapshot is older
        with executed(database.engine) as seen:
            assert display_names(session=session, workspace_id=OTHER) == {"U1": "Olu"}
            assert display_names(session=session, workspace_id=WS) == {"U1": "Ann"}
        assert len(seen) == 1  # the other workspace's values: asked; the read-ahead: taken
        with executed(database.engine) as seen:  # taken once: asked again, same snapshot
            assert display_names(session=session, workspace_id=WS) == {"U1": "Ann"}
        assert len(seen) == 1
        pg_batch.read_ahead(connection, [display_names_request(WS)])  # left over
    with database.read() as session, executed(database.engine) as seen:
        assert display_names(session=session, workspace_id=WS) == {"U1": "Bea"}
    # the next transaction reads for itself (its BEGIN goes out with its first statement)
    assert len([s for s, _p in seen if not s.startswith("BEGIN")]) == 1


def _log(database, kind: str, deal: str, at: datetime) -> int:
    with database.write() as session:
        recorded = record_event(session=session, workspace=session.get(Workspace, WS),
                                new=NewEvent(kind=kind, user_id="U1", logged_by="U1",
                                             occurred_at=at, deal_key=deal,
                                             idempotency_key=str(uuid.uuid4())), now=NOW)
        return recorded.event.id


def _funnel(database, text: str = "funnel this-quarter") -> str:
    chat = Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")
    reply = chat.handler.handle(CommandRequest(platform="slack", workspace_id=WS,
                                               user_id="U1", text=text, channel_id="C1"),
                                time.monotonic() + 30)
    assert reply.ok
    return repr(reply)


def _answers(database, monkeypatch, open_deal_reads: int | None = 1) -> str:
    """The funnel read ahead, checked against the funnel read one statement at a time;
    `open_deal_reads`: how often the read ahead asks for the open deals (twice when it
    guessed the stalled thresholds from an older history version; None: not counted)."""
    with executed(database.engine) as seen:
        ahead = _funnel(database)
    if open_deal_reads is not None:
        assert sum("FROM open_deal_stages" in s for s, _p in seen) == open_deal_reads
    with monkeypatch.context() as patched:
        patched.setattr(SqlFacts, "read_ahead_funnel", lambda *args, **kwargs: None)
        assert _funnel(database) == ahead
    return ahead


def test_the_funnel_read_ahead_follows_a_backdated_log_and_its_undo(people, monkeypatch):
    database = people
    for i, (lead, mql, sql) in enumerate([(40, 35, 30), (20, 12, 3), (45, 5, 2)]):
        _log(database, "lead", f"deal-{i}", NOW - lead * DAY)
        _log(database, "mql", f"deal-{i}", NOW - mql * DAY)
        _log(database, "sql", f"deal-{i}", NOW - sql * DAY)
    for _ in range(6):  # prepared (psycopg's fifth run), settled histograms remembered
        before = _answers(database, monkeypatch)
    # into October, a settled month: its histograms, remembered, must be read again; and the
    # trailing days' median lead stay moves (8 -> 7.5 days): the stalled deals read ahead
    # with the thresholds of the version before are asked for again
    _log(database, "lead", "deal-9", datetime(2026, 10, 2, tzinfo=UTC))
    october = _log(database, "mql", "deal-9", datetime(2026, 10, 9, tzinfo=UTC))
    backdated = _answers(database, monkeypatch, open_deal_reads=2)
    assert backdated != before
    assert _answers(database, monkeypatch) == backdated  # then guessed right
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=october,
                   voided_by="U1", now=NOW)
    undone = _answers(database, monkeypatch, open_deal_reads=2)
    assert undone not in (before, backdated)  # the lead stays, its mql is undone


def test_the_values_at_the_ranks_read_ahead_are_asked_again_when_the_ranks_move(people,
                                                                               monkeypatch):
    """The values at the medians' ranks are read ahead with the buckets and offsets the
    period's last funnel asked for, two on either side (storage/stage_durations.py
    `values_guess`); a log that moves a median to another bucket makes the funnel ask for the
    right ones itself, one that moves it by an offset in its bucket is served by the values
    read ahead; every answer equals the one read a statement at a time."""
    database = people
    quarter = datetime(2026, 10, 1, tzinfo=UTC)

    def values_reads() -> tuple[str, int]:
        with executed(database.engine) as seen:
            ahead = _funnel(database)
        with monkeypatch.context() as patched:
            patched.setattr(SqlFacts, "read_ahead_funnel", lambda *args, **kwargs: None)
            assert _funnel(database) == ahead
        # the quarter's (the trailing days' medians of the stalled thresholds have their own)
        return ahead, sum("unnest(" in s and quarter in p for s, p in seen)

    for i, (lead, mql) in enumerate([(40, 35), (20, 12), (45, 5)]):
        _log(database, "lead", f"deal-{i}", NOW - lead * DAY)
        _log(database, "mql", f"deal-{i}", NOW - mql * DAY)
    values_reads()  # (the trailing days' medians are then remembered)
    before, reads = values_reads()
    assert reads == 1  # guessed, taken
    # a fourth lead stay (30 days, ended today: the trailing days' medians stay as they
    # were): the median is now between the 2nd and 3rd of four
    _log(database, "lead", "deal-5", NOW - 30 * DAY)
    _log(database, "mql", "deal-5", NOW - timedelta(hours=1))
    moved, reads = values_reads()
    assert moved != before
    assert reads == 2  # the guess, then the ranks the new histograms give
    assert values_reads() == (moved, 1)
    # three more lead stays in the bucket of the 30 days (hours apart): the median moves by
    # offsets within it, as many as the values read ahead hold on either side
    for i, hours in enumerate((1, 2, 3)):
        _log(database, "lead", f"deal-{6 + i}", NOW - 30 * DAY - timedelta(hours=hours))
        _log(database, "mql", f"deal-{6 + i}", NOW - timedelta(hours=1))
        shifted, reads = values_reads()
        assert shifted != moved and reads == 1
        moved = shifted
