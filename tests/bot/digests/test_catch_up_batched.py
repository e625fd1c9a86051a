"""The minute tick's catch-up reads every schedule's ledger rows in one statement and writes
only when a slot must be noted, so a fan-out's deliveries never queue behind it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from storage import digests as ledger
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday; the slots below are at 09:00 UTC


def test_catch_up_reads_the_ledger_once_for_all_schedules(database):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:T1", platform="slack",
                         now=NOW - timedelta(days=3))
        for i in range(6):
            ledger.save_schedule(session=session, workspace_id="slack:T1", platform="slack",
                                 channel_id=f"C{i}", owner_id="U1", now=NOW - timedelta(days=1),
                                 fields=ledger.ScheduleFields(hour=9, timezone="UTC"))
    deliverer = DigestDeliverer(database=database, channels={}, clock=lambda: NOW,
                                policy=DeliveryPolicy(grace=timedelta(hours=1)))
    assert asyncio.run(deliverer.catch_up()) == []  # 09:00 is past the grace: noted skipped
    with database.read() as session:
        rows = ledger.list_deliveries(session=session, limit=50)
    assert sorted(r.status for r in rows) == ["skipped"] * 6

    statements: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    assert asyncio.run(deliverer.catch_up()) == []  # nothing new
    ledger_reads = [s for s in statements if "digest_deliveries" in s]
    assert len(ledger_reads) == 2  # expired claims, and every schedule's known slots
    assert not [s for s in statements if s.lstrip().upper().startswith(
        ("INSERT", "UPDATE", "BEGIN IMMEDIATE"))]  # no write transaction at all
