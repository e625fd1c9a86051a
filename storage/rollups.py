"""Daily rollups: per local day, kind, user and source, the sums of the events."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.bulk import BulkInsert
from storage.event_queries import list_events
from storage.models import DailyRollup, Event, Workspace

if TYPE_CHECKING:
    from storage.recording import NewEvent


RollupKey = tuple[date, str, str, str]  # (local day, kind, user, source)


def apply_to_rollup(
    session: Session, workspace: Workspace, events: Sequence[Event | NewEvent], *, sign: int
) -> None:
    totals: dict[RollupKey, list[int]] = {}
    add_rollup_totals(totals, workspace, events, sign=sign)
    upsert_rollups(session, workspace, totals)


def add_rollup_totals(totals: dict[RollupKey, list[int]], workspace: Workspace,
                       events: Iterable[Event | NewEvent], *, sign: int) -> None:
    zone = ZoneInfo(workspace.timezone)
    days: dict[tuple[int, int], date] = {}  # UTC hour → its local day, when it has only one
    for e in events:
        at = e.occurred_at
        if at.utcoffset():
            at = at.astimezone(UTC)
        hour = (at.toordinal(), at.hour)
        day = days.get(hour)
        if day is None:
            day = at.astimezone(zone).date()
            if _whole_hour_offset(at, zone):
                days[hour] = day
        key = (day, e.kind, e.user_id, e.source or "")
        row = totals.get(key)
        if row is None:
            row = totals[key] = [0, 0, 0, 0]
        row[0] += sign
        row[1] += sign * e.count
        row[2] += sign * (e.amount_minor or 0)
        row[3] += sign * (e.duration_seconds or 0)


def _whole_hour_offset(at: datetime, zone: ZoneInfo) -> bool:
    """True when every instant of `at`'s UTC hour has the same local day as `at` (cacheable).

    `at` is UTC. With one offset over the hour, local time moves with UTC, so a day equal at
    both ends is the day throughout.
    """
    start = at.replace(minute=0, second=0, microsecond=0).astimezone(zone)
    end = at.replace(minute=59, second=59, microsecond=999999).astimezone(zone)
    return start.utcoffset() == end.utcoffset() and start.date() == end.date()


def upsert_rollups(session: Session, workspace: Workspace,
                    totals: dict[RollupKey, list[int]]) -> None:
    if not totals:
        return
    bulk = BulkInsert(session, DailyRollup.__table__, _ROLLUP_COLUMNS,
                      _rollup_upsert(session.get_bind().dialect.name))
    day = bulk.converter("day")
    bulk.run([(workspace.id, day(d), kind, user, source, *t)
              for (d, kind, user, source), t in totals.items()])


_ROLLUP_COLUMNS = ("workspace_id", "day", "kind", "user_id", "source", "events", "count_sum",
                   "amount_sum", "duration_sum")


@functools.cache
def _rollup_upsert(dialect: str):
    """INSERT ... ON CONFLICT DO UPDATE adding the sums, built once per dialect (a chat
    command's write runs it: building it took longer than running it)."""
    table = DailyRollup.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", "day", "kind", "user_id", "source"],
        set_={
            name: getattr(table.c, name) + getattr(statement.excluded, name)
            for name in ("events", "count_sum", "amount_sum", "duration_sum")
        },
    )


def rebuild_rollups(*, session: Session, workspace: Workspace) -> int:
    """Recompute a workspace's rollups from its events (after a time zone change)."""
    session.execute(sa.delete(DailyRollup).where(DailyRollup.workspace_id == workspace.id))
    events = list_events(session=session, workspace_id=workspace.id)
    apply_to_rollup(session, workspace, events, sign=1)
    return len(events)
