"""Fast many-row writes and reads in chunks, shared by the event store's modules."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.driver import bind_converter, execute_sql, unconverted


class BulkInsert:
    """An INSERT (or upsert) executed once per row; rows are tuples in `columns` order.

    SQLite: the rows go straight to the driver, SQLAlchemy's per-row parameter handling would
    take as long as SQLite's insert itself. Values whose column type converts them
    (timestamps, dates) must go through `converter(column)` first, and `columns` must be in
    table order. Other databases: an ordinary Core executemany (converters are the identity).
    """

    def __init__(self, session: Session, table: sa.Table, columns: Sequence[str],
                 statement=None) -> None:
        self.session, self.table, self.columns = session, table, tuple(columns)
        self.statement = statement if statement is not None else _plain_insert(table)
        self.dialect = session.get_bind().dialect
        self.raw = self.dialect.name == "sqlite"
        if self.raw:
            self.sql = _positional_sql(self.statement, self.dialect, self.columns)

    def converter(self, column: str):
        return _converter(self.table, column, self.dialect) if self.raw else unconverted

    def run(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        if self.raw:  # one row (a chat command's rollups) as one statement
            execute_sql(self.session.connection(), self.sql, rows if len(rows) > 1 else rows[0],
                        many=len(rows) > 1)
        else:
            self.session.execute(self.statement, [dict(zip(self.columns, row, strict=True))
                                                  for row in rows])


@functools.lru_cache(maxsize=256)
def _converter(table: sa.Table, column: str, dialect: sa.Dialect):
    """The driver value of `column`'s values, found once per table, column and dialect (a chat
    command's rollup upsert asked for it twice per command)."""
    return bind_converter(table.c[column].type, dialect)


@functools.cache
def _plain_insert(table: sa.Table):
    return sa.insert(table)


@functools.lru_cache(maxsize=64)
def _positional_sql(statement, dialect: sa.Dialect, columns: tuple[str, ...]) -> str:
    """The SQL of `statement` taking `columns` in order, compiled once per statement object
    (a statement built once, like the rollup upsert, is compiled once: one chat command's
    write used to compile it anew)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if tuple(compiled.positiontup) != columns:
        raise RuntimeError(f"{statement.table.name}: the insert takes "
                           f"{compiled.positiontup}, not {columns}")
    return compiled.string


def chunks(items: Sequence[str], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]
