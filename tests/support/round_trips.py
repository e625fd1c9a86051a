"""What a PostgreSQL engine sends the server, from libpq's own protocol trace (PQtrace).

    with RoundTrips(database.engine) as trips:
        ...                                   # anything that uses the engine
    trips.count                               # answers waited for (ReadyForQuery): round trips
    trips.exchanges                           # network round trips (a pipeline is one)
    trips.queries                             # the simple queries (BEGIN, COMMIT, ";" pings...)
    trips.by_name                             # executions of statements prepared by name
    trips.parsed                              # statements parsed (named: prepared)

The block starts with an empty pool (`engine.dispose()`), and every connection the block opens
is traced from the moment the dialect has set it up until the block ends (`keep_pool=True`:
the pool is kept, and each connection is traced from its first checkout in the block, or from
the start for one kept out of the pool for the next command (storage/pg_pool.py), with the
statements it has prepared before), so what SQLAlchemy's statement events do not see
(psycopg's own BEGIN, COMMIT and ROLLBACK, the pool's pre-ping on a connection's second
checkout, prepared statements) is counted as the server receives it. Counts, never times.
"""

from __future__ import annotations

import tempfile

import sqlalchemy as sa


class RoundTrips:
    def __init__(self, engine: sa.Engine, *, keep_pool: bool = False) -> None:
        self.engine = engine
        self.keep_pool = keep_pool  # trace the pooled connections instead of new ones
        self.lines: list[str] = []
        self._traced: list[tuple[object, object]] = []

    def _start(self, dbapi_connection, _record) -> None:
        import psycopg

        trace = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in __exit__)
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        self._traced.append((dbapi_connection, trace))

    def __enter__(self) -> RoundTrips:
        if self.keep_pool:  # the pooled connections as they are, traced from their checkout
            from storage import pg_pool

            # (kept out of the pool for the next command: in use already)
            for pooled in pg_pool.kept_connections(self.engine):
                self._start(pooled.dbapi_connection, None)
            sa.event.listen(self.engine, "checkout", self._checked_out)
            return self
        self.engine.dispose()
        sa.event.listen(self.engine, "connect", self._start)
        return self

    def _checked_out(self, dbapi_connection, record, _proxy) -> None:
        if all(traced is not dbapi_connection for traced, _trace in self._traced):
            self._start(dbapi_connection, record)

    def __exit__(self, *_exc) -> None:
        if self.keep_pool:
            sa.event.remove(self.engine, "checkout", self._checked_out)
        else:
            sa.event.remove(self.engine, "connect", self._start)
        for dbapi_connection, trace in self._traced:
            if not dbapi_connection.closed:
                dbapi_connection.pgconn.untrace()
            trace.seek(0)
            self.lines.extend(trace.read().splitlines())
            trace.close()
        self._traced.clear()

    def _sent(self, message: str) -> list[str]:
        return [line.split("\t", 3)[-1].strip() for line in self.lines
                if line.startswith("F\t") and line.split("\t")[2] == message]

    @property
    def count(self) -> int:
        """Round trips: the ReadyForQuery the client waited for (the last of the answers
        before it sent again, or of the trace). A pipeline's Sync before its COMMIT
        (storage/pg_pipeline.py) gets a ReadyForQuery too, in the same round trip."""
        count, waited = 0, False
        for line in self.lines:
            if line.startswith("F\t"):
                count, waited = count + waited, False
            elif line.startswith("B\t") and line.split("\t")[2] == "ReadyForQuery":
                waited = True
        return count + waited

    @property
    def exchanges(self) -> int:
        """Network round trips: the times the client sent something after it had read the
        server's answers (a pipeline's messages, however many ReadyForQuery they get back,
        go out as one)."""
        count, sending = 0, False
        for line in self.lines:
            if line.startswith("F\t"):
                if not sending:
                    count, sending = count + 1, True
            elif line.startswith("B\t"):
                sending = False
        return count

    @property
    def queries(self) -> list[str]:
        """The simple-protocol queries, as quoted in the trace ('"BEGIN"', '";"', ...)."""
        return self._sent("Query")

    @property
    def parsed(self) -> list[str]:
        """Parse messages: the statement's name (psycopg's _pg3_N, "" unnamed) and its text."""
        return self._sent("Parse")

    @property
    def by_name(self) -> list[str]:
        """Bind messages of a statement prepared by name (psycopg's _pg3_N); unnamed: '"" ""'."""
        return [text for text in self._sent("Bind") if not text.startswith('"" ""')]
