"""PostgreSQL: a write's last statement goes out with its COMMIT, in one round trip.

A `/kpi log` that refreshes its deal ends with the deal's UPDATE, then the COMMIT: two round
trips (issue 18: `/kpi log` ≤ 2× `/kpi ping`). Here the UPDATE is held (`run_at_commit`) and
sent with the COMMIT as one pipeline (storage/pg_pipeline.py) when `Database.write` commits
(`commit_held`), each answer read as it arrives: a COMMIT the server confirmed stands even when
its FATAL follows (a fast shutdown), so the reply never says "nothing was stored" for a write
that was (session 12 sent the two as one simple query and withdrew it for that reason). With
nothing held, the COMMIT goes out the same way, alone, and is read the same way.

Anything else the transaction runs before the COMMIT sends the held statement first (the
engine's `before_cursor_execute` listener, which every statement on the connection tells):
statements still run in the order they were given, and an error in the held one is raised
there, as it would have been where it was given. A rollback drops it (nothing of the
transaction stays). Held only inside a `Database.write` that commits this way (`commits_here`);
anywhere else `run_at_commit` runs the statement at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

import sqlalchemy as sa
from psycopg.pq import TransactionStatus

_INTRANS = TransactionStatus.INTRANS  # a transaction open, no statement failed

# psycopg connection -> the (sql, values) held for its COMMIT, [] when none yet; a connection
# is in here only inside a `Database.write` that commits with `commit_held`
_held: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def install(engine: sa.Engine) -> None:
    """Send a held statement before any other statement on its connection; drop it at a
    rollback."""
    def before(connection, _cursor, _statement, _parameters, _context, _many) -> None:
        held = _held.get(connection.connection.dbapi_connection)
        if held:
            _send(connection, held, commit=False)

    def rollback(connection) -> None:
        if not (connection.invalidated or connection.closed):
            held = _held.get(connection.connection.dbapi_connection)
            if held:
                held.clear()

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "rollback", rollback)


def commits_here(connection: sa.Connection) -> object:
    """The write transaction on `connection` commits with `commit_held`: statements may be
    held for its COMMIT. Returns the driver's connection, for `done`."""
    driver_connection = connection.connection.dbapi_connection
    _held[driver_connection] = []
    return driver_connection


def done(driver_connection: object) -> None:
    """The transaction has ended (committed or rolled back): nothing is held any more."""
    _held.pop(driver_connection, None)


def run_at_commit(connection: sa.Connection, statement: sa.Executable,
                  params: Mapping[str, object]) -> None:
    """Run `statement` (one that returns no rows the caller needs: a deal's UPDATE), held
    for the transaction's COMMIT when the transaction commits with `commit_held`, else now."""
    from storage import pg_driver

    driver_connection = connection.connection.dbapi_connection
    held = _held.get(driver_connection)
    compiled = pg_driver.compiled_for(statement, connection.dialect, params)
    if held is None or compiled is None:
        pg_driver.run(connection, statement, params)
        return
    sql, values = compiled
    pg_driver.tell_listeners(connection, None, sql, values)  # (sends what was held before)
    held.append((sql, values))


def commit_held(connection: sa.Connection) -> bool:
    """The statements held for the COMMIT and the COMMIT, as one pipeline (the COMMIT alone
    when nothing is held): True when the server confirmed the COMMIT (then it stands, even if
    the connection broke after it: the connection is closed and the caller must not commit
    again). Raised as SQLAlchemy raises a driver error when the transaction failed or the
    COMMIT was refused (past `kpibot.commit_by`). No transaction open (nothing was sent):
    False, and nothing sent."""
    driver_connection = connection.connection.dbapi_connection
    held = _held.get(driver_connection)
    if held is None or not held and driver_connection.info.transaction_status != _INTRANS:
        return False
    return _send(connection, held, commit=True)


def _send(connection: sa.Connection, held: list, *, commit: bool) -> bool:
    from storage import pg_driver, pg_pipeline

    statements = list(held)
    held.clear()
    driver_connection = connection.connection.dbapi_connection
    answers, _transformer = pg_pipeline.send(driver_connection, statements, commit=commit)
    if answers.error is None or commit and answers.committed:
        return answers.committed
    if answers.commit_unanswered:  # (storage/commit_unknown.py)
        raise answers.unknown_outcome()
    sql, values = statements[0] if statements else ("COMMIT", {})
    raise pg_driver.sqlalchemy_error(connection, None, sql, values, answers.error)
