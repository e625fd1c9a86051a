"""PostgreSQL: a read whose statements all go out read ahead, without SQLAlchemy's Session.

`/kpi funnel`'s read on PostgreSQL is one pipeline: BEGIN and the read's settings, the
statements read ahead (storage/pg_batch.py) and, when they are likely all of its statements,
its COMMIT (storage/plans.py `commit_ahead`). Nothing of it needs SQLAlchemy's Session or
Connection, whose checkout with the read's isolation, transaction bookkeeping, COMMIT (which
sends nothing after a COMMIT sent ahead) and reset were a fifth of the funnel's client CPU.
`light_read` runs such a read on a pooled psycopg connection put in autocommit for it, as
storage/pg_driver.py `run_pooled` runs the workspace read: on `check_out`'s connection (the
last one kept, else the pool's, storage/pg_pool.py), the engine's statement listeners are
told, and a driver error is raised as SQLAlchemy raises it (`DBAPIError`, the connection
invalidated when it is gone).

`LightSession` answers what the funnel's readers ask of a Session (`connection()`,
`get_bind()`), and `LightConnection` what storage/prepared.py, pg_batch.py, plans.py and
pg_driver.py's numbered runner ask of a Connection. A statement that needs SQLAlchemy's own
execution (`execute`, `exec_driver_sql`) raises `plans.ReadAgain`, sending nothing: the
caller reads again through `Database.read` (bot/handlers/reports.py `handle_funnel`). A read
that ends with its transaction still open (its COMMIT not sent ahead) ends with COMMIT, which
keeps the connection's prepared statements, as `plans.end_read` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from psycopg.pq import TransactionStatus

from storage import pg_driver, plans

if TYPE_CHECKING:
    import sqlalchemy as sa

    from storage.engine import Database

_IDLE, _OPEN = TransactionStatus.IDLE, TransactionStatus.INTRANS


class LightConnection:
    """A pooled connection as the read's statement runners see a SQLAlchemy Connection."""

    def __init__(self, engine: sa.Engine, pooled: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.connection = pooled  # (`.driver_connection`, `.dbapi_connection`: psycopg's)
        self.dispatch = engine.dispatch  # the engine's statement listeners

    def invalidate(self, exception: BaseException | None = None) -> None:
        self.connection.invalidate(exception)

    def execute(self, *_args: Any, **_kwargs: Any) -> Any:
        raise plans.ReadAgain("storage.pg_light: a statement for SQLAlchemy to run")

    exec_driver_sql = execute


class LightSession:
    """What the funnel's readers (storage/facts.py, deal_counts.py, users.py) ask of a
    Session."""

    def __init__(self, connection: LightConnection) -> None:
        self._connection = connection

    def connection(self) -> LightConnection:
        return self._connection

    def get_bind(self) -> sa.Engine:
        return self._connection.engine


@contextmanager
def light_read(database: Database) -> Iterator[LightSession]:
    """A read transaction as `Database.read` opens it on PostgreSQL (REPEATABLE READ, the
    read's settings and deadline, BEGIN sent with its first statements: `plans.begin_read`),
    on a pooled connection without SQLAlchemy's Session or Connection. Past the deadline
    nothing starts (DeadlinePassed)."""
    database.remaining_ms()
    pooled = pg_driver.check_out(database.engine)
    driver_connection = pooled.driver_connection
    light = LightConnection(database.read_bind(), pooled)  # (what reads remember: per it)
    try:
        driver_connection.autocommit = True  # psycopg sends no BEGIN of its own
        plans.begin_read(light, database.remaining_ms, database.workspace_check)
        try:
            yield LightSession(light)
        except plans.ReadAgain:
            _end(light)
            raise
        _end(light)
    finally:
        plans.forget_read(light)
        # (a failed transaction rolled back, out of autocommit)
        pg_driver.hand_back(pooled, database.engine)


def _end(light: LightConnection) -> None:
    """The read's COMMIT, unless none is due (sent ahead, or nothing ran)."""
    plans.forget_read(light)
    driver_connection = light.connection.driver_connection
    if driver_connection.info.transaction_status != _OPEN:
        return
    cursor = driver_connection.cursor()
    plans.tell(light, cursor, plans.COMMIT)
    try:
        cursor.execute(plans.COMMIT, prepare=False)
    except light.dialect.loaded_dbapi.Error as error:
        raise pg_driver.sqlalchemy_error(light, cursor, plans.COMMIT, None, error) from error
    finally:
        cursor.close()
