"""The SQLite connection pool hands out the connection returned last (storage/engine.py):
each SQLite connection keeps its own page cache, and first-in-first-out cycled through every
pooled connection, filling all their caches (the digest fan-out's server memory)."""

from __future__ import annotations

from contextlib import ExitStack

import sqlalchemy as sa

from storage.engine import build_engine


def test_after_a_burst_sequential_reads_reuse_one_sqlite_connection(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    try:
        with ExitStack() as stack:  # a burst: three connections at once
            burst = [stack.enter_context(engine.connect()) for _ in range(3)]
            assert len({id(c.connection.dbapi_connection) for c in burst}) == 3
        used = []
        for _ in range(6):
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
                used.append(id(connection.connection.dbapi_connection))
        assert len(set(used)) == 1
    finally:
        engine.dispose()
