"""PostgreSQL: a limited write transaction starts with its first statement, in one round trip.

A chat command's write transaction (`Database.write` under a deadline or a lock timeout) used
to cost psycopg's BEGIN, then the deadline's `set_config` of `statement_timeout`,
`lock_timeout` and `kpibot.commit_by`, then its statements, then COMMIT: two round trips
before any work (issue 18: `/kpi log` ≤ 2× `/kpi ping`). Here the connection runs in psycopg's
autocommit mode, so psycopg sends no BEGIN of its own, and the first statement of the
transaction goes out as one simple-protocol query of three:

    BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config(...), ...; <the statement>

with its parameters written in on the client (storage/plans.py `with_values`, as the reads
planned for their values are; psycopg's `ClientCursor.mogrify` for other types). The server
runs them in order, each with its own statement timer, so the statement already runs under
the limits, and `kpibot.commit_by` is set before any row queues the
deferred deadline check of migration 0010. The limits are `set_config(..., true)`: local to
the transaction, gone at its COMMIT or ROLLBACK, never seen by the next user of the pooled
connection. psycopg's `commit()` and `rollback()` look at the server's transaction status,
not at the autocommit flag, so COMMIT and ROLLBACK go out as before.

The statement listeners (`before_cursor_execute`: statement counters, tests) still see each
statement as SQLAlchemy wrote it: the three are joined in the dialect's `do_execute`, after
them. A first statement run with `executemany` gets the BEGIN and limits in a query of their
own (one round trip more, as before).

A statement that is a whole transaction (`Database.write_one`: a `/kpi log` of an event
without a deal) goes out with its COMMIT too, and a `/kpi log` on a deal needs its deal's
events and row after its insert: since session 13 these go out as one pipeline of statements
prepared on the connection (`pipelined`, storage/pg_pipeline.py): BEGIN, the limits with bound
parameters (`LIMITS_BOUND`), the insert, and the deal's reads or the COMMIT; each statement
takes its own snapshot after the ones before it ran, so the reads see the insert and whatever
committed before the derived-rows lock it took (session 11-12: one simple-protocol query with
the values written in, parsed and planned on every log). Since session 16 a whole transaction
sends neither BEGIN nor COMMIT: the server runs a pipeline's statements up to its Sync as one
implicit transaction and commits it there (two statements fewer a log, on both sides of the
wire); its isolation is the connection's default, set to READ COMMITTED when it connects
(`_read_committed`). A write's `kpibot.commit_by` is also bounded by an instant on the
server's clock no later than the deadline when the command's workspace read gave one
(`begin_with_next_statement(..., commit_by=...)`).
"""

from __future__ import annotations

import time
import weakref
from datetime import datetime

import sqlalchemy as sa

from storage.plans import with_values

# psycopg connection -> (deadline, lock_ms, commit_by) of the BEGIN and limits not sent on it yet
_pending_begins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def install(engine: sa.Engine) -> None:
    """Join a pending BEGIN to the next statement on `engine`'s connections, whose
    transactions without a BEGIN (`pipelined`'s whole ones) are READ COMMITTED too."""
    sa.event.listen(engine, "do_execute", _execute)
    sa.event.listen(engine, "do_execute_no_params", _execute_no_params)
    sa.event.listen(engine, "do_executemany", _executemany)
    sa.event.listen(engine, "connect", _read_committed)


def _read_committed(dbapi_connection, _record) -> None:
    """A new connection's transactions that name no isolation level (a whole one in
    `pipelined`, committed at its Sync; psycopg's BEGIN) are READ COMMITTED, as the limited
    writes' BEGIN says, whatever the server's default: each statement sees what committed
    before it ran (a lock's earlier holders). Reads name theirs (storage/plans.py)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET default_transaction_isolation TO 'read committed'")
    finally:
        dbapi_connection.autocommit = autocommit


def begin_with_next_statement(connection: sa.Connection, deadline: float | None,
                              lock_ms: int | None, commit_by: datetime | None = None,
                              check: object | None = None) -> object:
    """Open a transaction on `connection` (in psycopg's autocommit mode) with the next
    statement it runs: BEGIN, then this transaction's lock timeout and, given a `deadline`
    (a `time.monotonic()` instant), what is left of it when the statement is sent as its
    statement timeout and `kpibot.commit_by` (the server's clock plus that, and no later than
    `commit_by`, an instant on the server's clock no later than the deadline, so a COMMIT
    the server runs late is refused however late the first statement ran). `check`: the
    command's check of its guessed workspace and user rows (storage/workspace_guess.py), sent
    after the limits if no transaction of the command has sent it yet. Returns the driver's
    connection, for `forget_pending`."""
    driver_connection = connection.connection.dbapi_connection
    _pending_begins[driver_connection] = (deadline, lock_ms, commit_by, check)
    return driver_connection


def forget_pending(driver_connection: object) -> None:
    """The end of the transaction: a BEGIN still pending (no statement ran) is dropped, as
    nothing was begun."""
    _pending_begins.pop(driver_connection, None)


def written(driver_connection: object, statement: str, parameters: dict) -> str:
    """`statement` with its values written in (`with_values`, else psycopg's own)."""
    try:
        return with_values(statement, parameters)
    except TypeError:
        import psycopg

        return psycopg.ClientCursor(driver_connection).mogrify(statement, parameters)


def take_pending(driver_connection: object) -> tuple | None:
    """The (deadline, lock_ms, commit_by, check) of the connection's pending BEGIN, now taken (the
    caller sends it: `pipelined`); None when none is pending."""
    return _pending_begins.pop(driver_connection, None)


def is_pending(driver_connection: object) -> bool:
    """Whether the connection's next statement is a transaction's first (its BEGIN joined)."""
    return driver_connection in _pending_begins


def limits_sql(statement_ms: int | None, lock_ms: int | None,
               commit_by: datetime | None = None) -> str:
    """The `set_config` of the limits as one statement with the values written in (whole
    milliseconds, so nothing to quote; `commit_by`, an instant, bounds `kpibot.commit_by`)."""
    statement, lock = int(statement_ms or 0), int(lock_ms or 0)
    at = f"clock_timestamp() + make_interval(secs => {statement} / 1000.0)"
    if commit_by is not None:
        at = f"LEAST({at}, '{commit_by.isoformat()}'::timestamptz)"
    commit_by = f"CAST({at} AS text)" if statement else "''"
    return (f"SELECT set_config('statement_timeout', '{statement}', true), "
            f"set_config('lock_timeout', '{lock}', true), "
            f"set_config('kpibot.commit_by', {commit_by}, true)")


def _pending(cursor) -> str | None:
    """The BEGIN and limits to send before this statement, if it is a transaction's first."""
    pending = _pending_begins.pop(cursor.connection, None) if _pending_begins else None
    if pending is None:
        return None
    deadline, lock_ms, commit_by, check = pending
    begin = begin_sql(deadline, lock_ms, commit_by)
    taken = None if check is None else check.take()
    if taken is None:
        return begin
    return f"{begin}; {written(cursor.connection, *taken)}"  # the guess's check


def begin_sql(deadline: float | None, lock_ms: int | None,
              commit_by: datetime | None = None) -> str:
    """BEGIN and the limits of a transaction with `deadline` and `lock_ms`, what is left of
    the deadline computed now (DeadlinePassed when nothing is)."""
    left = None if deadline is None else int((deadline - time.monotonic()) * 1000)
    if left is not None and left <= 0:
        from storage.engine import DeadlinePassed  # (storage.engine imports this module)

        raise DeadlinePassed("the command's deadline has passed")
    if left is not None and lock_ms:
        lock_ms = min(lock_ms, left)  # no lock wait outlasts the deadline either
    return "BEGIN ISOLATION LEVEL READ COMMITTED; " + limits_sql(left, lock_ms, commit_by)


def execute(cursor, statement: str, parameters: dict) -> None:
    """`cursor.execute(statement, parameters)`, with the connection's pending BEGIN and
    limits joined to it (storage/pg_driver.py runs its statements here)."""
    if _execute(cursor, statement, parameters, None) is None:
        cursor.execute(statement, parameters)


def _execute(cursor, statement, parameters, context):
    begin = _pending(cursor)
    if begin is None:
        return None
    _run_joined(cursor, f"{begin}; {_with_values(cursor, statement, parameters)}")
    return True


def _with_values(cursor, statement: str, parameters: dict) -> str:
    """`statement` with its parameters written in as literals: storage/plans.py `with_values`
    (its split of the text cached, as psycopg's `ClientCursor.mogrify` does not for a
    statement over 4 KB, such as an event's insert with its rollups), or psycopg's own for a
    value of a type it does not write."""
    return written(cursor.connection, statement, parameters)


def _execute_no_params(cursor, statement, context):
    begin = _pending(cursor)
    if begin is None:
        return None
    # no parameters: psycopg sends the text as it is, so a % in it stays a %
    _run_joined(cursor, f"{begin}; {statement}")
    return True


def _run_joined(cursor, sql: str) -> None:
    cursor.execute(sql)  # no parameters: the simple query protocol, several statements
    while cursor.nextset():  # the statement's own result is the last one
        pass


def _executemany(cursor, _statement, _parameters, context):
    begin = _pending(cursor)
    if begin is not None:  # then SQLAlchemy runs the executemany itself
        cursor.execute(begin)


# The limits of `begin_sql`, as a statement with bound parameters (prepared once per
# connection; `pipelined`): the statement and lock timeouts as text, `commit_by` an instant or
# NULL (LEAST ignores a NULL).
LIMITS_BOUND = (
    "SELECT set_config('statement_timeout', %(statement)s, true), "
    "set_config('lock_timeout', %(lock)s, true), "
    "set_config('kpibot.commit_by', CASE WHEN %(statement)s = '0' THEN '' ELSE CAST(LEAST("
    "clock_timestamp() + make_interval(secs => CAST(%(statement)s AS integer) / 1000.0), "
    "CAST(%(commit_by)s AS timestamptz)) AS text) END, true)")
BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"


def limits_bound(deadline: float | None, lock_ms: int | None,
                 commit_by: datetime | None = None) -> dict:
    """`LIMITS_BOUND`'s parameters for a transaction with `deadline` and `lock_ms`, what is
    left of the deadline computed now (DeadlinePassed when nothing is), as `begin_sql`."""
    left = None if deadline is None else int((deadline - time.monotonic()) * 1000)
    if left is not None and left <= 0:
        from storage.engine import DeadlinePassed  # (storage.engine imports this module)

        raise DeadlinePassed("the command's deadline has passed")
    if left is not None and lock_ms:
        lock_ms = min(lock_ms, left)
    return {"statement": str(int(left or 0)), "lock": str(int(lock_ms or 0)),
            "commit_by": commit_by}


def pipelined(driver_connection, statements: list[tuple[str, dict]], *,
              begin: tuple | None, commit: bool = False) -> list[list[tuple]]:
    """The rows of each of `statements` (psycopg's `%(name)s` placeholders and their values),
    each prepared on the connection (parsed and planned once per connection, not once per
    command as a query with its values written in is), sent in one pipeline: one network
    round trip (storage/pg_pipeline.py). `begin` (deadline, lock_ms, commit_by[, check]): a
    transaction's BEGIN and its limits go first (DeadlinePassed before anything is sent),
    then the check of a guessed workspace (storage/workspace_guess.py) if it is still to send:
    a wrong guess fails the transaction there, and nothing after it runs, a COMMIT included;
    `commit`: a COMMIT after them. With both, the statements are the whole transaction: no
    BEGIN and no COMMIT go out, the server commits them at the pipeline's Sync (two
    statements fewer, storage/pg_pipeline.py `whole`; READ COMMITTED: `_read_committed`).
    Each statement of a READ COMMITTED transaction takes its own snapshot, after the ones
    before it ran, as in one simple query. The server stops at the first error (the rest are
    skipped, the transaction is left failed, or rolled back at the Sync), which is raised
    (psycopg's). A commit the server confirmed stands, even if the connection broke after it
    (a fast shutdown's FATAL): the rows are returned, the connection closed."""
    from storage import pg_pipeline

    check = begin[3] if begin is not None and len(begin) > 3 else None
    taken = None if check is None else check.take()
    whole = begin is not None and commit
    for _attempt in range(2):
        opening = [] if begin is None else [(LIMITS_BOUND, limits_bound(*begin[:3]))]
        if begin is not None and not whole:
            opening.insert(0, (BEGIN, {}))
        if taken is not None:
            opening.append(taken)
        answers, transformer = pg_pipeline.send(driver_connection, [*opening, *statements],
                                                commit=commit and not whole, whole=whole)
        if taken is not None:  # checked only once the check answered: when its answer never
            # came (the connection broke), the command's next transaction (a write again after
            # a COMMIT whose answer was lost, bot/handlers/log.py) sends it again
            check.sent = answers.answered(len(opening) - 1)
        if answers.error is None or commit and answers.committed:
            break
        if answers.commit_unanswered:
            raise answers.unknown_outcome()
        if not (answers.forgotten and begin is not None):
            raise answers.error
        # the server had forgotten a statement prepared here: nothing ran but BEGIN (and the
        # limits), so the transaction starts over (a whole one was rolled back at its Sync),
        # its statements prepared again
        pg_pipeline.forget(driver_connection)
        driver_connection.rollback()
    else:
        raise answers.error
    if taken is not None and answers.error is None:  # (its answer: the server's clock, for
        # the engine's next guess; none read from a connection that broke after its COMMIT)
        check.answered(answers.rows(transformer, len(opening) - 1), time.monotonic())
    return [answers.rows(transformer, i) for i in range(len(opening), len(answers.results))]
