"""The connection a pooled statement used is kept checked out for the next one
(storage/pg_pool.py `keep`, `take`; issue 18: SQLAlchemy's checkout and checkin were a tenth of
what a served `/kpi log` costs beyond a ping). Counted from the pool's own events and the
server's backend ids, never timed; the pool's clock is a fake one where time matters.

- one command after another runs on one kept connection, with no checkout of the pool's;
- a kept connection idle longer than `PING_AFTER_IDLE_S` goes back to the pool noted as idle
  since it was kept, and is pinged before it is used again;
- one the server closed is not used: the command runs on another and is stored once;
- at most `KEEP` are kept, one left in a transaction never is, and `Engine.dispose` closes
  them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from bot.core import CommandRequest
from storage import pg_driver, pg_pool
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import terminate

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TKEPT"


class _Clock:
    """The pool's `time` (storage/pg_pool.py reads `time.monotonic()`), moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(pg_pool, "time", fake)
    return fake


@pytest.fixture
def chat(database, clock):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _ask(chat: Chat, text: str, key: str):
    reply = chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)  # as served: a deadline
    assert reply.ok and "Logged" in reply.text, reply.plain_text()
    return reply


def _stored(database, key: str) -> int:
    return database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": f"slack:{key}"})[0]


def _kept_backend(database) -> int:
    (kept,) = pg_pool.kept_connections(database.engine)
    return kept.driver_connection.info.backend_pid


@contextmanager
def _checkouts(engine: sa.Engine) -> Iterator[list]:
    """The pool's checkouts while the block runs, one item each."""
    seen: list = []

    def checked_out(*args) -> None:
        seen.append(args)

    sa.event.listen(engine, "checkout", checked_out)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "checkout", checked_out)


def test_one_log_after_another_runs_on_the_kept_connection(chat, database):
    _ask(chat, "log call 1", "first")  # (its workspace read is the pool's first checkout)
    _ask(chat, "log meeting-booked acme", "deal")  # (a new deal: written through the Session)
    backend = _kept_backend(database)
    with _checkouts(database.engine) as checkouts:
        for i, text in enumerate(("log call 2", "log email-sent 3", "log meeting-booked acme",
                                  "log demo-booked acme")):
            _ask(chat, text, f"next-{i}")
    assert checkouts == []  # each on the kept connection: no checkout, no checkin
    assert _kept_backend(database) == backend
    assert [_stored(database, f"next-{i}") for i in range(4)] == [1, 1, 1, 1]


def test_a_connection_kept_too_long_is_pinged_before_use(chat, database, clock):
    _ask(chat, "log call 1", "first")
    clock.now += pg_pool.PING_AFTER_IDLE_S + 1  # kept, idle since: may have gone bad
    with RoundTrips(database.engine, keep_pool=True) as trips:
        _ask(chat, "log call 2", "later")
    # back to the pool noted as idle since it was kept, not as returned just now: the pool's
    # checkout pings it (the empty query), then the log runs on it
    assert trips.queries.count('";"') == 1, trips.queries
    assert _stored(database, "later") == 1


def test_a_kept_connection_the_server_closed_is_not_used(chat, database):
    _ask(chat, "log call 1", "first")
    (kept,) = pg_pool.kept_connections(database.engine)
    backend = terminate(database.engine, kept.dbapi_connection)
    _ask(chat, "log call 2", "after-terminate")  # not "database down": another connection
    assert _stored(database, "after-terminate") == 1
    assert _kept_backend(database) != backend


def test_at_most_keep_are_kept_and_never_one_in_a_transaction(chat, database):
    engine = database.engine
    pooled = [pg_driver.check_out(engine) for _ in range(pg_pool.KEEP + 1)]
    busy = pooled[0].driver_connection
    busy.execute("SELECT 1")  # (psycopg's BEGIN: a transaction left open)
    for each in pooled:
        pg_driver.hand_back(each, engine)
    assert busy.info.transaction_status == TransactionStatus.IDLE  # rolled back
    kept = pg_pool.kept_connections(engine)
    assert len(kept) == pg_pool.KEEP
    assert all(each.driver_connection is not busy for each in kept)
    taken = pg_driver.check_out(engine)
    pg_driver.hand_back(taken, engine)
    assert taken is kept[-1]  # the last kept first


def test_dispose_closes_the_kept_connections(chat, database):
    _ask(chat, "log call 1", "first")
    (kept,) = pg_pool.kept_connections(database.engine)
    driver_connection = kept.driver_connection
    database.engine.dispose()
    assert pg_pool.kept_connections(database.engine) == [] and driver_connection.closed
    _ask(chat, "log call 2", "after-dispose")
    assert _stored(database, "after-dispose") == 1
