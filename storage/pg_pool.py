"""PostgreSQL: a pooled connection is pinged before use only when it may have gone bad.

SQLAlchemy's `pool_pre_ping` sent an empty query on every checkout, and a chat command checks
a connection out twice (the workspace read, then the write): a round trip each (issue 18).
Here a connection handed back less than `PING_AFTER_IDLE_S` ago, with nothing to read on its
socket, is used as it is. Anything else is pinged as the pre-ping did, and one that fails the
ping is replaced, with every pooled connection older than it (`InvalidatePoolError`, as the
pre-ping does), before the caller sees it.

What a server that closes a connection sends arrives on its idle socket at once: its FATAL
message (a restart, `pg_terminate_backend`, an idle-session timeout), then EOF; a server that
died leaves EOF. A socket with something to read is therefore pinged however recently it was
used; the ping reads what is there, or fails. Unsolicited messages a live server may send
(a notice, a parameter status) only cost that ping.
"""

from __future__ import annotations

import select
import time

import sqlalchemy as sa

PING_AFTER_IDLE_S = 1.0  # a connection idle longer than this is pinged before use
_RETURNED = "kpibot_returned_at"  # (the DBAPI connection, time.monotonic() it came back)


def install(engine: sa.Engine) -> None:
    """Ping `engine`'s connections on checkout as this module says (the engine is built
    without `pool_pre_ping`)."""
    dialect = engine.dialect

    def checkout(dbapi_connection, record, _proxy) -> None:
        returned = record.info.pop(_RETURNED, None)
        if returned is None or returned[0] is not dbapi_connection:
            return  # new: just connected, nothing to check
        if time.monotonic() - returned[1] <= PING_AFTER_IDLE_S \
                and not _has_input(dbapi_connection, dialect.loaded_dbapi.Error):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise sa.exc.InvalidatePoolError() from error  # the pool replaces it
            raise

    def checkin(dbapi_connection, record) -> None:
        if dbapi_connection is not None:
            record.info[_RETURNED] = (dbapi_connection, time.monotonic())

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)


def _has_input(dbapi_connection, driver_error: type[Exception]) -> bool:
    """Whether the server sent something (or closed) while the connection sat in the pool
    (`poll`, not `select`: descriptors above 1023 too)."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError, driver_error):  # no socket any more: the ping will say
        return True
