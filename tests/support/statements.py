"""`executed(engine)`: the statements an engine sends to its driver inside a block;
`forget_prepared(engine)`: PostgreSQL's prepared statements dropped behind the engine's back;
`terminate(engine, dbapi_connection)`: a connection the server ended behind its back."""

from __future__ import annotations

import select
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
    the one kept for it, else the pool's next, storage/pg_pool.py), outside any transaction
    and unseen by kpibot (storage/pg_pipeline.py): the statements it prepared there by name
    are gone, as behind a pooler or after a psycopg ROLLBACK it did not see."""
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


def terminate(engine: sa.Engine, dbapi_connection) -> int:
    """PostgreSQL ends the backend of `dbapi_connection` (one of `engine`'s), unseen by kpibot
    (`pg_terminate_backend` from another connection), and its goodbye (the FATAL message, the
    closed socket) has arrived on the connection's socket. Returns the backend's id."""
    backend = dbapi_connection.info.backend_pid
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as other:
            assert other.exec_driver_sql(f"SELECT pg_terminate_backend({backend})").scalar()
        for _ in range(500):
            if select.select([dbapi_connection.fileno()], [], [], 0.01)[0]:
                break
    finally:
        admin.dispose()
    return backend
