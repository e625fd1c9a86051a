"""PostgreSQL: a chat command's small statements compiled once and run on psycopg's cursor.

What `storage/driver.py` does for SQLite, for the statements `driver.run` is given on
PostgreSQL (the workspace read, an event's insert with its rollups, a deal's stamp and
refresh): SQLAlchemy's execution (its context, cursor result and type processing) was about
a third of a `/kpi log`'s client CPU there (issue 18). A Core statement is compiled once per
dialect and set of parameter names into its SQL (psycopg's `%(name)s` placeholders), the
conversion of each parameter's type and of each returned column's; then it runs on the
connection's psycopg cursor. The engine's `before_cursor_execute` listeners are still told,
a pending BEGIN of a limited write goes out with it (storage/pg_begin.py), and a driver error
is raised as SQLAlchemy raises it (`DBAPIError`, the connection invalidated when it is gone).
An expanding IN list is sent as one array parameter (`= ANY(...)`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg.pq import ExecStatus, TransactionStatus

from storage import pg_begin, pg_pipeline, pg_pool, plans
from storage.driver import bind_conversion, converted_rows, result_converter, returned_columns

_ROWS = ExecStatus.TUPLES_OK  # a result with rows (none when the statement returns none)
_IDLE = TransactionStatus.IDLE  # no transaction open on the connection


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[str, Callable | None], ...]  # each placeholder and its conversion
    given: dict[str, object]  # values the statement carries itself (`col == "x"`)
    results: tuple[tuple[int, Callable], ...]  # (column, its conversion) of the rows returned


def run(connection: sa.Connection, statement: sa.Executable,
        params: Mapping[str, object]) -> list[tuple]:
    """Every row `statement` returns (an empty list for one that returns none)."""
    compiled = _compile(statement, connection.dialect, tuple(params))
    if compiled is None:
        result = connection.execute(statement, params)
        return [tuple(row) for row in result] if result.returns_rows else []
    values = _values(compiled, params)
    plans.send_pending_read(connection)  # a read's BEGIN and settings, if not sent yet
    cursor = connection.connection.driver_connection.cursor()
    tell_listeners(connection, cursor, compiled.sql, values)
    try:
        pg_begin.execute(cursor, compiled.sql, values)
        rows = _rows(cursor)
    except connection.dialect.loaded_dbapi.Error as error:
        raise sqlalchemy_error(connection, cursor, compiled.sql, values, error) from error
    finally:
        cursor.close()
    return converted_rows(rows, compiled.results)


def run_pooled(engine: sa.Engine, statement: sa.Executable, params: Mapping[str, object], *,
               alone: tuple | None = None,
               first: tuple[sa.Executable, Mapping[str, object]] | None = None) -> list[tuple]:
    """`run` of one statement outside any transaction (`Database.read_first`, `write_one`),
    on a pooled connection (put in psycopg's autocommit mode for a read, and back), without
    SQLAlchemy's Connection: its checkout, isolation characteristics and reset were a third
    of the workspace read's client CPU. The connection is `check_out`'s (the last one kept,
    else the pool's checkout, which pings one that may have gone bad: storage/pg_pool.py),
    listeners are told, and errors are raised as `run` raises them (the connection
    invalidated when it is gone).
    `alone`: the statement as a whole transaction (its limits and the statement in one
    pipeline, committed at its Sync: `pg_begin.pipelined`); `first` (with
    `alone`): a statement run before it in that transaction and pipeline, its rows not
    returned."""
    dialect = engine.dialect
    compiled = _compile(statement, dialect, tuple(params))
    before = None if first is None else _compile(first[0], dialect, tuple(first[1]))
    if compiled is None or first is not None and (before is None or alone is None):
        raise ValueError(f"storage.pg_driver: cannot run on a pooled connection: {statement}")
    values = _values(compiled, params)
    ahead = [] if before is None else [(before.sql, _values(before, first[1]))]
    pooled = check_out(engine)
    driver_connection, cursor = pooled.driver_connection, None
    try:
        if alone is None:
            cursor = driver_connection.cursor()
        listeners = engine.dispatch.before_cursor_execute
        if listeners:
            for sql, each in (*ahead, (compiled.sql, values)):
                listeners(_Pooled(pooled), cursor, sql, each, None, False)
        if alone is None:
            driver_connection.autocommit = True  # (no BEGIN of psycopg's own)
            cursor.execute(compiled.sql, values)
            rows = _rows(cursor)
        else:  # the limits and the statement prepared: one pipeline, a whole transaction
            # (pg_begin); sent on libpq's connection, which psycopg's autocommit does not concern
            rows = _rows_alone(driver_connection, [*ahead, (compiled.sql, values)], alone)
    except dialect.loaded_dbapi.Error as error:  # (a connection that closed: invalidated)
        raise _driver_error(dialect, driver_connection, cursor, pooled.invalidate,
                            compiled.sql, values, error) from error
    finally:
        if cursor is not None:
            cursor.close()
        hand_back(pooled, engine)
    return converted_rows(rows, compiled.results)


def _rows_alone(driver_connection, statements: list[tuple[str, dict]], alone: tuple
                ) -> list[tuple]:
    """The rows of the last of `statements` run as a transaction of their own
    (`pg_begin.pipelined`: the limits of `alone` and the statements prepared on the
    connection, committed at the pipeline's Sync; one round trip)."""
    return pg_begin.pipelined(driver_connection, statements, begin=alone, commit=True)[-1]


@dataclass(frozen=True)
class _Pooled:
    """What the statement listeners are given for `run_pooled`'s statement (as a Connection:
    `.connection` the pooled connection, `.connection.dbapi_connection` psycopg's)."""
    connection: object


def hand_back(pooled, engine: sa.Engine) -> None:
    """`check_out`'s connection given back as SQLAlchemy left it: out of any failed
    transaction (ROLLBACK), out of autocommit. One that was left so (no transaction open) is
    kept for the next `check_out` (storage/pg_pool.py `keep`), any other goes back to the
    pool; one that cannot be made so is invalidated (the pool replaces it)."""
    driver_connection, clean = pooled.driver_connection, False
    try:
        if pooled.is_valid and driver_connection.closed:
            pooled.invalidate()
        elif pooled.is_valid:
            clean = driver_connection.info.transaction_status == _IDLE
            if not clean:
                pg_pipeline.forget(driver_connection)  # (psycopg deallocates them all)
                driver_connection.rollback()
            if driver_connection.autocommit:
                driver_connection.autocommit = False
    except engine.dialect.loaded_dbapi.Error as error:
        clean = False
        pooled.invalidate(error)
    finally:
        if not (clean and pg_pool.keep(engine, pooled)):
            pooled.close()


def run_then(connection: sa.Connection, statement: sa.Executable, params: Mapping[str, object],
             then: Sequence[sa.Executable]) -> list[list[tuple]] | None:
    """The rows of `statement` and then of each of `then` (reads of what it wrote, given the
    same `params`), as one query with the transaction's BEGIN and limits
    (`pg_begin.pipelined`): one round trip. None, and nothing sent, when `statement` is
    not its transaction's first or one of them must run through Core: the caller runs them
    apart."""
    compiled = [_compile(each, connection.dialect, tuple(params)) for each in (statement, *then)]
    driver_connection = connection.connection.driver_connection
    if None in compiled or not pg_begin.is_pending(driver_connection):
        return None
    values = [_values(each, params) for each in compiled]
    for each, its_values in zip(compiled, values, strict=True):
        tell_listeners(connection, None, each.sql, its_values)
    try:  # BEGIN, the limits and the statements prepared: one pipeline (pg_begin.pipelined)
        rows = pg_begin.pipelined(driver_connection, [
            (each.sql, its_values) for each, its_values in zip(compiled, values, strict=True)],
            begin=pg_begin.take_pending(driver_connection))
    except connection.dialect.loaded_dbapi.Error as error:
        raise sqlalchemy_error(connection, None, compiled[0].sql, values[0], error) from error
    return [converted_rows(each_rows, each.results)
            for each_rows, each in zip(rows, compiled, strict=True)]


def run_together(connection: sa.Connection,
                 statements: Sequence[tuple[sa.Executable, Mapping[str, object]]]
                 ) -> list[list[tuple]]:
    """The rows of each of `statements` (none depending on another's result), sent at once in
    psycopg's pipeline mode and answered in one round trip (a deal's refresh: its events and
    its row). Statements Core must run, or a transaction's first statement (its BEGIN and
    limits go out with it, storage/pg_begin.py), run one after the other as `run` runs them.
    The first error stops the rest and is raised as `run` raises it."""
    compiled = [_compile(statement, connection.dialect, tuple(params))
                for statement, params in statements]
    driver_connection = connection.connection.driver_connection
    plans.send_pending_read(connection)  # a read's BEGIN and settings, if not sent yet
    if None in compiled or pg_begin.is_pending(driver_connection):
        return [run(connection, statement, params) for statement, params in statements]
    cursors, sent = [], []
    try:
        with driver_connection.pipeline():
            for each, (_statement, params) in zip(compiled, statements, strict=True):
                values = _values(each, params)
                cursor = driver_connection.cursor()
                cursors.append(cursor)
                sent.append((each.sql, values))
                tell_listeners(connection, cursor, each.sql, values)
                cursor.execute(each.sql, values)
        return [converted_rows(_rows(cursor), each.results)
                for cursor, each in zip(cursors, compiled, strict=True)]
    except connection.dialect.loaded_dbapi.Error as error:
        sql, values = sent[-1] if sent else ("", {})
        raise sqlalchemy_error(connection, cursors[-1] if cursors else None, sql, values,
                      error) from error
    finally:
        for cursor in cursors:
            cursor.close()


def execute_numbered(connection: sa.Connection, sql: str, values: Sequence) -> list[tuple]:
    """The rows of `sql` (the server's own `$n` placeholders, storage/plans.py) for `values`,
    on psycopg's raw cursor, prepared from its fifth run as psycopg does. A read's first
    statement goes out after its BEGIN and settings in one pipeline (one round trip)."""
    import psycopg

    driver_connection = connection.connection.driver_connection
    cursor = psycopg.RawCursor(driver_connection)
    begin = plans.pending_read(connection, cursor)
    tell_listeners(connection, cursor, sql, values)
    try:
        if begin is None:
            cursor.execute(sql, values)
        else:
            with driver_connection.pipeline(), driver_connection.cursor() as opening:
                plans.send_opening(opening, begin)
                cursor.execute(sql, values)
        return cursor.fetchall()
    except connection.dialect.loaded_dbapi.Error as error:
        raise sqlalchemy_error(connection, cursor, sql, values, error) from error
    finally:
        cursor.close()


def compiled_for(statement: sa.Executable, dialect: sa.Dialect,
                 params: Mapping[str, object]) -> tuple[str, dict[str, object]] | None:
    """`statement`'s SQL (psycopg's `%(name)s` placeholders) and its values for `params`, as
    `run` would send them; None for a statement that must run through Core."""
    compiled = _compile(statement, dialect, tuple(params))
    return None if compiled is None else (compiled.sql, _values(compiled, params))


def _values(compiled: _Compiled, params: Mapping[str, object]) -> dict[str, object]:
    values = {}
    for name, convert in compiled.binds:
        value = params[name] if name in params else compiled.given[name]
        values[name] = value if convert is None or value is None else convert(value)
    return values


def tell_listeners(connection: sa.Connection, cursor, sql: str, values: dict) -> None:
    """The engine's `before_cursor_execute` listeners (statement counters, tests)."""
    listeners = connection.dispatch.before_cursor_execute
    if listeners:
        listeners(connection, cursor, sql, values, None, False)


def _rows(cursor) -> list[tuple]:
    # (`description` builds a column object per column on each call: the result's status)
    return cursor.fetchall() if cursor.pgresult.status == _ROWS else []


def sqlalchemy_error(connection: sa.Connection, cursor, sql: str, values: dict,
            error: Exception) -> sa.exc.DBAPIError:
    """A driver error as SQLAlchemy raises it (`DBAPIError`), the connection invalidated when
    it is gone."""
    return _driver_error(connection.dialect, connection.connection.dbapi_connection, cursor,
                         connection.invalidate, sql, values, error)


def _driver_error(dialect: sa.Dialect, dbapi_connection, cursor,
                  invalidate: Callable[[Exception], object], sql: str | None, values,
                  error: Exception) -> sa.exc.DBAPIError:
    """`sqlalchemy_error` for a connection given by its parts (`run_pooled`'s has no
    SQLAlchemy Connection): `invalidate(error)` when it is gone."""
    gone = dialect.is_disconnect(error, dbapi_connection, cursor)
    if gone:
        invalidate(error)
    return sa.exc.DBAPIError.instance(sql, values, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=gone, dialect=dialect)


@functools.lru_cache(maxsize=256)
def _compile(statement: sa.Executable, dialect: sa.Dialect,
             keys: tuple[str, ...]) -> _Compiled | None:
    # the keys name the columns an INSERT or UPDATE sets; not those of the DML in a SELECT's
    # CTEs (an event's insert and its deal's stamp, storage/rollups.py `with_rollups`): each
    # says what it sets itself
    compiled = statement.compile(
        dialect=dialect, column_keys=None if isinstance(statement, sa.Select) else list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch:  # Python-side column defaults
        raise ValueError(f"storage.pg_driver: give every column a value: {compiled.string}")
    if compiled.literal_execute_params or compiled.escaped_bind_names:
        return None  # renamed parameters: through Core
    sql, lists = _in_lists_as_arrays(compiled)
    if sql is None:
        return None  # an IN list written otherwise: through Core
    names = tuple(compiled.binds)
    columns = returned_columns(statement)
    return _Compiled(
        sql=sql,
        binds=tuple((name, _each(convert) if name in lists else convert)
                    for name in names
                    for convert in (bind_conversion(compiled.binds[name].type, dialect),)),
        given={name: compiled.binds[name].effective_value for name in names
               if name not in keys and not compiled.binds[name].required},
        results=() if columns is None else tuple(
            (i, convert) for i, c in enumerate(columns)
            if (convert := result_converter(c.type, dialect)) is not None))


def _in_lists_as_arrays(compiled) -> tuple[str | None, frozenset[str]]:
    """The SQL with each expanding IN list (`col IN (__[POSTCOMPILE_keys])`, which Core
    rewrites into one placeholder per value on every run) as one array parameter, `col =
    ANY(%(keys)s)` (`<> ALL` for NOT IN): the same rows, one text whatever the number of
    values (psycopg sends a Python list as an array; an empty one matches nothing, as an
    empty IN does). None when a list is written in any other way."""
    sql, lists = compiled.string, set()
    for bind in compiled.post_compile_params:
        if not bind.expanding:
            return None, frozenset()
        name, marker = bind.key, f"(__[POSTCOMPILE_{bind.key}])"
        negated, plain = f" NOT IN {marker}", f" IN {marker}"
        found = sql.count(marker)
        sql = sql.replace(negated, f" <> ALL(%({name})s)").replace(plain, f" = ANY(%({name})s)")
        if found == 0 or marker in sql:
            return None, frozenset()
        lists.add(name)
    return sql, frozenset(lists)


def _each(convert: Callable | None) -> Callable:
    """A list parameter's conversion: each value's, into the list psycopg sends as an array."""
    if convert is None:
        return list
    return lambda values: [None if v is None else convert(v) for v in values]


def check_out(engine: sa.Engine):
    """A pooled connection for `run_pooled` or storage/pg_light.py's read, without
    SQLAlchemy's Connection: one kept from the last such statement when it needs no ping,
    else the pool's checkout (and its ping), both storage/pg_pool.py; no server: raised as
    Core raises it. Given back with `hand_back`."""
    pooled = pg_pool.take(engine)
    if pooled is not None:
        return pooled
    dialect = engine.dialect
    try:
        return engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:
        raise _driver_error(dialect, None, None, lambda _error: None, None, None,
                            error) from error
