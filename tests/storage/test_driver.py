"""storage/driver.py: a statement run on the driver (SQLite's; psycopg's cursor on PostgreSQL,
storage/pg_driver.py) gives what Core gives, tells the engine's listeners, and fails as Core
fails."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from storage import driver
from storage.engine import dialect_insert
from storage.models import DailyRollup, Event, Workspace
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, 5, 123456, tzinfo=UTC)
WORKSPACE = "slack:TDRIVER"


def _event(key: str, **fields) -> dict:
    return {"workspace_id": WORKSPACE, "kind": "call", "count": 2, "amount_minor": None,
            "currency": None, "duration_seconds": None, "mrr_minor": None, "deal_key": "acme",
            "deal_name": "Acme", "account_key": None, "user_id": "U1", "logged_by": "U1",
            "channel_id": None, "source": None, "source_raw": None, "reason": None,
            "competitor": None, "note": None, "occurred_at": NOW, "logged_at": NOW,
            "idempotency_key": key, **fields}


@pytest.fixture
def stored(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack", now=NOW)
    return database


def _insert(dialect: str):
    table = Event.__table__
    return (dialect_insert(dialect)(table)
            .on_conflict_do_nothing(index_elements=["workspace_id", "idempotency_key"])
            .returning(table.c.id))


def test_rows_values_and_returning_are_what_core_gives(stored):
    events = Event.__table__
    select = sa.select(events.c.id, events.c.kind, events.c.count, events.c.occurred_at,
                       events.c.voided_at, events.c.deal_name).where(
        events.c.workspace_id == sa.bindparam("workspace_id"),
        events.c.deal_key.in_(sa.bindparam("keys", expanding=True))).order_by(events.c.id)
    with stored.write() as session:
        connection = session.connection()
        insert = _insert(stored.dialect)
        first = driver.run(connection, insert, _event("k1"))
        again = driver.run(connection, insert, _event("k1"))  # the key is stored: no row
        driver.run(connection, insert, _event("k2", occurred_at=NOW.replace(microsecond=0),
                                              deal_key="other", count=5))
        by_driver = driver.run(connection, select, {"workspace_id": WORKSPACE,
                                                    "keys": ["acme", "other"]})
        nothing = driver.run(connection, select, {"workspace_id": WORKSPACE, "keys": []})
        fives = driver.run(connection, sa.select(events.c.count).where(  # a value it carries
            events.c.count == 5, events.c.workspace_id == sa.bindparam("workspace_id")),
            {"workspace_id": WORKSPACE})
        by_core = [tuple(row) for row in connection.execute(
            select, {"workspace_id": WORKSPACE, "keys": ["acme", "other"]})]
    assert len(first) == 1 and isinstance(first[0][0], int) and again == [] and nothing == []
    assert fives == [(5,)]
    assert by_driver == by_core
    assert [(kind, count, at, voided) for _id, kind, count, at, voided, _name in by_driver] == [
        ("call", 2, NOW, None), ("call", 5, NOW.replace(microsecond=0), None)]
    assert all(row[3].tzinfo is UTC for row in by_driver)  # tz-aware UTC, as Core's


def test_dates_and_updates_go_in_as_core_writes_them(stored):
    rollups = DailyRollup.__table__
    insert = sa.insert(rollups)
    row = {"workspace_id": WORKSPACE, "day": date(2026, 11, 18), "kind": "call",
           "user_id": "U1", "source": "", "events": 1, "count_sum": 3, "amount_sum": 0,
           "duration_sum": 0}
    update = sa.update(rollups).where(rollups.c.day == sa.bindparam("the_day")).values(
        events=sa.bindparam("events"))
    with stored.write() as session:
        connection = session.connection()
        driver.run(connection, insert, row)
        driver.run(connection, update, {"the_day": date(2026, 11, 18), "events": 4})
        stored_row = connection.execute(sa.select(rollups.c.day, rollups.c.events)).one()
    assert tuple(stored_row) == (date(2026, 11, 18), 4)


def test_listeners_see_each_statement_and_core_does_not_run_it(stored):
    cursor_statements: list[str] = []
    core_executions: list[object] = []

    def cursor(_connection, _cursor, statement, *_args) -> None:
        cursor_statements.append(statement)

    def execution(_connection, statement, *_args) -> None:
        core_executions.append(statement)

    sa.event.listen(stored.engine, "before_cursor_execute", cursor)
    sa.event.listen(stored.engine, "before_execute", execution)
    try:
        with stored.engine.connect() as connection:
            rows = driver.run(connection, sa.select(Workspace.__table__.c.id).where(
                Workspace.__table__.c.id == sa.bindparam("id")), {"id": WORKSPACE})
    finally:
        sa.event.remove(stored.engine, "before_cursor_execute", cursor)
        sa.event.remove(stored.engine, "before_execute", execution)
    assert rows == [(WORKSPACE,)]
    assert len(cursor_statements) == 1 and "FROM workspaces" in cursor_statements[0]
    assert core_executions == []  # on both: storage/driver.py, storage/pg_driver.py


def test_a_refused_statement_raises_as_core_raises(stored):
    with pytest.raises(sa.exc.IntegrityError), stored.write() as session:
        driver.run(session.connection(), sa.insert(Event.__table__),
                   _event("k9", workspace_id="slack:NO_SUCH_WORKSPACE"))  # foreign key


def test_a_column_default_left_out_is_refused_not_guessed(stored):
    row = _event("k3")
    del row["count"]  # events.count has a Python-side default Core would fill in
    with stored.engine.connect() as connection, \
            pytest.raises(ValueError, match="give every column a value"):
        driver.run(connection, sa.insert(Event.__table__), row)


def test_statements_run_together_give_what_each_gives_alone_and_fail_as_core(stored):
    """`run_together` (PostgreSQL: one round trip in psycopg's pipeline mode) answers each
    statement as `run` does, IN lists (an array on PostgreSQL, `NOT IN` too) included; an
    error stops the transaction and is raised as Core raises it."""
    events = Event.__table__
    keyed = sa.select(events.c.idempotency_key).where(
        events.c.workspace_id == sa.bindparam("workspace_id"),
        events.c.deal_key.in_(sa.bindparam("keys", expanding=True))).order_by(events.c.id)
    others = sa.select(events.c.idempotency_key).where(
        events.c.workspace_id == sa.bindparam("workspace_id"),
        events.c.deal_key.not_in(sa.bindparam("keys", expanding=True))).order_by(events.c.id)
    given = {"workspace_id": WORKSPACE, "keys": ["acme"]}
    with stored.write() as session:
        connection = session.connection()
        for key, deal in (("t1", "acme"), ("t2", "other"), ("t3", "acme")):
            driver.run(connection, _insert(stored.dialect), _event(key, deal_key=deal))
        together = driver.run_together(connection, ((keyed, given), (others, given),
                                                    (keyed, {**given, "keys": []})))
        alone = [driver.run(connection, keyed, given), driver.run(connection, others, given)]
        assert together == [*alone, []] == [[("t1",), ("t3",)], [("t2",)], []]
    with pytest.raises(sa.exc.DBAPIError), stored.write() as session:
        driver.run_together(session.connection(), (
            (keyed, given), (sa.text("SELECT id FROM no_such_table"), {})))
    with stored.read() as session:  # the connection is fine afterwards
        assert driver.run(session.connection(), keyed, given) == [("t1",), ("t3",)]
