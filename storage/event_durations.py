"""Exact distributions of the events' durations (`duration_seconds`: inbound response times,
any kind that carries one) over long periods, without reading every event of the period.

Reads `event_duration_counts` (per workspace, kind, user or the team "", UTC month and bucket
of `duration_buckets`: how many non-void events and the sum of their seconds; kept by triggers
on `events`, migration 0021) and the events themselves through two partial indexes of the
rows that carry a duration. For a period [start, end) holding at least `MIN_MONTHS` whole UTC
months (a user's: `MIN_MONTHS_OF_A_USER`; shorter ones read their durations directly, which
costs less):

1. Per bucket, the events of the period: the histograms of the months it covers, plus or
   minus the events of its partial edge months (as for the deals' stage times:
   storage/stage_durations.py `month_plan`; ix_events_durations, grouped by duration). One
   UNION ALL statement.
2. n and the total come from those counts; each rank a percentile reads lies in one bucket,
   at a known offset in it; the events within a target are the buckets wholly below it plus
   those of the target's bucket up to it.
3. The durations at those offsets of those buckets, and the count in the target's bucket,
   read in the order of the durations (ix_events_duration_values: no sort). One statement.

Durations are whole seconds, so a bucket [lo_ms, next lo_ms) holds the seconds
[ceil(lo_ms / 1000), ceil(next / 1000)), and every figure is that of the durations themselves
(the percentiles interpolate as storage/facts.py describes; the mean is the exact sum / n).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from storage.prepared import Prepared
from storage.stage_durations import locate_rank, month_plan, percentile_ranks

if TYPE_CHECKING:  # the builders import them: the light read path (storage/lite.py) does not
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

# The lower bounds (ms) of duration_buckets (migration 0016): eight buckets per doubling.
BOUNDS = [-(2 ** 62), 0, 1, *sorted({round(1000 * 2 ** (k / 8)) for k in range(241)})]
TEAM = ""  # event_duration_counts.user_id of the whole team's rows
# Fewer whole UTC months: the period's durations are read directly, which costs less (the
# break-even at 5M events). A user's: a bucket's values are read among every user's.
MIN_MONTHS = 6
MIN_MONTHS_OF_A_USER = 12
_NOTHING = (1, 0)  # an empty range of seconds


@dataclass(frozen=True)
class Found:
    """The durations of a period: how many, their sum (seconds), the values at the ranks
    asked for (0-based, ascending) and how many are <= the target."""

    n: int
    total: int
    at: dict[int, int]
    within: int


def bucket_of(seconds: int) -> int:
    """The bucket (lo_ms) a duration of `seconds` falls in (the triggers' lookup)."""
    return BOUNDS[bisect.bisect_right(BOUNDS, seconds * 1000) - 1]


def seconds_in(bucket: int) -> tuple[int, int]:
    """The whole seconds [low, high) of `bucket`."""
    i = bisect.bisect_left(BOUNDS, bucket)
    high = BOUNDS[i + 1] if i + 1 < len(BOUNDS) else 2 ** 62
    return -(-bucket // 1000), -(-high // 1000)


def histograms_serve(start: datetime, end: datetime, user: str | None,
                     within: float | None) -> bool:
    """Whether `durations` answers [start, end): enough whole months, a user with rows."""
    if start >= end or user == TEAM or (within is not None and not math.isfinite(within)):
        return False
    whole, _ranges = month_plan(start, end)
    return whole is not None and whole[1] - whole[0] >= (
        MIN_MONTHS if user is None else MIN_MONTHS_OF_A_USER)


def durations(connection: Connection, workspace_id: str, kind: str, start: datetime,
              end: datetime, *, user: str | None, within: float | None,
              tenths: Iterable[int] = (5, 9)) -> Found | None:
    """The non-void `kind` events' durations in [start, end) (of `user` if given), with the
    values at the ranks of the `tenths` percentiles and the count <= `within` seconds (0 when
    None). Only for periods `histograms_serve`. None when the statements saw different
    histories (a write committed between them, on a PostgreSQL connection at READ COMMITTED;
    `Database.read` keeps one snapshot): read the period's durations instead."""
    whole, ranges = month_plan(start, end)
    params: dict[str, Any] = {"workspace": workspace_id, "kind": kind,
                              "owner": TEAM if user is None else user, "user": user,
                              "first": whole[0], "stop": whole[1], "start": start, "end": end}
    for i, (_sign, a, b) in enumerate(ranges):
        params.update({f"from_{i}": a, f"to_{i}": b})
    counts: dict[int, list[int]] = {}
    signs = [1, *(sign for sign, _a, _b in ranges)]
    shape = ("counts", tuple(signs[1:]), user is not None)
    for part, key, n, total in _fetch(connection, shape, params):
        bucket = int(key) if part == 0 else bucket_of(int(key))
        into = counts.setdefault(bucket, [0, 0])
        into[0] += signs[part] * int(n)
        into[1] += signs[part] * int(total or 0)
    buckets = sorted((b, (n, t)) for b, (n, t) in counts.items() if n)
    n = sum(count for _b, (count, _t) in buckets)
    total = sum(t for _b, (_n, t) in buckets)
    wanted: dict[int, list[tuple[int, int]]] = {}  # bucket -> (rank, offset)
    for rank in sorted(percentile_ranks(n, tenths)) if n else ():
        bucket, offset = locate_rank(buckets, rank)
        wanted.setdefault(bucket, []).append((rank, offset))
    inside, edge = _within(buckets, within)
    read = _values(connection, params, wanted, edge)
    if read is None:
        return None
    return Found(n=n, total=total, at=read[0], within=inside + read[1])


def _within(buckets: list[tuple[int, tuple[int, int]]], within: float | None
            ) -> tuple[int, tuple[int, int]]:
    """(the events of the buckets wholly <= `within`, the seconds [low, high) of the bucket
    it cuts, whose events must be counted)."""
    if within is None or not buckets:
        return 0, _NOTHING
    # Whole seconds: d <= within when d <= floor(within) (kept within what SQL binds).
    limit = max(min(math.floor(within), 2 ** 53), -(2 ** 53))
    cut = bucket_of(limit)
    below = sum(n for b, (n, _t) in buckets if b < cut)
    low, high = seconds_in(cut)
    if limit + 1 == high or all(b != cut for b, _nt in buckets):
        return below + sum(n for b, (n, _t) in buckets if b == cut), _NOTHING
    return below, (low, limit + 1)


def _values(connection: Connection, params: dict[str, Any],
            wanted: dict[int, list[tuple[int, int]]], edge: tuple[int, int]
            ) -> tuple[dict[int, int], int] | None:
    """({rank: duration} of `wanted`, the events of the period with durations in `edge`);
    None when a bucket no longer holds the durations its count promised."""
    keys = list(wanted)
    size = 1 << max(len(keys) - 1, 0).bit_length()  # a few statement shapes: 1, 2, 4 parts
    values = {**params, "edge_low": edge[0], "edge_high": edge[1]}
    for i in range(size):
        low, high = seconds_in(keys[i]) if i < len(keys) else _NOTHING
        offsets = [offset for _rank, offset in wanted[keys[i]]] if i < len(keys) else [0]
        values.update({f"low_{i}": low, f"high_{i}": high, f"offset_{i}": min(offsets),
                       f"limit_{i}": max(offsets) - min(offsets) + 1 if i < len(keys) else 0})
    found: dict[int, list[int]] = {i: [] for i in range(len(keys))}
    counted = 0
    for part, seconds in _fetch(connection, ("values", size, params["user"] is not None),
                                values):
        if part < 0:
            counted = int(seconds or 0)
        else:
            found[int(part)].append(int(seconds))
    at: dict[int, int] = {}
    for i, bucket in enumerate(keys):
        picked = sorted(found[i])
        first = values[f"offset_{i}"]
        if len(picked) < values[f"limit_{i}"]:
            return None  # a write committed between the statements (READ COMMITTED)
        for rank, offset in wanted[bucket]:
            at[rank] = picked[offset - first]
    return at, counted


def _conditions(with_user: bool, low: str, high: str) -> list:
    """The counted events of :kind in :workspace (and of :user) in [:low, :high); the terms
    of the partial indexes' predicate written out (DURATION_ROWS)."""
    import sqlalchemy as sa

    from storage.models import Event

    conditions = [Event.workspace_id == sa.bindparam("workspace"),
                  Event.kind == sa.bindparam("kind"),
                  Event.duration_seconds.is_not(None), Event.voided_at.is_(None),
                  Event.occurred_at >= sa.bindparam(low, type_=Event.occurred_at.type),
                  Event.occurred_at < sa.bindparam(high, type_=Event.occurred_at.type)]
    if with_user:
        conditions.append(Event.user_id == sa.bindparam("user"))
    return conditions


def _counts_statement(shape: tuple) -> sa.CompoundSelect:
    """Part 0: (bucket, events, seconds) of the histogram months [:first, :stop); part i:
    (duration, events, seconds) of the events in [:from_{i-1}, :to_{i-1})."""
    import sqlalchemy as sa

    from storage.models import Event, EventDurationCount

    _name, signs, with_user = shape
    c = EventDurationCount.__table__.c
    parts = [sa.select(sa.literal_column("0").label("part"), c.bucket.label("key"),
                       sa.func.sum(c.events), sa.func.sum(c.total_seconds))
             .where(c.workspace_id == sa.bindparam("workspace"), c.kind == sa.bindparam("kind"),
                    c.user_id == sa.bindparam("owner"), c.month >= sa.bindparam("first"),
                    c.month < sa.bindparam("stop"))
             .group_by(c.bucket)]
    # Grouped by an expression: by the column itself SQLite would rather read every duration
    # of the history in the order of ix_events_duration_values than the edge's range.
    seconds = Event.duration_seconds + 0
    for i in range(len(signs)):
        parts.append(sa.select(sa.literal_column(str(i + 1)), seconds, sa.func.count(),
                               sa.func.sum(seconds))
                     .where(*_conditions(with_user, f"from_{i}", f"to_{i}"))
                     .group_by(seconds))
    return sa.union_all(*parts)


def _values_statement(shape: tuple) -> sa.CompoundSelect:
    """Part -1: how many events of the period last [:edge_low, :edge_high) seconds; part i:
    the durations in [:low_i, :high_i) at offsets [:offset_i, :offset_i + :limit_i), in
    ascending order."""
    import sqlalchemy as sa

    from storage.models import Event
    from storage.plans import CUSTOM_PLANS

    _name, size, with_user = shape
    seconds = Event.duration_seconds
    parts = [sa.select(sa.literal_column("-1").label("part"), sa.func.count().label("seconds"))
             .where(*_conditions(with_user, "start", "end"),
                    seconds >= sa.bindparam("edge_low"), seconds < sa.bindparam("edge_high"))]
    for i in range(size):
        picked = (sa.select(sa.literal_column(str(i)).label("part"), seconds.label("seconds"))
                  .where(*_conditions(with_user, "start", "end"),
                         seconds >= sa.bindparam(f"low_{i}"),
                         seconds < sa.bindparam(f"high_{i}"))
                  .order_by(seconds)
                  .limit(sa.bindparam(f"limit_{i}", type_=sa.Integer))
                  .offset(sa.bindparam(f"offset_{i}", type_=sa.Integer)).subquery())
        parts.append(sa.select(picked))
    # Never prepared: a generic plan of LIMIT/OFFSET within a bucket reads far more rows
    # than the offsets given need (storage/plans.py).
    return sa.union_all(*parts).execution_options(**CUSTOM_PLANS)


_STATEMENTS: dict[tuple, Prepared] = {}  # shape -> statement, built once
_BUILDERS = {"counts": _counts_statement, "values": _values_statement}


def _fetch(connection: Connection, shape: tuple, params: dict[str, Any]) -> list[tuple]:
    """The rows of the statement of `shape`, built once and run as a `Prepared` statement
    known by ("storage.event_durations", *shape) (storage/prepared.py)."""
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = Prepared.keyed(("storage.event_durations", *shape),
                                                        partial(_BUILDERS[shape[0]], shape))
    return statement.rows(connection, params)
