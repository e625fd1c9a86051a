"""`executed(engine)`: the statements an engine sends to its driver inside a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def executed(engine: sa.Engine) -> Iterator[list[tuple[str, object]]]:
    """(statement, its parameters) of every statement `engine` runs in the block, in order,
    those run straight on SQLite's driver (storage/driver.py) included."""
    seen: list[tuple[str, object]] = []

    def record(_connection, _cursor, statement, parameters, *_args) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
