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


