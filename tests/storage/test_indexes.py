"""Plans that must hold once SQLite has planner statistics (ANALYZE, PRAGMA optimize), on a
history like the generated one: almost no event names an account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storage.facts_histories import NOW, ev, osl, write
from tests.storage.query_plans import _captured, _plans


def test_account_upkeep_reads_the_partial_account_index_after_analyze(database):
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    history = [ev(f"h{i}", "call", NOW - timedelta(hours=i), count=2) for i in range(300)]
    history += [ev(f"d{i}", "lead", NOW - timedelta(hours=i), deal=f"deal-{i % 40}")
                for i in range(200)]
    write(database, history)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    statements = _captured(database, lambda: write(database, [
        ev("n1", "meeting-booked", osl(11, 21), deal="deal-3"),
        ev("n2", "mrr-change", osl(11, 21), deal="deal-4", amount_minor=-5),
    ], bulk=False))
    text = _plans(database, statements, "record_event after ANALYZE")  # no SCAN events
    assert "ix_events_workspace_account" in text and "ix_events_workspace_deal" in text, text
