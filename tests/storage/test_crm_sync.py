"""storage/crm_sync.py and its migration (0013), on both databases: the sync row, the lease
one process holds at a time, and the events a sync wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage import migrate
from storage.crm_sync import SyncBusy, claim, holds_lease, read_map, sync_row, synced_events
from storage.recording import NewEvent, record_events
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def test_crm_syncs_migration_goes_down_and_up(database_url):
    from alembic import command

    def tables():
        engine = sa.create_engine(database_url)
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    assert "crm_syncs" in tables()
    command.downgrade(migrate.alembic_config(database_url), "0012")
    assert "crm_syncs" not in tables() and "api_tokens" in tables()
    migrate.upgrade(database_url)
    assert "crm_syncs" in tables()
    migrate.check(database_url)


def test_the_lease_is_one_process_at_a_time(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:T1", platform="slack", now=NOW)
        row = claim(session, workspace_id="slack:T1", crm="hubspot", owner="a", now=NOW,
                    lease=LEASE)
        assert row.status == "running" and holds_lease(row, "a", NOW)
    with database.write() as session, pytest.raises(SyncBusy, match="already running"):
        claim(session, workspace_id="slack:T1", crm="hubspot", owner="b",
              now=NOW + timedelta(minutes=9), lease=LEASE)
    with database.write() as session:  # a's lease ran out: b takes over
        row = claim(session, workspace_id="slack:T1", crm="hubspot", owner="b",
                    now=NOW + timedelta(minutes=11), lease=LEASE)
        assert not holds_lease(row, "a", NOW + timedelta(minutes=11))
    with database.read() as session:
        assert sync_row(session, "slack:T1", "hubspot").lease_owner == "b"
        assert read_map(None) == {}


def test_synced_events_are_the_syncs_own_per_deal(database):
    def event(key, deal, logged_by):
        return NewEvent(kind="opportunity", user_id="U1", logged_by=logged_by,
                        occurred_at=NOW - timedelta(days=1), idempotency_key=key, deal_key=deal)

    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id="slack:T1", platform="slack",
                                     now=NOW)
        record_events(session=session, workspace=workspace, now=NOW, new_events=[
            event("hubspot:1", "101", "kpibot:sync:hubspot"),
            event("chat:1", "101", "U1"),
            event("hubspot:2", "102", "kpibot:sync:hubspot")])
        found = synced_events(session, workspace_id="slack:T1",
                              logged_by="kpibot:sync:hubspot", deal_keys=["101", "103"])
    assert {k: [e.key for e in v] for k, v in found.items()} == {"101": ["hubspot:1"],
                                                                  "103": []}
