"""PostgreSQL: read statements of one transaction sent together, in one round trip.

A `/kpi funnel` read eight statements one after the other, a round trip each (with psycopg's
wait for each answer), though half of them depend on nothing read before them: the deal
counts, the history version, the stage-time histograms of the period's unsettled months and
the people's names. `read_ahead` sends such statements at once in psycopg's pipeline mode
(one Sync, one round trip) and keeps their rows for this transaction; `take` hands them to
the `Prepared` statement that asks for the same statement and values next (once), which
otherwise runs as before. The rows are the transaction's own: a read runs at REPEATABLE READ
(storage/engine.py), so a statement read ahead returns what it would have returned when asked;
and they are kept per SQLAlchemy connection (one transaction: a session's next transaction
gets a new one), never past it. A statement planned for its values (`CUSTOM_PLANS`) goes with
its values written in and is not prepared, as it would have been. When the caller guesses
that these are all of its read's statements, the read's COMMIT goes in the same pipeline
(`read_ahead(..., commit=True)`, storage/plans.py `commit_ahead`): a read-only transaction
whose BEGIN, statements and COMMIT are one round trip; a statement that would run after it
raises `plans.ReadAgain` and is never sent.

The statements go out on libpq's pipeline (storage/pg_pipeline.py `send_numbered`), each
prepared by name on the connection the first time it is sent there, then only bound and
executed, values written by psycopg's dumpers and rows read by its loaders: psycopg's own
pipeline cost a cursor, a query conversion and a result poll per statement (~0.3 ms of the
funnel's client CPU) and parsed each statement again until its fifth run on the connection.
A server that forgot them (DEALLOCATE ALL behind the pipeline's back) fails the pipeline with
nothing committed; the read then raises `plans.ReadAgain`, and its caller reads again
(bot/handlers/reports.py), the statements prepared again, and a guessed workspace's check
that got no answer sent again (storage/workspace_guess.py).
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from storage import plans

if TYPE_CHECKING:
    from storage.prepared import Prepared

# sa.Connection (one transaction) -> {(statement, values): rows}
_read: weakref.WeakKeyDictionary[sa.Connection, dict[tuple, list[tuple]]] = (
    weakref.WeakKeyDictionary())


def read_ahead(connection: sa.Connection, requests: Sequence[tuple[Prepared, dict[str, Any]]],
               *, commit: bool = False) -> bool:
    """Run each (statement, params) of `requests` on `connection` (PostgreSQL) in one round
    trip and keep the rows for `take`. The engine's `before_cursor_execute` listeners are
    told of each statement; a driver error is raised as SQLAlchemy raises it.

    `commit`: the caller guesses these are all of its read's statements, so the read's
    COMMIT goes out after them in the same round trip, if its BEGIN does too (a read begun
    before, or a transaction that is not a read, is left as it is); a statement that would
    run after it raises `plans.ReadAgain` (`plans.commit_ahead`). True when it went."""
    from storage import pg_driver, pg_pipeline  # (psycopg's modules: PostgreSQL only)

    driver_connection = connection.connection.driver_connection
    # the read's BEGIN and settings first, if not sent yet (storage/plans.py)
    begin, check = plans.pending_read_bound(connection) or (None, None)
    statements: list[tuple[bytes, Any]] = [(_encoded(sql), values) for sql, values in begin or ()]
    sent = []
    for prepared, params in requests:
        compiled, args = prepared.request(connection, params)
        if compiled.numbered:
            sql, values = compiled.sql, args
            statements.append((_encoded(sql), values))
        else:  # planned for its values: written in, never prepared (storage/plans.py)
            sql, values = plans.with_values(compiled.sql, args), None
            statements.append((sql.encode(), None))
        pg_driver.tell_listeners(connection, None, sql, values)
        sent.append((prepared, compiled, args))
    commit = commit and begin is not None
    if commit:  # the read's end (a read-only transaction: nothing to lose)
        plans.tell(connection, None, plans.COMMIT)
    answers, transformer = pg_pipeline.send_numbered(driver_connection, statements,
                                                     commit=commit)
    if check is not None:  # a guessed workspace's check, last of the opening statements:
        # checked only once it answered (else the command's next transaction sends it again)
        at = len(begin) - 1
        check.sent = answers.answered(at)
        if check.sent:  # its answer carries the server's clock, for the engine's next guess
            check.answered(answers.rows(transformer, at), time.monotonic())
    if answers.error is not None:
        if answers.forgotten:  # nothing of the read ran: its caller reads again
            raise plans.ReadAgain("storage.pg_batch: the server forgot the statements "
                                  "prepared on the connection")  # (prepared again next)
        raise pg_driver.sqlalchemy_error(connection, None, "(statements read ahead)", None,
                                         answers.error) from answers.error
    found = _read.setdefault(connection, {})
    first = len(statements) - len(sent)
    for index, (prepared, compiled, args) in enumerate(sent, first):
        found[(prepared, _key(args))] = prepared.converted(
            compiled, answers.rows(transformer, index))
    if commit:
        plans.commit_ahead(connection)
    return commit


@functools.lru_cache(maxsize=256)
def _encoded(sql: str) -> bytes:
    """A statement's text as sent (compiled once: the same text on every read)."""
    return sql.encode()


def take(connection: sa.Connection, prepared: Prepared, args: Any) -> list[tuple] | None:
    """The rows `read_ahead` read on this connection for `prepared` with these values (then
    forgotten), or None."""
    found = _read.get(connection) if _read else None
    if not found:
        return None
    return found.pop((prepared, _key(args)), None)


def _key(args: Any) -> tuple:
    """The values a statement is sent with (by position, or by name) as a key; an array,
    sent as a list, as a tuple."""
    if isinstance(args, dict):
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                            for k, v in args.items()))
    try:
        hash(args)  # (a tuple of plain values: itself, with no Python loop over them)
    except TypeError:
        return tuple(tuple(v) if isinstance(v, list) else v for v in args)
    return args
