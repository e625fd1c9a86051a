"""PostgreSQL: a write's statements in one pipeline, each answer read on its own (libpq).

A `/kpi log`'s write sends its statements in one network write and reads the answers in one
round trip (issue 18: `/kpi log` ≤ 2× `/kpi ping`): BEGIN, the deadline's limits, the event's
insert with its rollups, the deal's reads; or the deal's UPDATE and the COMMIT; or, for a
write that is a whole transaction, its limits and statements alone, which the server commits
at the pipeline's Sync (`whole`). Each statement
is prepared by name on the connection the first time it is sent there (Parse), then only bound
and executed: the server parses, analyses and plans the insert with its rollups once per
connection instead of once per log (0.2-0.5 ms of its CPU a log, docs/performance.md).

Why not psycopg's own pipeline: it reads all the answers of a pipeline before it hands any
over, and raises on a connection that breaks on the way, so a COMMIT the server has confirmed
followed by its FATAL on shutdown (a fast restart) would be reported as failed, and the reply
would say "nothing was stored" for an event that was. Here every answer is kept as it arrives:
when a COMMIT sent in the pipeline was confirmed (its CommandComplete "COMMIT"), it committed,
whatever comes after (`Answers.committed`).

The statements carry psycopg's `%(name)s` placeholders; their values are written by psycopg's
own dumpers (`psycopg.adapt.Transformer`, as `cursor.execute` writes them), rows read by its
loaders. A statement is prepared per connection and per parameter types (as psycopg keys its
own prepared statements). psycopg sends DEALLOCATE ALL after a ROLLBACK of an open
transaction, which drops these too: a rollback of a connection with a transaction open
(SQLAlchemy's, the pool's reset, `forget`) forgets them, and the next use prepares them again
(`install`). A server that answers "prepared statement does not exist" all the same makes them
forgotten too (`Answers.forgotten`: the caller may start its transaction over).
"""

from __future__ import annotations

import contextlib
import functools
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.waiting import Ready, Wait

from storage import commit_watch

_FATAL = pq.ExecStatus.FATAL_ERROR
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_TUPLES = pq.ExecStatus.TUPLES_OK
_BAD = pq.ConnStatus.BAD
_IDLE = pq.TransactionStatus.IDLE
MAX_PREPARED = 100  # statements prepared on one connection at most; the rest run unnamed
_NO_STATEMENT = "26000"  # invalid_sql_statement_name: "prepared statement ... does not exist"

# psycopg connection -> {(sql, parameter types): the name it is prepared under}
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_names = iter(range(1, 1 << 62))


@dataclass
class Answers:
    """What came back for a pipeline: each statement's result (None for one whose answer never
    came), whether its COMMIT was confirmed, and the first error (a statement's, or the
    connection's when it broke)."""

    results: list
    committed: bool
    error: Exception | None

    commit_unanswered: bool = False  # a COMMIT was sent and no answer to it came back

    def unknown_outcome(self) -> Exception:
        """The error to raise for a COMMIT that got no answer (`commit_unanswered`): the
        transaction may have committed or not (storage/commit_unknown.py)."""
        from storage.commit_unknown import CommitOutcomeUnknown

        return CommitOutcomeUnknown("COMMIT", None, self.error)

    @property
    def forgotten(self) -> bool:
        """Whether the server had forgotten a statement prepared on the connection before."""
        return getattr(self.error, "sqlstate", None) == _NO_STATEMENT

    def answered(self, index: int) -> bool:
        """Whether statement `index` ran and answered rows (it did not fail, was not skipped,
        and its answer came back)."""
        result = self.results[index]
        return result is not None and result.status == _TUPLES

    def rows(self, transformer: Transformer, index: int) -> list[tuple]:
        """The rows of statement `index` (none for one that returns none)."""
        result = self.results[index]
        if result is None or result.status != _TUPLES:
            return []
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)


def install(engine) -> None:
    """Forget the statements prepared on a connection when it rolls back an open transaction
    (psycopg then deallocates every prepared statement): SQLAlchemy's rollback and the
    pool's reset on return."""
    import sqlalchemy as sa

    def rollback(connection) -> None:
        if not (connection.invalidated or connection.closed):  # (gone: nothing to forget)
            forget(connection.connection.dbapi_connection)

    def reset(dbapi_connection, _record, _state=None) -> None:
        forget(dbapi_connection)

    sa.event.listen(engine, "rollback", rollback)
    sa.event.listen(engine, "reset", reset)


def forget(driver_connection) -> None:
    """Before a rollback on `driver_connection`: when a transaction is open (psycopg will send
    ROLLBACK, then DEALLOCATE ALL), its statements prepared here are forgotten."""
    if driver_connection is None or driver_connection not in _prepared:
        return
    if driver_connection.closed or driver_connection.info.transaction_status != _IDLE:
        _prepared.pop(driver_connection, None)


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """`sql` with psycopg's `%(name)s` placeholders as the server's `$n` (a name used twice
    is one parameter), `%%` as `%`, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"%\((\w+)\)s|%%", number, sql).encode(), tuple(names)


_PREPARE, _COMMIT = -1, -2  # what an answer is for, besides a statement's index


def send(driver_connection, statements: Sequence[tuple[str, Mapping[str, object]]], *,
         commit: bool = False, whole: bool = False) -> tuple[Answers, Transformer]:
    """`send_numbered` for statements with psycopg's `%(name)s` placeholders and their values
    by name (a write's: storage/pg_begin.py `pipelined`, storage/pg_commit.py). A write that
    commits here (its COMMIT, or its Sync's) has a COMMIT on its way until the answer is read
    (storage/commit_watch.py); a read's COMMIT sent ahead (storage/pg_batch.py) is none."""
    numbered = []
    for sql, values in statements:
        query, names = _numbered(sql)
        numbered.append((query, [values[name] for name in names]))
    with commit_watch.committing() if commit or whole else contextlib.nullcontext():
        return send_numbered(driver_connection, numbered, commit=commit, whole=whole)


def send_numbered(driver_connection, statements: Sequence[tuple[bytes, Sequence | None]], *,
                  commit: bool = False, whole: bool = False) -> tuple[Answers, Transformer]:
    """Send `statements` (the server's `$n` placeholders, bytes, and their values by position)
    and, with `commit`, a COMMIT after them, as one pipeline, and read every answer. A
    statement is prepared by name the first time it is sent on the connection, then only bound
    and executed; one with values None goes as it is, unnamed and with no parameters (a
    statement with its values written in, storage/pg_batch.py). Nothing is raised here: the
    caller reads `Answers` (a statement's error, or a COMMIT confirmed before the connection
    broke). The connection is left out of pipeline mode; one that broke is closed (the pool
    replaces it).

    With `commit` (the transaction is an explicit one: BEGIN went before), a Sync goes between
    the statements and the COMMIT: a statement that fails makes the server skip the rest of
    them up to that Sync only, and the COMMIT then ends the failed transaction (the server
    rolls it back and answers "ROLLBACK"). So a refused write (a wrong guess, a stamp that did
    not apply) comes back with its connection idle: no ROLLBACK of its own (a round trip), and
    the statements prepared on it stay prepared (psycopg's rollback may DEALLOCATE ALL);
    those whose Parse was skipped are forgotten here.

    With `whole` (no BEGIN went before: the statements are a whole transaction), no BEGIN
    and no COMMIT either: the server runs the statements up to the Sync as one implicit
    transaction and commits it at the Sync (two statements fewer, issue 18). Its commit is
    confirmed by the Sync's answer after no error (`Answers.committed`); an error the commit
    itself raised (a deferred trigger's: `kpibot.commit_by`) comes as one more answer before
    it, and is the pipeline's error (nothing committed); a connection that broke before the
    Sync's answer leaves the commit unknown (`commit_unanswered`), as a COMMIT's would."""
    pgconn = driver_connection.pgconn
    transformer = Transformer(driver_connection)
    known = _prepared.setdefault(driver_connection, {})
    encoding = driver_connection.info.encoding
    sent: list[int] = []  # what each answer is for, in order
    parsed: dict[int, tuple] = {}  # position in `sent` of a Parse -> its key in `known`
    with driver_connection.lock:
        pgconn.enter_pipeline_mode()
        try:
            for index, (query, values) in enumerate(statements):
                if values is None:
                    pgconn.send_query_params(query, None)
                    sent.append(index)
                else:
                    _send_one(pgconn, transformer, known, query, values, index, sent, parsed)
            if commit:
                pgconn.pipeline_sync()
                pgconn.send_query_params(b"COMMIT", None)
                sent.append(_COMMIT)
            pgconn.pipeline_sync()
            arrived = driver_connection.wait(_exchange(pgconn, len(sent), 2 if commit else 1,
                                                       whole=whole))
        finally:
            _leave_pipeline(driver_connection)
    if whole:  # what the Sync's commit answered: its error, or nothing (then it committed)
        sent.append(_COMMIT)
    return _answers(encoding, known, sent, parsed, len(statements), arrived,
                    whole=whole), transformer


def _send_one(pgconn, transformer: Transformer, known: dict, query: bytes, values: Sequence,
              index: int, sent: list[int], parsed: dict[int, tuple]) -> None:
    """Send one statement (`$n` placeholders, its values by position) into the pipeline:
    prepared by name the first time on this connection, then bound and executed."""
    params = transformer.dump_sequence(values, [PyFormat.AUTO] * len(values))
    types = tuple(transformer.types)
    name = known.get((query, types))
    if name is None and len(known) >= MAX_PREPARED:  # (as many as psycopg keeps)
        pgconn.send_query_params(query, params, param_types=types,
                                 param_formats=transformer.formats)
        sent.append(index)  # parsed and planned here, unnamed
        return
    if name is None:
        name = known[query, types] = f"kpibot_{next(_names)}".encode()
        pgconn.send_prepare(name, query, param_types=types)
        parsed[len(sent)] = (query, types)
        sent.append(_PREPARE)
    pgconn.send_query_prepared(name, params, param_formats=transformer.formats)
    sent.append(index)


def _leave_pipeline(driver_connection) -> None:
    """Out of pipeline mode; a connection that cannot leave it (answers it will never read
    in full: it broke) is closed, so its pool replaces it."""
    pgconn = driver_connection.pgconn
    if pgconn.status != _BAD:
        try:
            pgconn.exit_pipeline_mode()
        except errors.OperationalError:  # answers still unread: it broke on the way
            driver_connection.close()
        return
    driver_connection.close()


def _answers(encoding: str, known: dict, sent: list[int], parsed: dict[int, tuple],
             count: int, arrived: tuple[list, Exception | None], *,
             whole: bool = False) -> Answers:
    results, broken = arrived
    answers = Answers([None] * count, False, None)
    for position, (purpose, result) in enumerate(zip(sent, results, strict=False)):
        if result.status == _FATAL or result.status == _ABORTED:
            if position in parsed:  # a Parse that failed or was skipped: not prepared
                known.pop(parsed[position], None)
            if answers.error is None:
                answers.error = (errors.PipelineAborted("pipeline aborted")
                                 if result.status == _ABORTED else errors.error_from_result(
                                     result, encoding=encoding))
        elif purpose == _COMMIT:  # (after a failure it ends the failed transaction, or
            # finds none when BEGIN failed: then the server answers "COMMIT" for nothing)
            answers.committed = result.command_status == b"COMMIT" and answers.error is None
        if purpose >= 0:
            answers.results[purpose] = result
    if whole:
        _commit_at_sync(answers, results, broken, len(sent) - 1)
    if answers.error is None:
        answers.error = broken
        # no statement failed (the COMMIT was not skipped), and the connection broke before
        # the COMMIT's answer: whether it committed is not known here
        answers.commit_unanswered = broken is not None and _COMMIT in sent and \
            len(results) <= sent.index(_COMMIT)
    if broken is not None or answers.forgotten:
        known.clear()  # a new server process, or its statements deallocated: prepared again
    return answers


def _commit_at_sync(answers: Answers, results: list, broken: Exception | None,
                    at: int) -> None:
    """`whole`: the implicit transaction committed when the Sync's answer came after every
    statement's, with no error. An answer after the statements' (at `at`) is its commit's:
    an ERROR refused it (nothing committed); the server's own FATAL, or a connection that
    broke, before the Sync's answer leaves it unknown (it may have committed just before)."""
    extra = results[at] if len(results) > at else None
    failed = any(result.status in (_FATAL, _ABORTED) for result in results[:at])
    if failed or (extra is not None and _severity(extra) == b"ERROR"):
        return  # a statement failed, or the commit was refused: rolled back
    if extra is not None:  # the server ended the connection where the commit's answer goes
        answers.commit_unanswered = True
    elif answers.error is None and broken is None:
        answers.committed = True


def _exchange(pgconn, expected: int, syncs: int = 1, *, whole: bool = False):
    """The generator `Connection.wait` runs: flush the pipeline, then read the answers one by
    one until its last Sync's (of `syncs`), each kept as it arrives (a connection that breaks
    on the way loses none of those before). Returns (the first result of each answer, the
    break's error). `whole`: one more answer may come before the Sync's, the error of the
    implicit transaction's commit (an ERROR, not the server's own FATAL)."""
    results: list = []
    waiting_for_end = False  # a result was taken; libpq's None ends that answer
    try:
        while pgconn.flush() != 0:
            ready = yield Wait.RW
            if ready & Ready.R:
                pgconn.consume_input()
        while True:
            while pgconn.is_busy():
                yield Wait.R
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                if pgconn.status == _BAD:
                    raise errors.OperationalError("the connection to the server was lost")
                waiting_for_end = False
                continue
            if result.status == _SYNC:
                syncs -= 1
                if syncs == 0:
                    return results, None
                continue
            if not waiting_for_end:
                results.append(result)
                waiting_for_end = True
            if pgconn.status == _BAD:
                raise errors.OperationalError("the connection to the server was lost")
            if len(results) > expected and not (whole and len(results) == expected + 1
                                                and _severity(result) == b"ERROR"):
                # an answer to none: the server's own FATAL
                raise errors.OperationalError(
                    (result.error_message or b"the server ended the connection").decode(
                        errors="replace").strip())
    except errors.OperationalError as error:
        return results, error


def _severity(result) -> bytes | None:
    """An error result's severity as the server names it (ERROR, FATAL, PANIC)."""
    return result.error_field(pq.DiagnosticField.SEVERITY_NONLOCALIZED)
