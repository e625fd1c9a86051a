"""PostgreSQL: read statements keep their plans between commands.

Planning was most of a command's server time at a million events (the funnel's 21-part
statement alone 1.3-2.5 ms, its statements 3.3 ms a command against 1.6 ms of execution).
psycopg prepares a statement on a connection at its fifth run (`prepare_threshold`), so the
server could plan it once, but:

- psycopg forgets every prepared statement at a ROLLBACK (and sends DEALLOCATE ALL), and every
  read session ended with one, so nothing stayed prepared. `end_read` ends a read with COMMIT
  instead (`storage.engine.Database.read`), once nothing is left in the session to flush.
- Under `plan_cache_mode = auto` the server kept planning the funnel's large statements for
  each command anyway (their generic plans' estimated cost is higher, their run time is not:
  the counts statement 0.13 ms generic against 0.18 ms custom). A read transaction therefore
  runs with `force_generic_plan` (`GENERIC_PLANS_SETTING`, set with the read's deadline, sent
  with its first statement: `begin_read`); write transactions, and the PL/pgSQL trigger bodies
  they run, stay on `auto`.

A statement whose best plan depends on its values carries `CUSTOM_PLANS` as an execution
option (`statement.execution_options(**CUSTOM_PLANS)`, kept by `storage.prepared.Prepared`):
it is sent with its values written into its text (`with_values`), so the server plans it for
those values whatever the plan cache mode, and it is never prepared. Chosen by measuring both
plans: the inbound response times' values at percentile ranks (`LIMIT`/`OFFSET` within a
bucket; for the stage times' such a generic plan took 28-37 ms instead of 2-6 ms over
2020..2027 at a million events, until their statement took a shape whose generic plan reads
each bucket in order, storage/stage_durations.py `_values_of_arrays`) and the stage times'
histogram sums over many months (twice the time generic). psycopg is imported only where a
PostgreSQL statement runs: SQLite's start-up never loads it (tests/bot/test_startup_imports.py).
"""

from __future__ import annotations

import functools
import math
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

CUSTOM_OPTION = "kpibot_custom_plans"
CUSTOM_PLANS = {CUSTOM_OPTION: True}  # execution option: planned for its values, never prepared
GENERIC_PLANS_SETTING = "set_config('plan_cache_mode', 'force_generic_plan', true)"


def configure(engine: sa.Engine) -> None:
    """PostgreSQL: statements with `CUSTOM_PLANS` are sent with their values in their text;
    a read's pending BEGIN and settings (`begin_read`) go out before the first statement
    SQLAlchemy runs."""

    @event.listens_for(engine, "do_execute")
    def _with_values(cursor, statement, parameters, context) -> bool | None:
        send_pending_read(context.root_connection)
        if not context.execution_options.get(CUSTOM_OPTION):
            return None  # as psycopg sends it: bound parameters, prepared from the fifth run
        cursor.execute(with_values(statement, parameters), prepare=False)
        return True

    @event.listens_for(engine, "do_execute_no_params")
    def _no_params(cursor, statement, context) -> None:
        send_pending_read(context.root_connection)

    @event.listens_for(engine, "do_executemany")
    def _many(cursor, statement, parameters, context) -> None:
        send_pending_read(context.root_connection)

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, _record) -> None:
        if _pending_reads and dbapi_connection is not None:
            _pending_reads.pop(dbapi_connection, None)  # never begun: nothing to carry over
        if _read_checks and dbapi_connection is not None:
            _read_checks.pop(dbapi_connection, None)
        if _committed_reads and dbapi_connection is not None:
            _committed_reads.pop(dbapi_connection, None)


def with_values(statement: str, values: Mapping[str, Any]) -> str:
    """`statement` (SQLAlchemy's psycopg text, `%(name)s` placeholders) with each value written
    in as a literal; psycopg then sends it with no parameters, which the server plans for
    these values. psycopg's own client-side binding (`ClientCursor.mogrify`) parsed the text
    anew on each run: a millisecond per stage-time window at a million events."""
    pieces, names = _split(statement)
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:], strict=True):
        out.append(_literal(values[name]))
        out.append(piece)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _split(statement: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text around each placeholder (`%%` read as `%`), and the placeholders' names."""
    parts = _PLACEHOLDER.split(statement)
    return (tuple(p.replace("%%", "%") for p in parts[::2]), tuple(parts[1::2]))


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _literal(value: Any) -> str:
    """A SQL literal of a value as the driver is given it. Strings are E'' strings (quote and
    backslash escaped), right whatever `standard_conforming_strings` says; a negative number is
    parenthesized (nothing can read `- -1` as a comment); instants and days carry their type
    (a statement's own casts, `::TIMESTAMP WITH TIME ZONE`, keep it), floats `float8` and
    decimals `numeric`, as psycopg types them when it binds them.
    TypeError for any other type (`storage/pg_begin.py` then has psycopg write the values)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    if isinstance(value, str):
        if "\0" in value:
            raise ValueError("a NUL character cannot be sent to PostgreSQL")
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::" + ("timestamptz" if value.tzinfo else "timestamp")
    if isinstance(value, date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, float | Decimal) and math.isfinite(value):
        return f"({value!r}::float8)" if isinstance(value, float) else f"({value}::numeric)"
    raise TypeError(f"no literal for a {type(value).__name__} (storage/plans.py)")


@functools.cache
def numbered_dialect() -> sa.Dialect:
    """PostgreSQL (psycopg) compiling bind parameters as the server's own `$1`, `$2`, ..."""
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    return dialect.dialect(paramstyle="numeric_dollar")


def execute_numbered(connection: sa.Connection, sql: str, values: Sequence) -> list[tuple]:
    """The rows of `sql` (with `$n` placeholders) for `values`, on psycopg's raw cursor of the
    connection, prepared from its fifth run as psycopg does (storage/pg_driver.py, which runs
    every statement on psycopg's cursors: listeners told, errors raised as Core raises them)."""
    from storage import pg_driver  # (it imports this module, through storage/pg_begin.py)

    return pg_driver.execute_numbered(connection, sql, values)


def begin_read(connection: sa.Connection, remaining_ms: Callable[[], int | None],
               check: Any = None) -> None:
    """Open a read transaction on `connection` (in psycopg's autocommit mode, so psycopg sends
    no BEGIN of its own) with its first statement: BEGIN at REPEATABLE READ and the read's
    settings (generic plans; with a deadline, what `remaining_ms()` leaves of it then as its
    statement timeout and `kpibot.commit_by`, no lock wait limit). Statements read ahead in a
    pipeline (storage/pg_batch.py) and a `Prepared` statement's raw run take them into their
    own round trip (`pending_read`); any other first statement sends them first as one
    simple-protocol query of two statements (`send_pending_read`: SQLAlchemy's execution
    through `configure`'s listeners, storage/pg_driver.py's runners). A read that runs no
    statement begins nothing (its COMMIT is then no round trip either). The settings are
    `set_config(..., true)`: local to the transaction, gone at its COMMIT or ROLLBACK; a
    BEGIN still pending when the connection goes back to the pool is dropped
    (`forget_read`, and the pool's check-in). The deadline is checked now too: past it,
    nothing starts (DeadlinePassed). `check`: a command's check of its guessed workspace and
    user rows (storage/workspace_guess.py `WorkspaceCheck`), sent after the settings (its
    values bound; written in for a simple query) if no transaction of the command has sent
    it yet."""
    remaining_ms()
    _pending_reads[connection.connection.driver_connection] = remaining_ms
    if check is not None:
        _read_checks[connection.connection.driver_connection] = check


def forget_read(connection: sa.Connection) -> None:
    """The end of a read: a BEGIN still pending (no statement ran) is dropped, and so is
    the mark of a COMMIT sent ahead (`commit_ahead`)."""
    if _pending_reads:
        _pending_reads.pop(connection.connection.driver_connection, None)
    if _read_checks:
        _read_checks.pop(connection.connection.driver_connection, None)
    if _committed_reads:
        _committed_reads.pop(connection.connection.driver_connection, None)


class ReadAgain(Exception):  # noqa: N818 (not an error: the caller reads again)
    """A statement was about to run in a read whose COMMIT had gone out with the statements
    read ahead (`commit_ahead`: they were guessed to be all of its statements, and were not).
    Nothing was sent; the caller reads again in a new transaction, with nothing committed
    ahead, so that every figure of its answer comes from one snapshot
    (bot/handlers/reports.py `handle_funnel`)."""


def commit_ahead(connection: sa.Connection) -> None:
    """Mark the read on `connection` as ended: its COMMIT went out in the pipeline of its
    statements read ahead (storage/pg_batch.py, with its BEGIN). Its rows read ahead are
    still handed out; any statement that would run after it raises ReadAgain instead
    (`pending_read`, `send_pending_read`: every runner of a read's statements calls one of
    them first). SQLAlchemy's COMMIT at the read's end and the pool's reset then send
    nothing: psycopg sends neither on a connection outside a transaction."""
    _committed_reads[connection.connection.driver_connection] = True


def _check_open(driver_connection: Any) -> None:
    if _committed_reads and driver_connection in _committed_reads:
        raise ReadAgain("storage.plans: a statement after the read's COMMIT went out ahead")


def _take_pending(connection: sa.Connection) -> tuple[int | None, Any] | None:
    """The read pending on `connection`, now taken: what is left of its deadline (ms, None
    without one) and its guessed workspace's check (None without one); None when no read is
    pending. ReadAgain after a COMMIT sent ahead (`commit_ahead`)."""
    driver_connection = connection.connection.driver_connection
    _check_open(driver_connection)
    remaining = _pending_reads.pop(driver_connection, None) if _pending_reads else None
    if remaining is None:
        return None
    statement_ms = remaining()
    return statement_ms, _read_checks.pop(driver_connection, None) if _read_checks else None


def pending_read(connection: sa.Connection, cursor: Any) -> list[str | tuple] | None:
    """The statements (BEGIN, then the settings' SELECT) that open the read transaction
    pending on `connection`, for the caller to send before its first statement in the same
    round trip (a pipeline: one statement each); None when none is pending. The listeners
    are told of them as one query, as `send_pending_read` sends them."""
    pending = _take_pending(connection)
    if pending is None:
        return None
    statement_ms, check = pending
    statements: list[str | tuple] = [BEGIN_READ, _settings_sql(statement_ms)]
    taken = None if check is None else check.take()
    if taken is not None:  # the guessed workspace's check (storage/workspace_guess.py)
        statements.append(taken)
    tell(connection, cursor, _joined(statements))
    return statements


def send_opening(cursor: Any, statements: Sequence[str | tuple]) -> None:
    """Send `pending_read`'s statements on `cursor` (in a pipeline): BEGIN and the settings
    as written, the check of a guessed workspace with its values (prepared by psycopg from
    its fifth run on the connection, as the workspace read it stands for was)."""
    for each in statements:
        if isinstance(each, tuple):
            cursor.execute(*each)
        else:
            cursor.execute(each, prepare=False)


def _joined(statements: Sequence[str | tuple]) -> str:
    """`pending_read`'s statements as one simple-protocol query (values written in)."""
    return "; ".join(each if isinstance(each, str) else with_values(*each)
                     for each in statements)


def pending_read_bound(connection: sa.Connection
                       ) -> tuple[list[tuple[str, tuple]], Any] | None:
    """`pending_read` for a pipeline of statements prepared by name (storage/pg_batch.py):
    BEGIN, and the settings' SELECT with the deadline's milliseconds as parameters
    (`SETTINGS_BOUND`), then a guessed workspace's check (`begin_read`), each with its
    values; the server parses and plans them once per connection instead of once per read
    (~40 µs of its CPU a read). The listeners are told of them as one query. Returns the
    statements and the check sent last among them (None when none was)."""
    pending = _take_pending(connection)
    if pending is None:
        return None
    statement_ms, check = pending
    if statement_ms is None:
        settings = (f"SELECT {GENERIC_PLANS_SETTING}", ())
    else:
        ms = int(statement_ms)
        settings = (SETTINGS_BOUND, (str(ms), ms))
    statements: list[tuple[str, tuple]] = [(BEGIN_READ, ()), settings]
    taken = None if check is None else check.take_numbered()
    if taken is not None:  # the guessed workspace's check (storage/workspace_guess.py)
        statements.append(taken)
    tell(connection, None, "; ".join(sql for sql, _values in statements))
    return statements, None if taken is None else check


# `_settings_sql` with the deadline's milliseconds as parameters: $1 as text, $2 as a number
SETTINGS_BOUND = ("SELECT set_config('statement_timeout', $1, true), "
                  "set_config('lock_timeout', '0', true), "
                  "set_config('kpibot.commit_by', CAST(clock_timestamp() + "
                  "make_interval(secs => $2 / 1000.0) AS text), true), "
                  f"{GENERIC_PLANS_SETTING}")


def send_pending_read(connection: sa.Connection) -> None:
    """Send the read transaction's BEGIN and settings pending on `connection`, if any, as one
    simple-protocol query (a round trip of its own, before a statement that cannot take them
    along); ReadAgain after a COMMIT sent ahead (`commit_ahead`)."""
    if _committed_reads:
        _check_open(connection.connection.driver_connection)
    if not _pending_reads or connection.connection.driver_connection not in _pending_reads:
        return
    import psycopg

    driver_connection = connection.connection.driver_connection
    cursor = driver_connection.cursor()
    sql = _joined(pending_read(connection, cursor) or ())
    try:
        cursor.execute(sql, prepare=False)  # no parameters: the simple protocol, two statements
    except psycopg.Error as error:
        if driver_connection.broken:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(sql, (), error, psycopg.Error,
                                         dialect=connection.dialect) from error
    finally:
        cursor.close()


def _settings_sql(statement_ms: int | None) -> str:
    settings = [GENERIC_PLANS_SETTING]
    if statement_ms is not None:
        ms = int(statement_ms)  # a whole number written in: nothing to quote
        settings[:0] = [f"set_config('statement_timeout', '{ms}', true)",
                        "set_config('lock_timeout', '0', true)",
                        "set_config('kpibot.commit_by', CAST(clock_timestamp() + "
                        f"make_interval(secs => {ms} / 1000.0) AS text), true)"]
    return f"SELECT {', '.join(settings)}"


def tell(connection: sa.Connection, cursor: Any, sql: str) -> None:
    """The engine's `before_cursor_execute` listeners, of `sql` (sent with no values)."""
    listeners = connection.dispatch.before_cursor_execute
    if listeners:
        listeners(connection, cursor, sql, (), None, False)


# psycopg connection -> the remaining milliseconds of the read whose BEGIN it has not sent yet
_pending_reads: weakref.WeakKeyDictionary[Any, Callable[[], int | None]] = (
    weakref.WeakKeyDictionary())


# psycopg connection -> the check of a guessed workspace its pending read sends after its
# settings (`begin_read`)
_read_checks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


# psycopg connection -> True: its read's COMMIT went out ahead (`commit_ahead`)
_committed_reads: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ"
COMMIT = "COMMIT"


def end_read(session: Session) -> None:
    """End a read session's transaction with COMMIT, which keeps the connection's prepared
    statements (a ROLLBACK makes psycopg drop them all). Its objects are expunged first, so the
    commit has nothing to flush: a read never writes. A read that ran no statement began
    nothing: its COMMIT sends nothing."""
    forget_read(session.connection())
    session.expunge_all()
    session.commit()
