"""A workspace whose weekly digests came due two minutes ago while nobody was running: what the
tests of several processes (workers, schedulers) start from. Real processes read the real
clock, so the slot is placed from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sampledata import seed_workspace
from storage import digests as ledger
from storage.engine import Database


def seed_due_digests(database: Database, workspace_id: str, channels: Iterable[str], *,
                     events: int) -> datetime:
    """Seed `events` of history for `workspace_id` and a weekly digest per channel due two
    minutes ago; returns that slot."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    slot = now - timedelta(minutes=2)
    seed_workspace(database=database, workspace_id=workspace_id, target_events=events,
                   end=slot - timedelta(hours=1), platform="slack")
    with database.write() as session:
        for channel in channels:
            ledger.save_schedule(
                session=session, workspace_id=workspace_id, platform="slack",
                channel_id=channel, owner_id="U_OWNER", now=now - timedelta(days=1),
                fields=ledger.ScheduleFields(day=slot.weekday(), hour=slot.hour,
                                             minute=slot.minute, timezone="UTC"))
    return slot
