"""Rollups: per local day (`daily_rollups`) and per local month (`monthly_rollups`), kind,
user and source, the sums of the non-void events. Both are written together by
`upsert_rollups`, the one way every write path (log, undo, import, re-derive, CRM sync) adds
to them, so a month always equals the sum of its days."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from reports.events import Stage
from storage.bulk import BulkInsert
from storage.engine import dialect_insert
from storage.event_queries import list_events
from storage.models import DailyRollup, Event, MonthlyRollup, Workspace
from storage.workspaces import derived_rows_lock

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
    """Add `totals` (per local day) to `daily_rollups` and their month's `monthly_rollups`."""
    if not totals:
        return
    months: dict[RollupKey, list[int]] = {}
    for (day, kind, user, source), sums in totals.items():
        row = months.setdefault((day.replace(day=1), kind, user, source), [0, 0, 0, 0])
        for i, value in enumerate(sums):
            row[i] += value
    _add(session, DailyRollup.__table__, "day", workspace.id, totals)
    _add(session, MonthlyRollup.__table__, "month", workspace.id, months)


SUMS = ("events", "count_sum", "amount_sum", "duration_sum")


def _add(session: Session, table: sa.Table, period: str, workspace_id: str,
         totals: dict[RollupKey, list[int]]) -> None:
    """Upsert: each row's sums are added to the stored ones (inserted when absent)."""
    bulk = BulkInsert(session, table, ("workspace_id", period, "kind", "user_id", "source",
                                        *SUMS),
                      _upsert(session.get_bind().dialect.name, table, period))
    day = bulk.converter(period)
    bulk.run([(workspace_id, day(d), kind, user, source, *t)
              for (d, kind, user, source), t in totals.items()])


@functools.cache
def _upsert(dialect: str, table: sa.Table, period: str):
    """INSERT ... ON CONFLICT DO UPDATE adding the sums, built once per dialect and table (a
    chat command's write runs it: building it took longer than running it)."""
    insert = dialect_insert(dialect)
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", period, "kind", "user_id", "source"],
        set_={name: getattr(table.c, name) + getattr(statement.excluded, name)
              for name in SUMS},
    )


def with_rollups(insert_event, workspace: Workspace, new: NewEvent, *,
                 lock_derived_rows: bool = False, stamp_deal: bool = False,
                 stamp_or_refuse: bool = False, advance_to: Stage | None = None
                 ) -> tuple[object, dict]:
    """PostgreSQL: `insert_event` (an INSERT ... RETURNING id that returns no row when it
    stored nothing) and, when it stored the event `new`, both its rollup upserts, as one
    statement, and the rollups' parameters (`rollup_*`): one round trip instead of three
    for a chat command. SQLite has no INSERT in a WITH: `apply_to_rollup` after it.
    `lock_derived_rows`: when it stores the event, the statement also takes the workspace's
    derived-rows lock (storage/workspaces.py), which the event's deal upkeep takes next
    anyway: a round trip less for an event with a deal. `stamp_deal` (with the lock): the
    statement also stamps the event's deal when the event changes nothing of it
    (storage/deals.py `stamp_after`), and returns a second column, the deals stamped (0 or
    1): another round trip less. `stamp_or_refuse` (with the stamp): the stamp may rename the
    deal (`stamp_after(renaming=True)`: the statement must run under the lock taken by a
    statement before it), and a stored event whose deal the stamp did not apply to fails the
    statement (storage/deals.py `STAMP_MISSED`), so the transaction it ends commits nothing: the
    event alone is then no whole transaction. `advance_to` (with `stamp_or_refuse`): instead
    of the stamp, the deal moved to that stage (storage/deals.py `advance_after`), refused in
    the same way when that does not apply."""
    totals: dict[RollupKey, list[int]] = {}
    add_rollup_totals(totals, workspace, [new], sign=1)
    ((day, _kind, _user, source), sums), = totals.items()
    params = {"rollup_day": day, "rollup_month": day.replace(day=1), "rollup_source": source,
              **{f"rollup_{name}": value for name, value in zip(SUMS, sums, strict=True)}}
    if lock_derived_rows:
        params["lock_workspace"] = workspace.id
    if stamp_deal and not lock_derived_rows or stamp_or_refuse and not stamp_deal \
            or advance_to is not None and not stamp_or_refuse:
        raise ValueError("with_rollups: a deal is stamped under the derived-rows lock, only a "
                         "stamp is refused, and a deal is moved only if refused otherwise")
    return _with_rollups(insert_event, lock_derived_rows, stamp_deal, stamp_or_refuse,
                         advance_to), params


@functools.cache
def _with_rollups(insert_event, lock_derived_rows: bool = False, stamp_deal: bool = False,
                  stamp_or_refuse: bool = False, advance_to: Stage | None = None):
    stored = insert_event.cte("stored_event")
    statement = sa.select(stored.c.id)
    if lock_derived_rows:  # joined to the stored row (a duplicate may take it too: harmless)
        lock = sa.select(derived_rows_lock(sa.bindparam("lock_workspace", type_=sa.String))
                         .label("locked")).cte("derived_rows_lock")
        statement = statement.select_from(stored.join(lock, sa.true()))
        if stamp_deal:
            from storage.deals import advance_after, stamp_after, stamped_or_refused

            upkeep = (stamp_after(lock, stored, renaming=stamp_or_refuse) if advance_to is None
                      else advance_after(lock, stored, advance_to))
            stamped = sa.select(sa.func.count()).select_from(upkeep).scalar_subquery()
            statement = statement.add_columns(
                (stamped_or_refused(stamped) if stamp_or_refuse else stamped).label("stamped"))
    for table, period in ((DailyRollup.__table__, "day"), (MonthlyRollup.__table__, "month")):
        columns = ("workspace_id", period, "kind", "user_id", "source", *SUMS)
        params = {"workspace_id": "workspace_id", period: f"rollup_{period}", "kind": "kind",
                  "user_id": "user_id", "source": "rollup_source",
                  **{name: f"rollup_{name}" for name in SUMS}}
        rows = sa.select(*(sa.bindparam(params[c], type_=table.c[c].type) for c in columns)
                         ).select_from(stored)
        insert = dialect_insert("postgresql")(table).from_select(columns, rows)
        added = insert.on_conflict_do_update(
            index_elements=["workspace_id", period, "kind", "user_id", "source"],
            set_={name: table.c[name] + insert.excluded[name] for name in SUMS})
        statement = statement.add_cte(added.cte(f"{period}_rollup"))
    return statement


def rebuild_rollups(*, session: Session, workspace: Workspace) -> int:
    """Recompute a workspace's rollups from its events (after a time zone change)."""
    for table in (DailyRollup, MonthlyRollup):
        session.execute(sa.delete(table).where(table.workspace_id == workspace.id))
    events = list_events(session=session, workspace_id=workspace.id)
    apply_to_rollup(session, workspace, events, sign=1)
    return len(events)


def rollup_spans(first: date, stop: date) -> list[tuple[type, date, date]]:
    """The local days [first, stop) as rollup reads: whole calendar months from
    `MonthlyRollup`, the days of the partial months at either edge from `DailyRollup`."""
    month_first = first if first.day == 1 else _next_month(first)
    month_stop = stop.replace(day=1)
    if month_first >= month_stop:
        return [(DailyRollup, first, stop)]
    spans = [(DailyRollup, first, month_first), (MonthlyRollup, month_first, month_stop),
             (DailyRollup, month_stop, stop)]
    return [(table, a, b) for table, a, b in spans if a < b]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
