"""`Prepared`: a read statement compiled once per dialect and run with little Python around it.

`connection.execute(statement, params)` costs SQLAlchemy about 0.1-0.3 ms on every call
before and after the database's own work: the statement's cache key, the parameters of every
position (the funnel's statements bind 30-110 positions: a type conversion each), a Row
object per row. On a history of a million events that was more than the funnel's SQL itself.
A `Prepared` statement is compiled once per dialect (the SQL text, the order of its bind
names, each name's conversion and each column's), and each run converts each distinct
parameter once and sends the text with `exec_driver_sql`: the engine's events still see
every statement (statement counts, the deadline), rows come back as plain tuples with the
columns' conversions applied (a UTC timestamp, as `storage.types.UTCDateTime` reads it).

A statement made by `Prepared.keyed(key, build)` is built only when first run through
SQLAlchemy; on the light SQLite reader (storage/lite.py: `kpibot kpi NAME --json`) its compiled
SQLite text is run by `key` (storage/compiled.py), without SQLAlchemy. Statements with
literal-rendered parameters are refused: their text changes with the values; one with an
expanding (`IN`) parameter runs through `connection.execute` (the reader expands it itself).
The conversions are storage/driver.py's, and on SQLite the text runs
on the driver's cursor as the chat commands' statements do there (`driver.execute_sql`). On
PostgreSQL the text is compiled with the server's own `$n` placeholders and runs on psycopg's
raw cursor (`storage.plans.execute_numbered`): psycopg parsed a large statement's `%(name)s`
placeholders anew on every run (it caches none over 4 KB or 50 parameters; the funnel's counts
are 7.6 KB with 71), and the statement stays prepared between commands (storage/plans.py). A
statement with `storage.plans.CUSTOM_PLANS` goes through `exec_driver_sql` instead, with its
values written into its text.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage.compiled import converted_rows

if TYPE_CHECKING:  # imported when a statement is first compiled or run through SQLAlchemy
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bind names in the order of the text's positions
    positional: bool
    binds: dict[str, Callable[[Any], Any] | None]  # name -> conversion (None: as is)
    constants: dict[str, Any]  # the statement's own values (`column == "won"`), by name
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, conversion)
    numbered: bool  # PostgreSQL's own `$n` placeholders (storage/plans.py: execute_numbered)
    expanding: bool = False  # an IN list: run through `connection.execute`
    # Worked out once (`_values`): the statement's own values converted, and a function that
    # reads the values of the text's positions in order.
    bound_constants: dict[str, Any] = field(init=False)
    positions: Callable[[Mapping[str, Any]], tuple] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound_constants", {
            name: value if self.binds[name] is None else self.binds[name](value)
            for name, value in self.constants.items() if name in self.binds})
        names = self.names
        if len(names) == 1:
            positions = lambda values, name=names[0]: (values[name],)  # noqa: E731
        else:
            positions = operator.itemgetter(*names) if names else lambda _values: ()  # noqa: E731
        object.__setattr__(self, "positions", positions)


class Prepared:
    """`statement` (a Core SELECT), compiled once per dialect; `rows` runs it."""

    def __init__(self, statement: sa.Executable | None = None, *, key: tuple | None = None,
                 build: Callable[[], sa.Executable] | None = None) -> None:
        self._statement = statement
        self._build = build
        self.key = key
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    @classmethod
    def keyed(cls, key: tuple, build: Callable[[], sa.Executable]) -> Prepared:
        """The statement `build()` makes, known by `key` (its module and shape: the same
        key, the same statement), built when first run through SQLAlchemy."""
        return cls(key=key, build=build)

    @property
    def statement(self) -> sa.Executable:
        if self._statement is None:
            with self._lock:
                if self._statement is None:
                    self._statement = self._build()
        return self._statement

    @property
    def _options(self) -> Mapping[str, Any]:
        return self.statement.get_execution_options()

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple]:
        """All rows for `params` (a value for every bind parameter the statement names;
        extra keys are ignored). PostgreSQL: rows this transaction already read for the same
        statement and values (`storage.pg_batch.read_ahead`) are taken instead. On the light
        SQLite reader (storage/lite.py), the statement's compiled text, by key."""
        keyed_rows = getattr(connection, "keyed_rows", None)
        if keyed_rows is not None:
            if self.key is None:
                raise ValueError("storage.prepared: the light reader runs keyed statements only")
            return keyed_rows(self.key, lambda: self.statement, params)
        from storage import driver, pg_batch, plans

        compiled, args = self.request(connection, params)
        if compiled.expanding:
            result = connection.execute(self.statement, params)
            rows = result.cursor.fetchall()  # plain values, converted below as the others
            result.close()
        elif connection.dialect.name == "sqlite":
            rows = driver.execute_sql(connection, compiled.sql, args)
        else:
            rows = pg_batch.take(connection, self, args)
            if rows is not None:
                return rows
            if compiled.numbered:  # PostgreSQL, `$n` text: psycopg parses nothing
                rows = plans.execute_numbered(connection, compiled.sql, args)
            else:  # the statement's execution options too (storage/plans.py: CUSTOM_PLANS)
                result = connection.exec_driver_sql(compiled.sql, args, self._options)
                rows = result.cursor.fetchall()
                result.close()
        return self.converted(compiled, rows)

    def request(self, connection: Connection, params: Mapping[str, Any]
                ) -> tuple[_Compiled, Any]:
        """The statement compiled for `connection`'s dialect and the values it is sent with
        (a tuple by position, or a dict by name) for `params`."""
        compiled = self._compiled.get(connection.dialect.name) or self._compile(connection)
        if compiled.expanding:
            return compiled, None
        return compiled, _values(compiled, params)

    @staticmethod
    def converted(compiled: _Compiled, rows: list[tuple]) -> list[tuple]:
        """The driver's rows with the columns' conversions applied."""
        return converted_rows(rows, compiled.results)

    def _compile(self, connection: Connection) -> _Compiled:
        from storage import plans

        dialect = connection.dialect
        statement = self.statement
        with self._lock:
            found = self._compiled.get(dialect.name)
            if found is None:
                numbered = dialect.name == "postgresql" and not self._options.get(
                    plans.CUSTOM_OPTION)
                found = self._compiled[dialect.name] = _compile(statement, dialect, numbered)
        return found


def _compile(statement: sa.Executable, dialect: sa.Dialect, numbered: bool) -> _Compiled:
    from storage import driver, plans

    compiled = statement.compile(dialect=plans.numbered_dialect() if numbered else dialect)
    if compiled.literal_execute_params:
        raise ValueError("a Prepared statement cannot have literal parameters")
    expanding = bool(compiled.post_compile_params)
    if expanding and numbered:  # compiled as SQLAlchemy runs it on this dialect
        compiled = statement.compile(dialect=dialect)
    binds = {name: driver.bind_conversion(bind.type, dialect)
             for name, bind in compiled.binds.items()}
    constants = {name: bind.effective_value for name, bind in compiled.binds.items()
                 if bind.value is not None or bind.callable is not None}
    results = []
    for i, column in enumerate(statement.selected_columns):
        convert = driver.result_converter(column.type, dialect)
        if convert is not None:
            results.append((i, convert))
    names = tuple(compiled.positiontup or ()) if compiled.positional else ()
    return _Compiled(compiled.string, names, compiled.positional, binds, constants,
                     tuple(results), numbered and not expanding, expanding)


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    """`compiled`'s values for `params` (each converted once): a tuple by position, or a dict
    by name. The statement's own values were converted when it was compiled, and the
    positions are read with one itemgetter: the funnel's counts bind 104 positions."""
    binds = compiled.binds
    values = compiled.bound_constants.copy()
    for name, value in params.items():
        if name in binds:
            convert = binds[name]
            values[name] = value if convert is None else convert(value)
    if len(values) < len(binds):
        raise KeyError(next(name for name in binds if name not in values))
    return compiled.positions(values) if compiled.positional else values
