"""PostgreSQL: a read without SQLAlchemy's Session (storage/pg_light.py) fails as a
`Database.read` fails: a driver error is raised as SQLAlchemy raises it (a server gone:
OperationalError, the connection invalidated and replaced), and the pooled connection goes
back outside any transaction and out of autocommit, for the next read to use."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from storage import pg_batch, plans
from storage.pg_light import light_read
from storage.prepared import Prepared

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

ONE = Prepared(sa.select(sa.literal(1)))
LATER = Prepared(sa.select(sa.literal(2)))


def _idle_and_usable(database) -> None:
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw.autocommit is False
        assert raw.info.transaction_status == raw.info.transaction_status.IDLE
        assert connection.execute(sa.text("SELECT 5")).scalar() == 5


def test_a_light_read_reads_ahead_with_its_commit_and_leaves_nothing(database):
    reading = database.until(time.monotonic() + 30)
    with light_read(reading) as session:
        connection = session.connection()
        assert session.get_bind() is reading.read_bind()  # (what reads remember: per it)
        assert pg_batch.read_ahead(connection, [(ONE, {})], commit=True)
        assert ONE.rows(connection, {}) == [(1,)]
        with pytest.raises(plans.ReadAgain):  # nothing sent after the COMMIT
            LATER.rows(connection, {})
    with light_read(reading) as session:  # its COMMIT not sent ahead: sent at its end
        assert LATER.rows(session.connection(), {}) == [(2,)]
        with pytest.raises(plans.ReadAgain):  # SQLAlchemy's execution: not here
            session.connection().exec_driver_sql("SELECT 3")
    _idle_and_usable(database)


def test_a_statement_that_fails_in_a_light_read_is_raised_as_sqlalchemy_raises_it(database):
    failing = Prepared(sa.select(sa.cast(sa.literal("x"), sa.Integer)))
    reading = database.until(time.monotonic() + 30)
    with pytest.raises(sa.exc.DataError), light_read(reading) as session:
        pg_batch.read_ahead(session.connection(), [(ONE, {}), (failing, {})], commit=True)
    _idle_and_usable(database)


def test_a_server_gone_in_a_light_read_is_an_operational_error_and_a_new_connection(
        database):
    reading = database.until(time.monotonic() + 30)
    with pytest.raises(sa.exc.OperationalError) as raised, light_read(reading) as session:
        pid = session.connection().connection.driver_connection.info.backend_pid
        with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(200):  # until the server has let it go
                if not other.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                             "WHERE pid = :pid"), {"pid": pid}).scalar():
                    break
                time.sleep(0.01)
        pg_batch.read_ahead(session.connection(), [(ONE, {})], commit=True)
    assert raised.value.connection_invalidated
    with light_read(reading) as session:  # a new connection
        assert session.connection().connection.driver_connection.info.backend_pid != pid
        assert ONE.rows(session.connection(), {}) == [(1,)]
    _idle_and_usable(database)
