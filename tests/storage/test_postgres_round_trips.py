"""What a chat command costs PostgreSQL in round trips (issue 18: `/kpi log` ≤ 2× ping, the
funnel ≤ 0.2× its SQL floor), counted from libpq's protocol trace (tests/support/round_trips.py),
never timed.

- The workspace read is one round trip: autocommit, no BEGIN, no limits, no ROLLBACK.
- A pooled connection the server closed is replaced before use (the last test)."""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import executed

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TTRIPS"


def _ask(chat: Chat, text: str, key: str | None = None):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=WS, user_id="U1", user_name="Ann", text=text,
        channel_id="C1", idempotency_key=key), time.monotonic() + 30)  # as served: a deadline


@pytest.fixture
def chat(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack", now=NOW)
        ensure_user(session=session, workspace_id=WS, user_id="U1", display_name="Ann", now=NOW)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U1")


def _statements(database, run) -> list[str]:
    with executed(database.engine) as seen:
        run()
    return [" ".join(statement.split()) for statement, _parameters in seen]


def test_a_log_is_its_statements_plus_one_begin_and_one_commit(chat, database):
    with RoundTrips(database.engine) as trips:
        statements = _statements(database, lambda: _ask(chat, "log call 3", "k1"))
    assert "FROM workspaces LEFT OUTER JOIN users" in statements[0]
    # every round trip is a statement of the command's, but the write's BEGIN and COMMIT and
    # the pool's ping of the connection the read returned: the read opens no transaction
    assert [q for q in trips.queries if q != '";"'] == [
        '"BEGIN ISOLATION LEVEL READ COMMITTED"', '"COMMIT"'], trips.queries
    assert trips.count == len(statements) + 2 + trips.queries.count('";"')
    assert trips.queries.count('";"') <= 1
    assert database.read_first(sa.text("SELECT count(*) FROM events WHERE workspace_id = :w"),
                               {"w": WS})[0] == 1


def test_the_workspace_read_is_one_round_trip(chat, database):
    with RoundTrips(database.engine) as trips:
        row = database.until(time.monotonic() + 30).read_first(
            sa.text("SELECT display_name FROM users WHERE workspace_id = :w AND id = :u"),
            {"w": WS, "u": "U1"})
    assert row == ("Ann",)
    assert trips.count == 1 and trips.queries == []


def test_a_connection_the_server_closed_is_replaced_before_use(chat, database):
    with database.engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        raw = connection.connection.dbapi_connection
    admin = sa.create_engine(database.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as other:
            assert other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
        for _ in range(500):  # the server's FATAL message and the closed socket arrive
            if select.select([raw.fileno()], [], [], 0.01)[0]:
                break
    finally:
        admin.dispose()
    reply = _ask(chat, "log call 1", "after-terminate")
    assert reply.ok and "Logged" in reply.text
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid


def test_a_read_sees_one_snapshot_across_its_statements(chat, database):
    """An answer read in several statements (counts, then the values at their ranks) must
    not mix two histories: a write committed between two statements of one read is not seen
    by the second (PostgreSQL's READ COMMITTED showed it)."""
    count = sa.text("SELECT count(*) FROM users WHERE workspace_id = :w")
    with database.read() as session:
        before = session.execute(count, {"w": WS}).scalar_one()
        with database.write() as other:
            ensure_user(session=other, workspace_id=WS, user_id="U_NEW", display_name="Nia",
                        now=NOW)
        assert session.execute(count, {"w": WS}).scalar_one() == before
    with database.read() as session:
        assert session.execute(count, {"w": WS}).scalar_one() == before + 1
