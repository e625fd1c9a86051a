"""SQLite: a chat command's statements run straight on the driver (sqlite3), compiled once.

SQLAlchemy's execution (its context, cursor result and type processing) cost four to five
times what SQLite itself takes for the small statements of a chat command: the workspace read
125 µs through Core and 110 µs through `exec_driver_sql`, 25-35 µs on the driver. That was
most of what `/kpi log` cost over `/kpi ping` (issue 18). `run` compiles a Core statement once
per dialect and set of parameters into its SQL, the positional order of its parameters and
the converters of their column types (and of the columns it returns), then runs it on the
connection's driver cursor. The engine's `before_cursor_execute` listeners are still told of
each statement (statement counters, `benchmarks.command_costs`), and a driver error is raised
as SQLAlchemy raises it (`DBAPIError`), so callers see no difference. Other dialects run the
statement through Core.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from storage.compiled import converted_rows, sqlite_utc_text
from storage.compiled import utc_instant as _utc_instant
from storage.types import UTCDateTime


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order of the SQL's `?`
    binds: tuple[Callable | None, ...]  # each parameter's conversion (None: as it is)
    expanding: str | None  # the one IN-list parameter, if any
    given: dict[str, object]  # values the statement carries itself (`col == "x"`)
    results: tuple[tuple[int, Callable], ...] | None  # (column, its conversion); None: no rows


def run(connection: sa.Connection, statement: sa.Executable,
        params: Mapping[str, object] | None = None) -> list[tuple]:
    """Every row `statement` returns (an empty list for one that returns none), given
    `params` by name; a list parameter of an IN (`bindparam(..., expanding=True)`) is one
    `?` per value."""
    params = params or {}
    if connection.dialect.name != "sqlite":
        from storage import pg_driver  # (it imports this module's converters)

        return pg_driver.run(connection, statement, params)
    compiled = _compile(statement, connection.dialect, tuple(params))
    values: list[object] = []
    sql = compiled.sql
    for name, convert in zip(compiled.names, compiled.binds, strict=True):
        value = params[name] if name in params else compiled.given[name]
        if name == compiled.expanding:
            values.extend(value if convert is None else map(convert, value))
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(value)))
        else:
            values.append(value if convert is None or value is None else convert(value))
    return converted_rows(execute_sql(connection, sql, tuple(values)), compiled.results)


def run_together(connection: sa.Connection,
                 statements: Sequence[tuple[sa.Executable, Mapping[str, object]]]
                 ) -> list[list[tuple]]:
    """`run` of each of `statements`, none depending on another's result: on PostgreSQL sent
    at once and answered in one round trip (storage/pg_driver.py), on SQLite one by one."""
    if connection.dialect.name != "sqlite":
        from storage import pg_driver

        return pg_driver.run_together(connection, statements)
    return [run(connection, statement, params) for statement, params in statements]


def execute_sql(connection: sa.Connection, sql: str, values: Sequence = (), *,
                many: bool = False) -> list[tuple]:
    """SQLite: `sql` on the connection's driver cursor with `values` as they go to the
    driver (rows of them when `many`); the rows it returns."""
    cursor = connection.connection.driver_connection.cursor()
    listeners = connection.dispatch.before_cursor_execute
    if listeners:
        listeners(connection, cursor, sql, values, None, many)
    try:
        if many:
            cursor.executemany(sql, values)
            return []
        return cursor.execute(sql, values).fetchall()
    except sqlite3.Error as error:
        raise sa.exc.DBAPIError.instance(sql, values, error, sqlite3.Error,
                                         dialect=connection.dialect) from error
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def _compile(statement: sa.Executable, dialect: sa.Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch:  # Python-side column defaults
        raise ValueError(f"storage.driver: give every column a value: {compiled.string}")
    names = tuple(compiled.positiontup or ())
    expanding = [name for name in names if compiled.binds[name].expanding]
    if len(expanding) > 1:
        raise ValueError(f"storage.driver: one IN list at most: {compiled.string}")
    columns = returned_columns(statement)
    return _Compiled(
        sql=compiled.string, names=names,
        binds=tuple(bind_conversion(compiled.binds[name].type, dialect) for name in names),
        expanding=expanding[0] if expanding else None,
        given={name: compiled.binds[name].effective_value for name in names
               if name not in keys and not compiled.binds[name].required},
        results=None if columns is None else tuple(
            (i, convert) for i, c in enumerate(columns)
            if (convert := result_converter(c.type, dialect)) is not None))


def returned_columns(statement) -> tuple | None:
    """The typed columns the statement returns (None: not known, as for a plain text)."""
    selected = getattr(statement, "selected_columns", None)  # Select, text().columns(...)
    if selected is not None:
        return tuple(selected)
    return tuple(statement.exported_columns) if getattr(statement, "_returning", ()) else None


def bind_conversion(type_, dialect: sa.Dialect) -> Callable | None:
    """`bind_converter`, None for a value given as it is."""
    convert = bind_converter(type_, dialect)
    return None if convert is unconverted else convert


@functools.lru_cache(maxsize=256)
def bind_converter(type_, dialect: sa.Dialect) -> Callable:
    """What the driver is given for a value of `type_` (`unconverted`: the value itself)."""
    processor = type_.dialect_impl(dialect).bind_processor(dialect) or unconverted
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        sample = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
        if sqlite_utc_text(sample) == processor(sample) and processor(None) is None:
            return sqlite_utc_text
    return processor


def unconverted(value):
    return value


def result_converter(type_, dialect: sa.Dialect) -> Callable | None:
    """What turns a driver's value of `type_` (never None) into the column's (None: the
    value itself)."""
    processor = type_.dialect_impl(dialect).result_processor(dialect, None)
    if processor is not None and isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        sample = "2026-03-04 05:06:07.000089"
        if _utc_instant(sample) == processor(sample):
            return _utc_instant
    return processor
