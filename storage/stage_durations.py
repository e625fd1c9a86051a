"""Exact percentiles of the deals' stage times and sales cycles over any period, at a cost
that does not grow with the period's length.

Reads `deal_durations` (each deal's duration per measure, in milliseconds, with the instant it
counts at) and `deal_duration_counts` (their histograms per UTC month, bucket and owner; both
kept by triggers on `deals`, migration 0016). For a period [start, end):

1. Per bucket, the deals of the period and the sum of their durations: the histograms of the
   months the period covers wholly, plus the deals of a partly covered month read from
   `deal_durations` (ix_deal_durations_exit); a month covered for at least half its length is
   taken from its histogram minus the deals outside the period (one UNION ALL statement).
2. n and the total come from those counts; each rank a percentile reads (see
   `percentile`) lies in one bucket, at a known offset in it.
3. The durations at those offsets of those buckets' deals in the period are read in the
   order of the durations (ix_deal_durations_bucket: no sort; one UNION ALL statement). The
   bucket of zero-length stays holds one value and needs no read.

So the work is the populated (bucket, month) rows of the histograms, the deals of at most two
half months, and the deals of a few buckets (about 1/8 of a doubling of the duration each) up
to the ranks. What has settled is remembered in this process until the workspace's
history_version moves, as the medians of past windows are (storage/facts.py; `Settled`: now -
REMEMBER_BEFORE, storage/history_settle.py; `_read_plan`): for the stage times, the summed
histograms and each wanted bucket's sorted durations of the deals counted before the last whole
UTC hour before then; a period reaching into the present then reads only the deals counted
since that hour (ix_deal_durations_exit: at 1M events a few rows, where the quarter's current
month was ~130 histogram rows, each a lookup in the table, and each median a walk along its
bucket), as rows (measure, bucket, ms) that give both their histogram and their values at the
ranks (`_recent_rows`): a statement that depends on nothing read before it, so PostgreSQL reads
it ahead with the funnel's others (storage/pg_batch.py). The sales cycle remembers whole
settled months only (its start, a deal's first stage event, moves the version too:
storage/deals.py). The values are those of `seconds_between`
(rounded to milliseconds by the same SQL when the trigger stored them) and the mean is the
exact sum of those milliseconds divided by n (correctly rounded).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from reports.events import STAGE_ORDER
from storage.prepared import Prepared

if TYPE_CHECKING:  # the builders import them: the light read path (storage/lite.py) does not
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

CYCLE = 5  # the sales cycle's measure; stage i of STAGE_ORDER[:-1] is measure i
MEASURES = {stage: i for i, stage in enumerate(STAGE_ORDER[:-1])}
TEAM = ""  # deal_duration_counts.owner_id of the whole team's rows
ZERO_BUCKET = 0  # the bucket [0, 1): zero-length stays (skipped stages); migration 0016
FEW_MONTHS = 12  # the stage times' histograms of up to this many months: read by month (0019)

Histogram = tuple[dict[int, int], dict[int, int]]  # a measure's bucket -> deals, -> sum of ms


@dataclass(frozen=True)
class Summary:
    """The deals of one measure in a period: how many, the sum of their durations (ms), and
    their durations (ms) at the ranks asked for (0-based, in ascending order)."""

    n: int = 0
    total_ms: int = 0
    at: Mapping[int, int] | None = None


@dataclass(frozen=True)
class Settled:
    """What lets `summaries` remember the histograms of whole months: those that ended at or
    before `before` (now - storage.history_settle.REMEMBER_BEFORE) change only with a write
    that moves the workspace's history_version (storage/workspaces.py), `version()` (read
    when needed, in the reading transaction)."""

    before: datetime
    version: Callable[[], int]


def percentile_ranks(count: int, tenths: Iterable[int]) -> set[int]:
    """The ranks (0-based, in sorted order) the p = tenths / 10 percentiles of `count` values
    read (the two closest ranks of each)."""
    ranks = set()
    for t in tenths:
        low, remainder = divmod((count - 1) * t, 10)
        ranks.update((low, low + 1) if remainder else (low,))
    return ranks


def percentile(count: int, at: Mapping[int, float], tenths: int) -> float:
    """The p = tenths / 10 percentile of `count` sorted values, from the values at its two
    closest ranks (`at`: rank -> value): linear interpolation between the closest ranks
    (numpy's default, PostgreSQL's percentile_cont)."""
    low, remainder = divmod((count - 1) * tenths, 10)  # exact integer ranks
    value = at[low]
    if remainder:
        value += (at[low + 1] - value) * remainder / 10
    return value


def summaries(connection: Connection, workspace_id: str, measures: Iterable[int],
              start: datetime, end: datetime, *, user: str | None, tenths: Iterable[int],
              settled: Settled | None = None) -> dict[int, Summary]:
    """Per measure, the `Summary` of the deals counted in [start, end) (owned by `user` if
    given), with the values at the ranks of the `tenths` percentiles; with `settled`, what
    has settled remembered in this process (`_read_plan`: the stage times' deals counted
    before the last whole hour before `settled.before`, the sales cycle's whole months)."""
    measures, tenths = tuple(measures), tuple(tenths)
    if not measures or start >= end:
        return {m: Summary() for m in measures}
    owner = TEAM if user is None else user
    kept, whole, ranges = _read_plan(start, end, user, measures, settled)
    cut = None if user == TEAM else _cut(start, end, measures, settled)
    counts, since = _bucket_counts(connection, workspace_id, measures, owner, user, kept,
                                   whole, ranges, settled, recent=cut is not None)
    result: dict[int, Summary] = {}
    wanted: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (measure, bucket) -> ranks
    known: dict[int, dict[int, int]] = {}
    for measure in measures:
        known[measure] = {}
        found = counts.get(measure)
        if found is None:
            result[measure] = Summary()
            continue
        buckets, deals, n, total = _ordered(*found)
        result[measure] = Summary(n=n, total_ms=total)
        for rank in sorted(percentile_ranks(n, tenths)) if n else ():
            bucket, offset = _locate(buckets, deals, rank)
            if bucket == ZERO_BUCKET:
                known[measure][rank] = 0
            else:
                wanted.setdefault((measure, bucket), []).append((rank, offset))
    read = (_bucket_values(connection, workspace_id, wanted, start, end, user)
            if cut is None or settled is None else
            _split_values(connection, workspace_id, wanted, start, cut, user, settled,
                          since or {}))
    for (measure, bucket), values in read.items():
        for rank, offset in wanted[(measure, bucket)]:
            known[measure][rank] = values[offset]
    return {m: Summary(s.n, s.total_ms, known[m]) for m, s in result.items()}


def _ordered(by_deals: dict[int, int], by_total: dict[int, int]
             ) -> tuple[list[int], list[int], int, int]:
    """A measure's histogram (bucket -> deals, bucket -> sum of ms) as its buckets in
    ascending order, their deals, and the deals and sum of ms of the buckets with deals
    (a bucket whose deals came to 0 counts for nothing), with little Python per bucket."""
    buckets = sorted(by_deals)
    deals = list(map(by_deals.__getitem__, buckets))
    total = sum(by_total.values())
    if 0 in deals:  # (only a bucket emptied by the ranges taken away)
        total -= sum(by_total[b] for b, d in zip(buckets, deals, strict=True) if not d)
    return buckets, deals, sum(deals), total


def _locate(buckets: list[int], deals: list[int], rank: int) -> tuple[int, int]:
    """`locate_rank` over the buckets with deals of `_ordered`'s lists (a search over their
    running sums, not a step per bucket)."""
    if min(deals) < 0:  # not a histogram of deals: as locate_rank reads it
        return locate_rank([(b, (d, 0)) for b, d in zip(buckets, deals, strict=True) if d],
                           rank)
    running = list(accumulate(deals))
    i = bisect_right(running, rank)  # the first bucket whose deals reach past `rank`
    if i == len(running):
        raise ValueError(f"rank {rank} beyond the {running[-1] if running else 0} values")
    return buckets[i], rank - (running[i - 1] if i else 0)


def locate_rank(buckets: list[tuple[int, tuple[int, int]]], rank: int) -> tuple[int, int]:
    """(bucket, offset in it) of the value at `rank` of the (bucket, (deals, total)) rows in
    ascending order of bucket."""
    before = 0
    for bucket, (count, _total) in buckets:
        if rank < before + count:
            return bucket, rank - before
        before += count
    raise ValueError(f"rank {rank} beyond the {before} values")


def month_plan(start: datetime, end: datetime) -> tuple[tuple[int, int] | None,
                                                        list[tuple[int, datetime, datetime]]]:
    """([first, stop) UTC months read from the histograms, or None; (sign, from, to): the
    deals to add (+1) or take away (-1))."""
    first, last = _month(start), _month(end - _TICK)
    hist_first, hist_stop = first, last + 1
    ranges: list[tuple[int, datetime, datetime]] = []
    for month in sorted({first, last}):
        month_start, month_end = _month_start(month), _month_start(month + 1)
        inside_from, inside_to = max(start, month_start), min(end, month_end)
        if (inside_from, inside_to) == (month_start, month_end):
            continue
        if (inside_to - inside_from) * 2 >= month_end - month_start:
            ranges += [(-1, a, b) for a, b in ((month_start, inside_from),
                                               (inside_to, month_end)) if a < b]
        else:
            ranges.append((1, inside_from, inside_to))
            if month == first:
                hist_first = month + 1
            if month == last:
                hist_stop = month
    return ((hist_first, hist_stop) if hist_first < hist_stop else None), ranges


Plan = tuple[tuple[int, int] | None, list[tuple[int, datetime, datetime]]]  # month_plan's


def _read_plan(start: datetime, end: datetime, user: str | None, measures: tuple[int, ...],
               settled: Settled | None) -> tuple[Plan | None, tuple[int, int] | None,
                                                list[tuple[int, datetime, datetime]]]:
    """How [start, end) is read: (the part a process may remember, as month_plan's
    (histogram months, ranges of deals), or None; the histogram months and the ranges of
    deals read every time).

    With `settled`, the stage times' deals that counted before the last whole UTC hour before
    `settled.before` (now - REMEMBER_BEFORE) are remembered: they change only with a write that
    moves the history version (storage/deals.py `_changes_past`: a stage time, owner or
    outcome of a deal with a time before then), and what is read each time is the deals
    counted since that hour (at 1M events, a few rows instead of the current month's ~130
    histogram rows, each a lookup in the table). The sales cycle remembers its whole settled
    months only (the rule watches its start, a deal's first stage event, too)."""
    if user == TEAM:  # no per-owner histogram for an empty owner id: read its deals
        return None, None, [(1, start, end)]
    cut = _cut(start, end, measures, settled)
    if cut is not None:
        return month_plan(start, cut), None, [(1, cut, end)] if cut < end else []
    if settled is not None and CYCLE not in measures:  # the period starts after the hour
        return None, None, [(1, start, end)]
    whole, ranges = month_plan(start, end)
    months, whole = _settled_split(whole, settled)
    return ((months, []) if months is not None else None), whole, ranges


def _cut(start: datetime, end: datetime, measures: tuple[int, ...], settled: Settled | None
         ) -> datetime | None:
    """The end of the part of [start, end) `_read_plan` remembers by the hour (the last whole
    UTC hour before `settled.before`, or `end` if sooner), None when it remembers none so."""
    if settled is None or CYCLE in measures:
        return None
    cut = settled.before.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return min(end, cut) if start < cut else None


def _bucket_counts(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                   owner: str, user: str | None, kept: Plan | None,
                   whole: tuple[int, int] | None, ranges: list[tuple[int, datetime, datetime]],
                   settled: Settled | None = None, *, recent: bool = False
                   ) -> tuple[dict[int, Histogram], dict[tuple[int, int], list[int]] | None]:
    """measure -> its `Histogram` over the part `kept` (remembered, with `settled`), the
    histogram months `whole` and the ranges; and with `recent` (the ranges are the deals
    since the last hour, `_read_plan`), (measure, bucket) -> those deals' durations, unsorted:
    their rows are read themselves (`_recent_rows`, a few) and counted here, so that the
    values at the ranks need no statement of their own that depends on the histograms."""
    counts: dict[int, Histogram] = {}
    if kept is not None and settled is not None:
        counts = {measure: (by_deals.copy(), by_total.copy()) for measure, (by_deals, by_total)
                  in _settled_sums(connection, workspace_id, measures, owner, user, kept,
                                   settled).items()}
    if recent:
        since: dict[tuple[int, int], list[int]] = {}
        if ranges:
            (_sign, a, b), = ranges
            for measure, bucket, ms in _recent_rows(connection, workspace_id, measures, user,
                                                    a, b):
                found = since.get((measure, bucket))
                if found is None:
                    since[(measure, bucket)] = [int(ms)]
                else:
                    found.append(int(ms))
            _add_rows(counts, ((measure, bucket, len(values), sum(values))
                               for (measure, bucket), values in since.items()))
        return counts, since
    if whole is not None or ranges:
        _add_rows(counts, _histogram_rows(connection, workspace_id, measures, owner, user,
                                          whole, ranges))
    return counts, None


def _recent_rows(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                 user: str | None, start: datetime, end: datetime) -> list[tuple]:
    """(measure, bucket, ms) of every deal of `measures` counted in [start, end) (owned by
    `user` if given): the deals since the last hour, a few rows."""
    return _fetch(connection, *_recent_shape(workspace_id, measures, user, start, end))


def _recent_shape(workspace_id: str, measures: tuple[int, ...], user: str | None,
                  start: datetime, end: datetime) -> tuple[tuple, dict[str, Any]]:
    """The statement shape and parameters of `_recent_statement`: the (measure, bucket, ms)
    of every deal of `measures` counted in [start, end) (owned by `user` if given)."""
    return (("recent", measures, user is not None),
            {"workspace": workspace_id, "user": user, "from_0": start, "to_0": end})


def _settled_split(whole: tuple[int, int] | None, settled: Settled | None
                   ) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The histogram months `whole` as (the settled months, or None; the rest, or None)."""
    if whole is None or settled is None:
        return None, whole
    stop = min(whole[1], _month(settled.before))  # months before it ended by `before`
    if stop <= whole[0]:
        return None, whole
    return (whole[0], stop), ((stop, whole[1]) if stop < whole[1] else None)


def histogram_request(connection: Connection, workspace_id: str, measures: Iterable[int],
                      start: datetime, end: datetime, *, user: str | None,
                      settled: Settled | None = None
                      ) -> tuple[Prepared, dict[str, Any]] | None:
    """The statement and parameters of the histogram rows `summaries` reads besides the
    settled months (which it may remember), or None when it reads none
    (storage/pg_batch.py reads it ahead)."""
    measures = tuple(measures)
    if not measures or start >= end:
        return None
    owner = TEAM if user is None else user
    _kept, whole, ranges = _read_plan(start, end, user, measures, settled)
    if whole is None and not ranges:
        return None
    if user != TEAM and _cut(start, end, measures, settled) is not None:  # (whole is None)
        (_sign, a, b), = ranges
        shape, params = _recent_shape(workspace_id, measures, user, a, b)
    else:
        shape, params = _histogram_shape(connection, workspace_id, measures, owner, user,
                                         whole, ranges)
    return _statement(shape), params


def settled_known(engine: sa.Engine, workspace_id: str, measures: Iterable[int],
                  start: datetime, end: datetime, *, user: str | None, settled: Settled
                  ) -> bool:
    """Whether `summaries` would find the settled histograms of [start, end) remembered
    (none to remember counts as remembered): reads nothing (the funnel's guess that its
    statements read ahead are all of them, storage/facts.py `read_ahead_funnel`)."""
    measures = tuple(measures)
    if not measures or start >= end:
        return True
    kept, _whole, _ranges = _read_plan(start, end, user, measures, settled)
    if kept is None:
        return True
    owner = TEAM if user is None else user
    whole, ranges = kept
    key = (workspace_id, settled.version(), owner, measures, whole, tuple(ranges))
    return past_histograms(engine).get(key) is not None


def _add_rows(counts: dict[int, Histogram], rows: Iterable[tuple[int, int, int, int]]) -> None:
    """(measure, bucket, deals, sum of ms) rows, ints (`_histogram_rows`), added into
    `counts` (an edge's deals added to or taken from a month's histogram)."""
    for measure, bucket, deals, total in rows:
        found = counts.get(measure)
        if found is None:
            found = counts[measure] = ({}, {})
        by_deals, by_total = found
        if bucket in by_deals:
            by_deals[bucket] += deals
            by_total[bucket] += total
        else:
            by_deals[bucket] = deals
            by_total[bucket] = total


def _settled_sums(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                  owner: str, user: str | None, kept: Plan, settled: Settled
                  ) -> dict[int, Histogram]:
    """measure -> `Histogram` of the settled part `kept` (its histogram months and ranges
    of deals), remembered per history version (read only: copied before anything is
    added)."""
    whole, ranges = kept
    key = (workspace_id, settled.version(), owner, measures, whole, tuple(ranges))
    remembered = past_histograms(connection.engine)
    sums = remembered.get(key)
    if sums is None:
        summed: dict[int, Histogram] = {}
        _add_rows(summed, _histogram_rows(connection, workspace_id, measures, owner,
                                          user if ranges else None, whole, ranges))
        sums = remembered.put(key, summed)
    return sums


def _histogram_rows(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                    owner: str, user: str | None, whole: tuple[int, int] | None,
                    ranges: list[tuple[int, datetime, datetime]], *, once: bool | None = None
                    ) -> list[tuple]:
    """(measure, bucket, deals, sum of ms) of the histogram months `whole` and of each range
    of deals (a sign each), in one statement, as ints; a (measure, bucket) may come several
    times. `once`: its plan kept (`_histogram_shape`)."""
    rows = _fetch(connection, *_histogram_shape(connection, workspace_id, measures, owner,
                                                user, whole, ranges, once=once))
    if connection.dialect.name == "sqlite":  # integers already, and never NULL: every group
        return rows                          # sums at least one row of NOT NULL columns
    return [(int(measure), int(bucket), int(deals or 0), int(total or 0))  # PostgreSQL's
            for measure, bucket, deals, total in rows]                     # sums: numeric


def _histogram_shape(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                     owner: str, user: str | None, whole: tuple[int, int] | None,
                     ranges: list[tuple[int, datetime, datetime]], *,
                     once: bool | None = None) -> tuple[tuple, dict[str, Any]]:
    """`_histogram_rows`' statement shape and parameters; `once` (default `_planned_once`):
    planned once per connection (the deals since the last hour: few rows however long the
    span to the period's end)."""
    # A few months of several measures (the stage times): by month. One measure alone (the
    # sales cycle) is fewer rows through the key: its buckets of every month.
    few = len(measures) > 1 and whole is not None and whole[1] - whole[0] <= FEW_MONTHS
    many = "many" if connection.dialect.name == "sqlite" else "many, month as it is"
    months = None if whole is None else "few" if few else many
    shape = ("counts", months, tuple(sign for sign, _a, _b in ranges), user is not None,
             measures, _planned_once(whole, ranges) if once is None else once)
    params: dict[str, Any] = {"workspace": workspace_id, "owner": owner, "user": user}
    if whole is not None:
        params.update(first=whole[0], stop=whole[1])
    for i, (_sign, a, b) in enumerate(ranges):
        params.update({f"from_{i}": a, f"to_{i}": b})
    return shape, params


def _counts_statement(shape: tuple) -> sa.CompoundSelect | sa.Select:
    import sqlalchemy as sa

    from storage.models import DealDuration, DealDurationCount
    from storage.plans import CUSTOM_PLANS

    _name, months, signs, with_user, measures, once = shape
    # The measures written into the text: a Prepared statement has no expanding parameters.
    listed = [sa.literal_column(str(int(m))) for m in measures]
    parts: list[sa.Select] = []
    if months is not None:
        c = DealDurationCount.__table__.c
        # A few months: their rows of ix_deal_duration_counts_month, summed per bucket with a
        # sort; SQLite would rather take the primary key's measure (every month of every
        # bucket) unless the measure is an expression. More months: the key, in bucket order,
        # the month an expression so that no planner takes the month index for them (it has
        # no counters: a lookup in the table per row, 21 ms a window over 2020..2027 at 5M).
        # PostgreSQL keeps the month as it is: with the expression it expected 40 rows of the
        # 7,700 of 2020..2027 at 1M and sorted them, where it now sums them in a hash table
        # (5.4 -> 3.5 ms a window, fastest of 40).
        few = months == "few"
        measure = c.measure + 0 if few else c.measure
        month = c.month + 0 if months == "many" else c.month
        parts.append(sa.select(c.measure, c.bucket, sa.func.sum(c.deals).label("deals"),
                               sa.func.sum(c.total_ms).label("total"))
                     .where(c.workspace_id == sa.bindparam("workspace"),
                            c.owner_id == sa.bindparam("owner"),
                            measure.in_(listed),
                            month >= sa.bindparam("first"), month < sa.bindparam("stop"))
                     .group_by(c.measure, c.bucket))
    d = DealDuration.__table__.c
    for i, sign in enumerate(signs):
        conditions = [d.workspace_id == sa.bindparam("workspace"),
                      d.measure.in_(listed),
                      d.exit_at >= sa.bindparam(f"from_{i}", type_=d.exit_at.type),
                      d.exit_at < sa.bindparam(f"to_{i}", type_=d.exit_at.type)]
        if with_user:
            conditions.append(d.owner_id == sa.bindparam("user"))
        # Grouped by an expression: on the bucket column itself SQLite would rather read
        # ix_deal_durations_bucket in its order (every bucket of every month) than the range.
        bucket = (d.bucket + 0).label("bucket")
        factor = sa.literal_column(str(sign))
        parts.append(sa.select(d.measure, bucket, (sa.func.count() * factor).label("deals"),
                               (sa.func.sum(d.ms) * factor).label("total"))
                     .where(*conditions).group_by(d.measure, bucket))
    # Over many months never prepared: the months' generic plan read 2020..2027 at 1M in
    # twice the time. A short read (`_planned_once`) keeps its generic plan.
    statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return statement if once else statement.execution_options(**CUSTOM_PLANS)


def _bucket_values(connection: Connection, workspace_id: str,
                   wanted: Mapping[tuple[int, int], list[tuple[int, int]]], start: datetime,
                   end: datetime, user: str | None) -> dict[tuple[int, int], dict[int, int]]:
    """(measure, bucket) -> {offset: duration (ms)} of the deals of that bucket in the period,
    in ascending order of duration, at (at least) the offsets `wanted` lists ((rank, offset)
    pairs). PostgreSQL: `_bucket_values_of_arrays`."""
    if not wanted:
        return {}
    keys = list(wanted)
    first = [min(offset for _rank, offset in wanted[key]) for key in keys]
    last = [max(offset for _rank, offset in wanted[key]) for key in keys]
    if connection.dialect.name == "postgresql":
        return _bucket_values_of_arrays(connection, workspace_id, keys, first, last, start,
                                        end, user)
    params: dict[str, Any] = {"workspace": workspace_id, "start": start, "end": end,
                              "user": user}
    for i, key in enumerate(keys):
        params.update({f"measure_{i}": key[0], f"bucket_{i}": key[1],
                       f"offset_{i}": first[i], f"limit_{i}": last[i] - first[i] + 1})
    # Padded to a power of two with parts that read nothing: a statement per number of
    # buckets (1 to ~20 in a digest) compiled and prepared twenty large statements (on each
    # pooled connection); now five.
    parts = 1 << (len(keys) - 1).bit_length()
    for i in range(len(keys), parts):
        params.update({f"measure_{i}": -1, f"bucket_{i}": -1, f"offset_{i}": 0,
                       f"limit_{i}": 0})
    found: dict[int, list[int]] = {i: [] for i in range(len(keys))}
    for part, ms in _fetch(connection, ("values", parts, user is not None), params):
        found[int(part)].append(int(ms))
    return {key: dict(enumerate(sorted(found[i]), first[i])) for i, key in enumerate(keys)}


def _bucket_values_of_arrays(connection: Connection, workspace_id: str,
                             keys: list[tuple[int, int]], first: list[int], last: list[int],
                             start: datetime, end: datetime, user: str | None
                             ) -> dict[tuple[int, int], dict[int, int]]:
    """PostgreSQL's `_bucket_values`, in one statement for any number of buckets
    (`_values_of_arrays`: prepared, planned once)."""
    params: dict[str, Any] = {
        "workspace": workspace_id, "start": start, "end": end, "user": user,
        "measures": [m for m, _b in keys], "buckets": [b for _m, b in keys],
        "offsets": first, "limits": [stop + 1 - skip for stop, skip in zip(last, first,
                                                                           strict=True)]}
    found: dict[int, list[int]] = {}
    for part, ms in _fetch(connection, ("values", "arrays", user is not None), params):
        found.setdefault(int(part), []).append(int(ms))
    return {key: dict(enumerate(sorted(found.get(i, ())), first[i]))
            for i, key in enumerate(keys)}


def _split_values(connection: Connection, workspace_id: str,
                  wanted: Mapping[tuple[int, int], list[tuple[int, int]]], start: datetime,
                  cut: datetime, user: str | None, settled: Settled,
                  since: Mapping[tuple[int, int], list[int]]
                  ) -> dict[tuple[int, int], dict[int, int]]:
    """`_bucket_values` of a period whose deals counted before `cut` are settled
    (`_read_plan`): each bucket's durations before `cut` remembered (all of them, sorted, per
    history version), merged with `since`, those counted since `cut` (read with the
    histograms, `_bucket_counts`: no statement here unless a bucket's settled part is not
    remembered yet)."""
    if not wanted:
        return {}
    remembered = past_values(connection.engine)
    version = settled.version()
    kept: dict[tuple[int, int], Sequence[int]] = {}
    missing = []
    for key in wanted:
        found = remembered.get((workspace_id, version, user, key, start, cut))
        if found is None:
            missing.append(key)
        else:
            kept[key] = found
    if missing:
        for key, values in _all_values(connection, workspace_id, missing, start, cut,
                                       user).items():
            kept[key] = remembered.put((workspace_id, version, user, key, start, cut),
                                       array("q", sorted(values)))  # 8 bytes a value
    result = {}
    for key, ranks in wanted.items():
        values = kept[key]
        if since.get(key):
            values = sorted([*values, *since[key]])
        result[key] = {offset: values[offset] for _rank, offset in ranks}
    return result


def _all_values(connection: Connection, workspace_id: str, keys: list[tuple[int, int]],
                start: datetime, end: datetime, user: str | None
                ) -> dict[tuple[int, int], list[int]]:
    """(measure, bucket) -> every duration (ms) of that bucket's deals counted in
    [start, end), unsorted (read by bucket)."""
    params: dict[str, Any] = {"workspace": workspace_id, "start": start, "end": end,
                              "user": user}
    for i, (measure, bucket) in enumerate(keys):
        params.update({f"measure_{i}": measure, f"bucket_{i}": bucket})
    parts = 1 << (len(keys) - 1).bit_length()  # as in _bucket_values
    for i in range(len(keys), parts):
        params.update({f"measure_{i}": -1, f"bucket_{i}": -1})
    found: dict[tuple[int, int], list[int]] = {key: [] for key in keys}
    for part, ms in _fetch(connection, ("all values", parts, user is not None), params):
        found[keys[int(part)]].append(int(ms))
    return found


def _all_values_statement(shape: tuple) -> sa.CompoundSelect | sa.Select:
    """Per part i, every duration of bucket_i of measure_i in [start, end), by bucket
    (read once an hour: planned for its values)."""
    import sqlalchemy as sa

    from storage.models import DealDuration
    from storage.plans import CUSTOM_PLANS

    _name, n_parts, with_user = shape
    d = DealDuration.__table__.c
    parts = []
    for i in range(n_parts):
        conditions = [d.workspace_id == sa.bindparam("workspace"),
                      d.measure == sa.bindparam(f"measure_{i}"),
                      d.bucket == sa.bindparam(f"bucket_{i}"),
                      d.exit_at >= sa.bindparam("start", type_=d.exit_at.type),
                      d.exit_at < sa.bindparam("end", type_=d.exit_at.type)]
        if with_user:
            conditions.append(d.owner_id == sa.bindparam("user"))
        parts.append(sa.select(sa.literal_column(str(i)).label("part"), d.ms)
                     .where(*conditions))
    statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return statement.execution_options(**CUSTOM_PLANS)


def _recent_statement(shape: tuple) -> sa.Select:
    """(measure, bucket, ms) of every deal of the measures counted in [from_0, to_0): the
    deals since the last hour (`_bucket_counts`), a few rows read from ix_deal_durations_exit
    alone (the bucket an expression: on the column itself SQLite would rather read
    ix_deal_durations_bucket), with its generic plan (every answer runs it)."""
    import sqlalchemy as sa

    from storage.models import DealDuration

    _name, measures, with_user = shape
    d = DealDuration.__table__.c
    conditions = [d.workspace_id == sa.bindparam("workspace"),
                  d.measure.in_([sa.literal_column(str(int(m))) for m in measures]),
                  d.exit_at >= sa.bindparam("from_0", type_=d.exit_at.type),
                  d.exit_at < sa.bindparam("to_0", type_=d.exit_at.type)]
    if with_user:
        conditions.append(d.owner_id == sa.bindparam("user"))
    bucket = (d.bucket + sa.literal_column("0")).label("bucket")
    return sa.select(d.measure, bucket, d.ms).where(*conditions)


def _values_statement(shape: tuple) -> sa.CompoundSelect | sa.Select | sa.TextClause:
    """Per part i, the durations at offsets [offset_i, offset_i + limit_i) of bucket_i of
    measure_i in [start, end), in ascending order (read in index order)."""
    import sqlalchemy as sa

    from storage.models import DealDuration
    from storage.plans import CUSTOM_PLANS

    _name, n_parts, with_user = shape
    if n_parts == "arrays":
        return _values_of_arrays(with_user)
    d = DealDuration.__table__.c
    parts = []
    for i in range(n_parts):
        conditions = [d.workspace_id == sa.bindparam("workspace"),
                      d.measure == sa.bindparam(f"measure_{i}"),
                      d.bucket == sa.bindparam(f"bucket_{i}"),
                      d.exit_at >= sa.bindparam("start", type_=d.exit_at.type),
                      d.exit_at < sa.bindparam("end", type_=d.exit_at.type)]
        if with_user:
            conditions.append(d.owner_id == sa.bindparam("user"))
        picked = (sa.select(sa.literal_column(str(i)).label("part"), d.ms).where(*conditions)
                  .order_by(d.ms)
                  .limit(sa.bindparam(f"limit_{i}", type_=sa.Integer))
                  .offset(sa.bindparam(f"offset_{i}", type_=sa.Integer)).subquery())
        parts.append(sa.select(picked))
    # SQLite plans every statement for its values.
    statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return statement.execution_options(**CUSTOM_PLANS)


def _values_of_arrays(with_user: bool) -> sa.TextualSelect:
    """PostgreSQL: the values of any number of (measure, bucket) parts in one statement with
    a generic plan (prepared, never planned again): per element of the arrays (part = its
    index, from 0), the bucket's durations in the order of ix_deal_durations_bucket from
    :offsets[i], :limits[i] of them. The period is a filter on that index's rows (`IS
    TRUE`), never a range of ix_deal_durations_exit: a generic plan, which cannot know the
    period's length or the offsets, took that range and sorted every duration of the measure
    in it (12 ms over 2020..2027 at 1M against 0.3 ms). So each part reads at most one
    bucket's index entries, in order, up to its last offset in the period. It replaced a
    UNION ALL of LIMIT/OFFSET parts planned for their values on every run (the funnel
    this-quarter at 1M, session 12: 0.35 ms of planning and 0.13 ms of execution against
    about 0.15-0.2 ms of execution)."""
    import sqlalchemy as sa

    from storage.models import DealDuration

    owner = " AND deal_durations.owner_id = :user" if with_user else ""
    d = DealDuration.__table__.c
    return sa.text(
        "SELECT p.part - 1 AS part, v.ms FROM unnest(:measures, :buckets, :offsets, :limits) "
        "WITH ORDINALITY AS p(measure, bucket, skip, take, part) CROSS JOIN LATERAL "
        "(SELECT deal_durations.ms FROM deal_durations "
        "WHERE deal_durations.workspace_id = :workspace "
        "AND deal_durations.measure = p.measure AND deal_durations.bucket = p.bucket "
        "AND (deal_durations.exit_at >= :start AND deal_durations.exit_at < :end) IS TRUE"
        f"{owner} ORDER BY deal_durations.ms LIMIT p.take OFFSET p.skip) AS v"
    ).bindparams(
        sa.bindparam("workspace", type_=d.workspace_id.type),
        *([sa.bindparam("user", type_=d.owner_id.type)] if with_user else []),
        sa.bindparam("start", type_=d.exit_at.type), sa.bindparam("end", type_=d.exit_at.type),
        sa.bindparam("measures", type_=sa.ARRAY(sa.Integer)),
        sa.bindparam("buckets", type_=sa.ARRAY(sa.BigInteger)),
        sa.bindparam("offsets", type_=sa.ARRAY(sa.Integer)),
        sa.bindparam("limits", type_=sa.ARRAY(sa.Integer)),
    ).columns(sa.column("part", sa.Integer), sa.column("ms", sa.BigInteger))


def _planned_once(whole: tuple[int, int] | None,
                  ranges: list[tuple[int, datetime, datetime]]) -> bool:
    """Whether a histogram read is short enough for its generic plan (prepared, planned once
    per connection): at most a quarter's months of histograms (a period's unsettled months,
    its settled months being remembered) and ranges of deals of at most a month each. Its
    custom plan cost more than it saved: the funnel this-quarter at 1M (December's rows),
    session 11, pg_stat_statements: 0.27-0.38 ms of planning and 0.36 ms of execution per
    answer against 0.23 ms of execution generic. Longer reads keep `CUSTOM_PLANS`."""
    months = 0 if whole is None else whole[1] - whole[0]
    return months <= 3 and all(b - a <= _MONTH for _sign, a, b in ranges)


_MONTH = timedelta(days=31)


_STATEMENTS: dict[tuple, Prepared] = {}  # shape -> statement, built once
_BUILDERS = {"counts": _counts_statement, "values": _values_statement,
             "all values": _all_values_statement, "recent": _recent_statement}


def _fetch(connection: Connection, shape: tuple, params: dict[str, Any]) -> list[tuple]:
    """The rows of the statement of `shape`, built once and run as a `Prepared` statement
    (SQLAlchemy's per-row objects and per-position conversions cost more than reading a few
    thousand numbers)."""
    return _statement(shape).rows(connection, params)


def _statement(shape: tuple) -> Prepared:
    """The statement of `shape`, built once."""
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = Prepared.keyed(("storage.stage_durations", *shape),
                                                        partial(_BUILDERS[shape[0]], shape))
    return statement


_TICK = datetime.resolution


def _month(at: datetime) -> int:
    at = at.astimezone(UTC)
    return at.year * 12 + at.month - 1


def _month_start(month: int) -> datetime:
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


def seconds_between(later: Any, earlier: Any, dialect: str) -> sa.ColumnElement:
    """`later - earlier` in seconds, rounded to milliseconds, for two timestamp expressions."""
    import sqlalchemy as sa

    if dialect == "sqlite":
        seconds = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    else:
        seconds = sa.cast(sa.extract("epoch", later - earlier), sa.Numeric)
    return sa.func.round(seconds, 3)


class _Remembered:
    """A small least-recently-used map (results of past windows, shared by the sessions of
    this process)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


# Per engine (a process may hold several databases, e.g. in tests), forgotten with it.
_PAST_MEDIANS: weakref.WeakKeyDictionary[sa.Engine, _Remembered] = weakref.WeakKeyDictionary()
_PAST_MEDIANS_LOCK = threading.Lock()


_PAST_HISTOGRAMS: weakref.WeakKeyDictionary[sa.Engine, _Remembered] = (
    weakref.WeakKeyDictionary())


def past_histograms(engine: sa.Engine) -> _Remembered:
    """The summed histograms of settled whole months (`_settled_rows`), per (workspace,
    history_version, owner, measures, months), for the sessions of this process."""
    with _PAST_MEDIANS_LOCK:
        remembered = _PAST_HISTOGRAMS.get(engine)
        if remembered is None:
            remembered = _PAST_HISTOGRAMS[engine] = _Remembered(64)
        return remembered


_PAST_VALUES: weakref.WeakKeyDictionary[sa.Engine, _Remembered] = weakref.WeakKeyDictionary()


def past_values(engine: sa.Engine) -> _Remembered:
    """The sorted durations of one bucket's deals counted in a settled span (`_split_values`),
    per (workspace, history_version, user, (measure, bucket), start, end), for the sessions
    of this process."""
    with _PAST_MEDIANS_LOCK:
        remembered = _PAST_VALUES.get(engine)
        if remembered is None:
            remembered = _PAST_VALUES[engine] = _Remembered(256)
        return remembered


def past_medians(engine: sa.Engine) -> _Remembered:
    """The medians of windows that ended before the history settled (storage/facts.py), per
    (workspace, history_version, start, end, user), for the sessions of this process."""
    with _PAST_MEDIANS_LOCK:
        remembered = _PAST_MEDIANS.get(engine)
        if remembered is None:
            remembered = _PAST_MEDIANS[engine] = _Remembered(256)
        return remembered
