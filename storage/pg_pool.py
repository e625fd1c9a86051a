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

The last connections a pooled statement used (storage/pg_driver.py `run_pooled`, `check_out`)
are kept checked out for the next one, up to `KEEP`: SQLAlchemy's checkout and checkin (its
proxy, events, reset and queue) were ~0.13 ms of a served `/kpi log`'s CPU, a tenth of what a
log costs beyond a ping (issue 18). `take` hands out the most recently kept connection by the
same rule: kept less than `PING_AFTER_IDLE_S` ago, with nothing to read on its socket. One that
fails it goes back to the pool noted as idle since it was kept, so the pool's checkout pings
it. Kept connections are the pool's, checked out: its other users have `KEEP` fewer, and
`Engine.dispose` closes them with the rest. As with the pool itself, no process forks with one
(bot/cli/workers.py forks before any connection exists).
"""

from __future__ import annotations

import collections
import select
import time
import weakref

import sqlalchemy as sa

PING_AFTER_IDLE_S = 1.0  # a connection idle longer than this is pinged before use
KEEP = 2  # connections kept checked out: one command after another, or two at once
_RETURNED = "kpibot_returned_at"  # (the DBAPI connection, time.monotonic() it came back)
_KEPT_SINCE = "kpibot_kept_since"  # time.monotonic() a kept connection was last used

# engine -> its kept connections, (pooled connection, time.monotonic() kept), last kept last
_kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
        since = record.info.pop(_KEPT_SINCE, None)  # (a kept one: idle since it was kept)
        if dbapi_connection is not None:
            record.info[_RETURNED] = (dbapi_connection, since or time.monotonic())

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)
    kept = _kept[engine] = collections.deque()
    sa.event.listen(engine, "engine_disposed", lambda _engine: _close_all(kept))
    weakref.finalize(engine, _give_all_back, kept)  # (an engine dropped without dispose)


def take(engine: sa.Engine):
    """The connection `keep` kept last for `engine`, if it may be used without a ping; None
    when there is none (the caller checks one out of the pool). One that may not goes back
    to the pool, to be pinged at its next checkout."""
    for pooled, since in _drained(_kept.get(engine, ())):
        if time.monotonic() - since <= PING_AFTER_IDLE_S and not _has_input(
                pooled.dbapi_connection, engine.dialect.loaded_dbapi.Error):
            return pooled
        _give_back(pooled, since)
    return None


def keep(engine: sa.Engine, pooled) -> bool:
    """Keep `pooled` (valid, idle: no transaction open, not in autocommit) checked out for
    the next `take`; False when `KEEP` are kept already (the caller gives it back)."""
    kept = _kept.get(engine)
    if kept is None or len(kept) >= KEEP:
        return False
    kept.append((pooled, time.monotonic()))
    return True


def kept_connections(engine: sa.Engine) -> list:
    """The connections kept for `engine` now, the last kept last (tests look at them)."""
    return [pooled for pooled, _since in _kept.get(engine, ())]


def let_go(engine: sa.Engine) -> None:
    """Give every connection kept for `engine` back to the pool, the last kept last (the
    pool's next checkout hands it out, last in, first out)."""
    _give_all_back(_kept.get(engine, ()))


def _give_all_back(kept) -> None:
    while kept:
        try:
            pooled, since = kept.popleft()
        except IndexError:  # (another thread took the last one)
            return
        _give_back(pooled, since)


def _give_back(pooled, since: float) -> None:
    pooled.info[_KEPT_SINCE] = since  # (the record's `info`, which the checkin listener reads)
    pooled.close()


def _close_all(kept: collections.deque) -> None:
    """`Engine.dispose`: the kept connections closed, as the pool's own are."""
    for pooled, _since in _drained(kept):
        pooled.invalidate()


def _drained(kept):
    while kept:
        try:
            yield kept.pop()
        except IndexError:  # (another thread took the last one)
            return


def _has_input(dbapi_connection, driver_error: type[Exception]) -> bool:
    """Whether the server sent something (or closed) while the connection sat in the pool
    (`poll`, not `select`: descriptors above 1023 too)."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError, driver_error):  # no socket any more: the ping will say
        return True
