"""storage/workspace_guess.py's memo: bounded, least recently used dropped first, one per
engine (never used on another database), and a server clock that serves only while young."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from storage import workspace_guess


class _Engine:
    """What the memo keeps its state on: an engine's __dict__."""


def _guess(n: int) -> workspace_guess.Guess:
    return workspace_guess.Guess((f"W{n}",), ("Ann", None), f"digest{n}")


def test_the_memo_is_bounded_and_drops_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(workspace_guess, "MAX_GUESSES", 3)
    engine = _Engine()
    for n in range(3):
        workspace_guess.remember(engine, f"W{n}", "U1", _guess(n))
    assert workspace_guess.recall(engine, "W0", "U1") == _guess(0)  # W0 used: W1 is oldest
    workspace_guess.remember(engine, "W3", "U1", _guess(3))
    assert workspace_guess.remembered(engine) == 3
    assert workspace_guess.recall(engine, "W1", "U1") is None
    assert [workspace_guess.recall(engine, f"W{n}", "U1") for n in (0, 2, 3)] == [
        _guess(0), _guess(2), _guess(3)]
    for n in range(100):
        workspace_guess.remember(engine, "W9", f"U{n}", _guess(n))
    assert workspace_guess.remembered(engine) == 3


def test_a_guess_is_per_engine_and_per_workspace_and_user():
    one, other = _Engine(), _Engine()
    workspace_guess.remember(one, "W1", "U1", _guess(1))
    assert workspace_guess.recall(other, "W1", "U1") is None
    assert workspace_guess.recall(one, "W1", "U2") is None
    assert workspace_guess.recall(one, "W2", "U1") is None
    workspace_guess.forget(one, "W1", "U1")
    assert workspace_guess.recall(one, "W1", "U1") is None


def test_the_check_is_taken_once():
    check = workspace_guess.WorkspaceCheck(_Engine(), "W1", "U1", "d")
    sql, values = check.take()
    assert workspace_guess.MISSED in sql and values == {
        "kpibot_digest": "d", "kpibot_user": "U1", "kpibot_workspace": "W1"}
    assert check.sent and check.take() is None


def test_the_server_clock_serves_while_young_and_counts_drift(monkeypatch):
    engine, now = _Engine(), time.monotonic()
    server = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert workspace_guess.server_clock(engine) is None
    workspace_guess.note_clock(engine, server, now - 10.0)
    instant, at = workspace_guess.server_clock(engine)
    assert at == now - 10.0
    # moved back by at least CLOCK_DRIFT of its age (10 s and a little)
    assert server - instant >= timedelta(seconds=10.0 * workspace_guess.CLOCK_DRIFT)
    workspace_guess.note_clock(engine, server - timedelta(seconds=60), now - 70.0)  # older
    assert workspace_guess.server_clock(engine)[1] == now - 10.0  # the newer one stays
    monkeypatch.setattr(workspace_guess, "CLOCK_MAX_AGE_S", 5.0)
    assert workspace_guess.server_clock(engine) is None


def test_a_check_whose_answer_never_came_is_sent_again(monkeypatch):
    """A write alone (BEGIN, limits, the check, the insert, COMMIT in one pipeline) whose
    connection broke before any answer: its outcome is unknown (bot/handlers/log.py writes it
    again with the same key), and the guess is not checked yet, so the write again sends the
    check again: a guess made wrong stores nothing then either. A miss met then is no miss
    to answer again from (the first COMMIT may have stored the event)."""
    from psycopg import OperationalError

    from storage import pg_begin, pg_pipeline
    from storage.commit_unknown import CommitOutcomeUnknown

    check = workspace_guess.WorkspaceCheck(_Engine(), "W1", "U1", "d")
    sent: list[list] = []

    def send(_connection, statements, *, commit=False, whole=False):
        sent.append(statements)
        lost = OperationalError("the connection to the server was lost")
        return pg_pipeline.Answers([None] * len(statements), False, lost,
                                   commit_unanswered=True), None

    monkeypatch.setattr(pg_pipeline, "send", send)
    try:
        pg_begin.pipelined(object(), [("INSERT", {})], begin=(None, None, None, check),
                           commit=True)
    except CommitOutcomeUnknown as unknown:
        assert not workspace_guess.missed(unknown)
    else:
        raise AssertionError("no CommitOutcomeUnknown")
    assert [s[0] for s in sent[0]][1] == workspace_guess.CHECK  # after the limits (a whole
    # transaction: no BEGIN, storage/pg_begin.py `pipelined`)
    assert not check.sent and check.take() is not None


def test_a_check_sent_again_with_a_transaction_started_over_counts_as_checked(monkeypatch):
    """The server had forgotten a statement prepared on the connection (26000 at its first
    statement): the write starts over with its check (storage/pg_begin.py `pipelined`). When
    the second pipeline answers, the check has been answered: the command counts as checked
    (else the core would answer it again, and a log stored twice)."""
    from psycopg import errors, pq

    from storage import pg_begin, pg_pipeline

    check = workspace_guess.WorkspaceCheck(_Engine(), "W1", "U1", "d")
    sent: list[list] = []

    class _Result:
        status = pq.ExecStatus.TUPLES_OK

    class _Connection:
        def rollback(self) -> None:
            sent.append(["ROLLBACK"])

    class _Transformer:
        def set_pgresult(self, _result) -> None:
            return None

        def load_rows(self, _first, _last, _make):
            return []

    def send(_connection, statements, *, commit=False, whole=False):
        sent.append(statements)
        if len(sent) == 1:
            forgotten = errors.lookup("26000")("prepared statement does not exist")
            return pg_pipeline.Answers([None] * len(statements), False, forgotten), None
        return pg_pipeline.Answers([_Result()] * len(statements), True, None), _Transformer()

    monkeypatch.setattr(pg_pipeline, "send", send)
    monkeypatch.setattr(pg_pipeline, "forget", lambda _connection: None)
    monkeypatch.setattr(pg_pipeline.Answers, "rows", lambda self, _t, _i: [])
    pg_begin.pipelined(_Connection(), [("INSERT", {})], begin=(None, None, None, check),
                       commit=True)
    assert [s[1][0] for s in (sent[0], sent[2])] == [workspace_guess.CHECK] * 2
    assert check.sent and check.take() is None
