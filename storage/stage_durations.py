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
to the ranks. The summed histograms of whole months that ended before the history settled
(`Settled`: now - HISTORY_SETTLE) are remembered in this process until the workspace's
history_version moves, as the medians of past windows are (storage/facts.py): a quarter then
reads the rows of its current month only (at 1M events, 114 of 549 rows, each a lookup in the
table for its counters). The values are those of `seconds_between` (rounded to milliseconds by
the same SQL when the trigger stored them) and the mean is the exact sum of those
milliseconds divided by n (correctly rounded).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
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
    before `before` (now - storage.deals.HISTORY_SETTLE) change only with a write that moves
    the workspace's history_version (storage/workspaces.py), `version()` (read when needed,
    in the reading transaction)."""

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
    given), with the values at the ranks of the `tenths` percentiles; with `settled`, the
    histograms of its settled months remembered in this process."""
    measures, tenths = tuple(measures), tuple(tenths)
    if not measures or start >= end:
        return {m: Summary() for m in measures}
    owner = TEAM if user is None else user
    if user == TEAM:  # no per-owner histogram for an empty owner id: read its deals
        whole, ranges = None, [(1, start, end)]
    else:
        whole, ranges = month_plan(start, end)
    counts = _bucket_counts(connection, workspace_id, measures, owner, user, whole, ranges,
                            settled)
    result: dict[int, Summary] = {}
    wanted: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (measure, bucket) -> ranks
    known: dict[int, dict[int, int]] = {}
    for measure in measures:
        buckets = sorted((b, nt) for b, nt in counts.get(measure, {}).items() if nt[0])
        n = sum(count for _b, (count, _total) in buckets)
        result[measure] = Summary(n=n, total_ms=sum(total for _b, (_n, total) in buckets))
        known[measure] = {}
        for rank in sorted(percentile_ranks(n, tenths)) if n else ():
            bucket, offset = locate_rank(buckets, rank)
            if bucket == ZERO_BUCKET:
                known[measure][rank] = 0
            else:
                wanted.setdefault((measure, bucket), []).append((rank, offset))
    guessed = (workspace_id, measures, start, end, user, tenths)
    for (measure, bucket), values in _bucket_values(connection, workspace_id, wanted, start,
                                                    end, user, remember=guessed).items():
        for rank, offset in wanted[(measure, bucket)]:
            known[measure][rank] = values[offset]
    return {m: Summary(s.n, s.total_ms, known[m]) for m, s in result.items()}


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


def _bucket_counts(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                   owner: str, user: str | None, whole: tuple[int, int] | None,
                   ranges: list[tuple[int, datetime, datetime]], settled: Settled | None = None
                   ) -> dict[int, dict[int, tuple[int, int]]]:
    """measure -> bucket -> (deals, sum of ms) over the histogram months and the ranges."""
    summed: dict[tuple[int, int], list[int]] = {}  # (measure, bucket) -> [deals, sum of ms]
    months, whole = _settled_split(whole, settled)
    if months is not None and settled is not None:
        summed = {key: [deals, total] for key, (deals, total) in _settled_sums(
            connection, workspace_id, measures, owner, months, settled).items()}
    if whole is not None or ranges:
        _add_rows(summed, _histogram_rows(connection, workspace_id, measures, owner, user,
                                          whole, ranges))
    counts: dict[int, dict[int, tuple[int, int]]] = {}
    for (measure, bucket), (deals, total) in summed.items():
        counts.setdefault(measure, {})[bucket] = (deals, total)
    return counts


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
    whole, ranges = (None, [(1, start, end)]) if user == TEAM else month_plan(start, end)
    _months, whole = _settled_split(whole, settled)
    if whole is None and not ranges:
        return None
    shape, params = _histogram_shape(connection, workspace_id, measures, owner, user, whole,
                                     ranges)
    return _statement(shape), params


def _add_rows(summed: dict[tuple[int, int], list[int]], rows: Iterable[tuple]) -> None:
    """(measure, bucket, deals, sum of ms) rows added into `summed`, as ints."""
    for measure, bucket, deals, total in rows:
        key = (int(measure), int(bucket))
        found = summed.get(key)
        if found is None:
            summed[key] = [int(deals or 0), int(total or 0)]
        else:  # an edge's deals added to or taken from a month's histogram
            found[0] += int(deals or 0)
            found[1] += int(total or 0)


def _settled_sums(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                  owner: str, months: tuple[int, int], settled: Settled
                  ) -> dict[tuple[int, int], tuple[int, int]]:
    """(measure, bucket) -> (deals, sum of ms) of the histograms of `months` (all settled),
    remembered per history version (read only)."""
    key = (workspace_id, settled.version(), owner, measures, months)
    remembered = past_histograms(connection.engine)
    sums = remembered.get(key)
    if sums is None:
        summed: dict[tuple[int, int], list[int]] = {}
        _add_rows(summed, _histogram_rows(connection, workspace_id, measures, owner, None,
                                          months, []))
        sums = remembered.put(key, {k: (deals, total) for k, (deals, total) in summed.items()})
    return sums


def _histogram_rows(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                    owner: str, user: str | None, whole: tuple[int, int] | None,
                    ranges: list[tuple[int, datetime, datetime]]) -> list[tuple]:
    """(measure, bucket, deals, sum of ms) of the histogram months `whole` and of each range
    of deals (a sign each), in one statement; a (measure, bucket) may come several times."""
    return _fetch(connection, *_histogram_shape(connection, workspace_id, measures, owner,
                                                user, whole, ranges))


def _histogram_shape(connection: Connection, workspace_id: str, measures: tuple[int, ...],
                     owner: str, user: str | None, whole: tuple[int, int] | None,
                     ranges: list[tuple[int, datetime, datetime]]
                     ) -> tuple[tuple, dict[str, Any]]:
    """`_histogram_rows`' statement shape and parameters."""
    # A few months of several measures (the stage times): by month. One measure alone (the
    # sales cycle) is fewer rows through the key: its buckets of every month.
    few = len(measures) > 1 and whole is not None and whole[1] - whole[0] <= FEW_MONTHS
    many = "many" if connection.dialect.name == "sqlite" else "many, month as it is"
    months = None if whole is None else "few" if few else many
    shape = ("counts", months, tuple(sign for sign, _a, _b in ranges), user is not None,
             measures, _planned_once(whole, ranges))
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
                   end: datetime, user: str | None, *, remember: tuple | None = None
                   ) -> dict[tuple[int, int], dict[int, int]]:
    """(measure, bucket) -> {offset: duration (ms)} of the deals of that bucket in the period,
    in ascending order of duration, at (at least) the offsets `wanted` lists ((rank, offset)
    pairs). PostgreSQL: see `_bucket_values_of_arrays` (`remember`: its key)."""
    if not wanted:
        return {}
    keys = list(wanted)
    first = [min(offset for _rank, offset in wanted[key]) for key in keys]
    last = [max(offset for _rank, offset in wanted[key]) for key in keys]
    if connection.dialect.name == "postgresql":
        return _bucket_values_of_arrays(connection, workspace_id, keys, first, last, start,
                                        end, user, remember)
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


SPARE_OFFSETS = 2  # PostgreSQL: offsets read on either side of those wanted (a guess's margin)


def _bucket_values_of_arrays(connection: Connection, workspace_id: str,
                             keys: list[tuple[int, int]], first: list[int], last: list[int],
                             start: datetime, end: datetime, user: str | None,
                             remember: tuple | None) -> dict[tuple[int, int], dict[int, int]]:
    """PostgreSQL's `_bucket_values`, in one statement (`_values_of_arrays`) that reads
    SPARE_OFFSETS more offsets on either side of each bucket's wanted ones. The statement and
    values asked are remembered under `remember` (`values_guess`: the funnel reads them ahead
    next time, storage/pg_batch.py). When the values remembered cover what is wanted now (each
    wanted bucket, at offsets within its range: one more duration in the period moves a
    median's offsets by one or two), they are asked again as they were, so that the rows read
    ahead serve; else the wanted ones. Either way the rows are this transaction's own, and
    every wanted offset is in them: the histograms read in the same snapshot count at least
    that many durations in the bucket."""
    asked = None if remember is None else last_values(connection.engine).get(remember)
    if asked is None or not _covers(asked[1], keys, first, last):
        params: dict[str, Any] = {
            "workspace": workspace_id, "start": start, "end": end, "user": user,
            "measures": [m for m, _b in keys], "buckets": [b for _m, b in keys],
            "offsets": [max(0, f - SPARE_OFFSETS) for f in first]}
        params["limits"] = [stop + 1 + SPARE_OFFSETS - skip
                            for stop, skip in zip(last, params["offsets"], strict=True)]
        asked = _statement(("values", "arrays", user is not None)), params
        if remember is not None:
            last_values(connection.engine).put(remember, asked)
    statement, params = asked
    found: dict[int, list[int]] = {}
    for part, ms in statement.rows(connection, params):
        found.setdefault(int(part), []).append(int(ms))
    where = _parts(params)
    return {key: dict(enumerate(sorted(found.get(where[key], ())), params["offsets"][where[key]]))
            for key in keys}


def _parts(params: Mapping[str, Any]) -> dict[tuple[int, int], int]:
    """(measure, bucket) -> its part in the values asked with `params`."""
    return {key: i for i, key in enumerate(zip(params["measures"], params["buckets"],
                                               strict=True))}


def _covers(params: Mapping[str, Any], keys: list[tuple[int, int]], first: list[int],
            last: list[int]) -> bool:
    """Whether the values asked with `params` include each key's offsets first..last."""
    where = _parts(params)
    for key, low, high in zip(keys, first, last, strict=True):
        i = where.get(key)
        if i is None or not (params["offsets"][i] <= low
                             and high < params["offsets"][i] + params["limits"][i]):
            return False
    return True


def values_guess(engine: sa.Engine, workspace_id: str, measures: Iterable[int],
                 start: datetime, end: datetime, *, user: str | None, tenths: Iterable[int]
                 ) -> tuple[Prepared, dict[str, Any]] | None:
    """PostgreSQL: the statement and parameters of the values at the ranks that `summaries`
    with these arguments last read in this process, or None: a guess for
    `storage.pg_batch.read_ahead`, whose rows serve only a read that asks for the very same
    statement and values, in the same transaction (never an answer by themselves): the next
    `summaries` asks for them again while they cover the offsets it wants
    (`_bucket_values_of_arrays`)."""
    return last_values(engine).get((workspace_id, tuple(measures), start, end, user,
                                    tuple(tenths)))


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
_BUILDERS = {"counts": _counts_statement, "values": _values_statement}


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


_LAST_VALUES: weakref.WeakKeyDictionary[sa.Engine, _Remembered] = weakref.WeakKeyDictionary()


def last_values(engine: sa.Engine) -> _Remembered:
    """PostgreSQL: the statement and parameters of the values at the ranks this process last
    read per (workspace, measures, start, end, user, tenths): what `values_guess` guesses the
    next read of them asks for (a guess only: never an answer)."""
    with _PAST_MEDIANS_LOCK:
        remembered = _LAST_VALUES.get(engine)
        if remembered is None:
            remembered = _LAST_VALUES[engine] = _Remembered(64)
        return remembered


def past_medians(engine: sa.Engine) -> _Remembered:
    """The medians of windows that ended before the history settled (storage/facts.py), per
    (workspace, history_version, start, end, user), for the sessions of this process."""
    with _PAST_MEDIANS_LOCK:
        remembered = _PAST_MEDIANS.get(engine)
        if remembered is None:
            remembered = _PAST_MEDIANS[engine] = _Remembered(256)
        return remembered
