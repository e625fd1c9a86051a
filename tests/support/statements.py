"""`executed(engine)`: the statements an engine sends to its driver inside a block;
`forget_prepared(engine)`: PostgreSQL's prepared statements dropped behind the engine's back."""

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


def forget_prepared(engine: sa.Engine) -> None:
    """DEALLOCATE ALL on the connection a command's pooled statement takes next (PostgreSQL:
    the one kept for it, else the pool's next, storage/pg_pool.py), outside
    any transaction and unseen by kpibot (storage/pg_pipeline.py): the statements it prepared
    there by name are gone, as behind a pooler or after a psycopg ROLLBACK it did not see."""
    from storage import pg_pool

    kept = pg_pool.kept_connections(engine)  # (kept for the next command: that one)
    pooled = kept[-1] if kept else engine.raw_connection()
    try:
        pooled.driver_connection.autocommit = True  # (no transaction: nothing is told)
        pooled.driver_connection.execute("DEALLOCATE ALL")
        pooled.driver_connection.autocommit = False
    finally:
        if not kept:
            pooled.close()
