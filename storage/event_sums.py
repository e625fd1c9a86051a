"""The statements behind `SqlFacts.event_sums` and `event_durations`, built once per shape
(`SqlFacts._statement`) and run with bind parameters.

`sums_statement` adds up the non-void events of some kinds over a window in one UNION ALL of
five parts, each an index range of its table:

    events          [:e1a, :e1b)   the partial local day at the start
    daily_rollups   [:d1a, :d1b)   the whole days of the partial month at the start
    monthly_rollups [:ma, :mb)     the whole local months
    daily_rollups   [:d2a, :d2b)   the whole days of the partial month at the end
    events          [:e2a, :e2b)   the partial local day at the end

A part the window does not need gets an empty range (equal bounds) and reads nothing, so one
statement serves every window; the caller (`SqlFacts._span_params`) computes the bounds.
Other parameters: :workspace, :kinds (a list) and :user (only in the per-rep shape).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a statement is built: the light read path does not
    import sqlalchemy as sa

# The grouping columns of event_sums' `by` (the same names in the rollups and in events).
SUM_KEYS: dict[str | None, tuple[str, ...]] = {
    None: ("kind",), "user": ("user_id",), "source": ("source",)}


def sums_statement(keys: tuple[str, ...], with_user: bool) -> sa.Select:
    """Per group of `keys`: SUM of events, count_sum, amount_sum, duration_sum (that order,
    after the keys) over the five parts (see the module docstring)."""
    import sqlalchemy as sa

    from storage.models import DailyRollup, MonthlyRollup

    parts = [_event_part(keys, with_user, "e1"), _rollup_part(DailyRollup, keys, with_user, "d1"),
             _rollup_part(MonthlyRollup, keys, with_user, "m"),
             _rollup_part(DailyRollup, keys, with_user, "d2"), _event_part(keys, with_user, "e2")]
    union = sa.union_all(*parts).subquery()
    columns = [union.c[key] for key in keys]
    return (sa.select(*columns, sa.func.sum(union.c.n_events), sa.func.sum(union.c.n_count),
                      sa.func.sum(union.c.amount), sa.func.sum(union.c.duration))
            .group_by(*columns))


def _rollup_part(table: type, keys: tuple[str, ...], with_user: bool, bounds: str
                 ) -> sa.Select:
    import sqlalchemy as sa

    from storage.models import DailyRollup

    period = table.day if table is DailyRollup else table.month
    conditions = [table.workspace_id == sa.bindparam("workspace"),
                  period >= sa.bindparam(f"{bounds}a"), period < sa.bindparam(f"{bounds}b"),
                  table.kind.in_(sa.bindparam("kinds", expanding=True))]
    if with_user:
        conditions.append(table.user_id == sa.bindparam("user"))
    columns = [getattr(table, key).label(key) for key in keys]
    return (sa.select(*columns,
                      sa.func.sum(table.events).label("n_events"),
                      sa.func.sum(table.count_sum).label("n_count"),
                      sa.func.sum(table.amount_sum).label("amount"),
                      sa.func.sum(table.duration_sum).label("duration"))
            .where(*conditions).group_by(*columns))


def _event_part(keys: tuple[str, ...], with_user: bool, bounds: str) -> sa.Select:
    import sqlalchemy as sa

    from storage.models import Event

    conditions = [*_window(with_user, bounds),
                  Event.kind.in_(sa.bindparam("kinds", expanding=True))]
    columns = [getattr(Event, key).label(key) for key in keys]
    return (sa.select(*columns,
                      sa.func.count().label("n_events"),
                      sa.func.sum(Event.count).label("n_count"),
                      sa.func.sum(Event.amount_minor).label("amount"),
                      sa.func.sum(Event.duration_seconds).label("duration"))
            .where(*conditions).group_by(*columns))


def durations_statement(with_user: bool) -> sa.Select:
    """The durations of the non-void :kind events in [:start, :end) (the partial index
    `ix_events_durations`: its terms are written as literals)."""
    import sqlalchemy as sa

    from storage.models import Event

    return sa.select(Event.duration_seconds).where(
        *_window(with_user, ""), Event.kind == sa.bindparam("kind"),
        Event.duration_seconds.is_not(None))


def _window(with_user: bool, bounds: str) -> list:
    """Non-void events of the workspace (and :user) with occurred_at in [:<bounds>a,
    :<bounds>b), or [:start, :end) when `bounds` is empty."""
    import sqlalchemy as sa

    from storage.models import Event

    low, high = (f"{bounds}a", f"{bounds}b") if bounds else ("start", "end")
    conditions = [Event.workspace_id == sa.bindparam("workspace"),
                  Event.occurred_at >= sa.bindparam(low), Event.occurred_at < sa.bindparam(high),
                  Event.voided_at.is_(None)]
    if with_user:
        conditions.append(Event.user_id == sa.bindparam("user"))
    return conditions


def span_params(start: datetime, end: datetime, first: date, stop: date,
                midnight: Callable[[date], datetime]) -> dict[str, Any]:
    """The bounds of `sums_statement`'s five parts for [start, end), whose whole local days
    are [first, stop) (`midnight`: the UTC instant a local day starts); unused parts get
    empty ranges."""
    if first >= stop:
        return {"e1a": start, "e1b": end, "e2a": end, "e2b": end, "d1a": first,
                "d1b": first, "ma": first, "mb": first, "d2a": first, "d2b": first}
    months = whole_months(first, stop)
    if months is None:  # no whole month: the days from daily_rollups
        days, months, tail = (first, stop), (stop, stop), (stop, stop)
    else:
        days, tail = (first, months[0]), (months[1], stop)
    return {"e1a": start, "e1b": midnight(first), "e2a": midnight(stop), "e2b": end,
            "d1a": days[0], "d1b": days[1], "ma": months[0], "mb": months[1],
            "d2a": tail[0], "d2b": tail[1]}


def whole_months(first: date, stop: date) -> tuple[date, date] | None:
    """The whole calendar months of the local days [first, stop) (storage/rollups.py
    `rollup_spans`' MonthlyRollup span), None when there is none."""
    month_first = first if first.day == 1 else date(first.year + first.month // 12,
                                                     first.month % 12 + 1, 1)
    month_stop = stop.replace(day=1)
    return (month_first, month_stop) if month_first < month_stop else None
