"""A benchmark's PostgreSQL history is copied as files, not block by block through the WAL:
the server and the kernel would otherwise write the copy out while the figures are timed
(benchmarks/data.py `_copy_database`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from benchmarks import data

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def test_the_copy_writes_almost_no_wal(database_url, postgres_cluster):
    template = sa.engine.make_url(database_url).database
    admin = sa.create_engine(postgres_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            before = connection.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar()
            size = connection.exec_driver_sql(
                f"SELECT pg_database_size('{template}')").scalar()
        data._copy_database(postgres_cluster.url("postgres"), template, "history_copy")
        with admin.connect() as connection:
            wal = connection.exec_driver_sql(
                f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{before}')").scalar()
        copy = sa.create_engine(postgres_cluster.url("history_copy"))
        try:
            with copy.connect() as connection:
                assert connection.exec_driver_sql(
                    "SELECT count(*) FROM alembic_version").scalar() == 1  # the whole schema
        finally:
            copy.dispose()
        # block by block, the copy would write at least the database's size in WAL
        assert size > 4_000_000 and wal < size / 10, (wal, size)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql('DROP DATABASE IF EXISTS "history_copy" WITH (FORCE)')
        admin.dispose()
