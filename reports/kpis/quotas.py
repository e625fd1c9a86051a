"""Effective-dated quotas: which target applies to which days, and a period's target.

A quota change (`Quota`) is in force from its `effective_from` day (local date; None = from the
beginning, for quotas kept from before effective dates) until a later change replaces it. Rules:

- A change made without a date applies from the first day of the month in which it is set
  (`effective_from_for`): the current month takes the new target, every earlier month keeps
  the one in force then (a quarterly quota set in December does not reach back into November).
  `from DATE` gives another first day (never one in the future: the bot refuses those).
- On a day, the target in force is the most recently set change whose effective day is on or
  before that day. So `from 2026-11-01` set on 5 December applies from 1 November onward,
  replacing every older change over those days; earlier days keep theirs.
- A period's target sums its parts: each run of days under one change counts that change's
  target x (calendar months those days span) / (months in its cadence: monthly 1, quarterly 3),
  a partial month by its share of days. A month whose target changed on the 16th of 30 days
  counts 15/30 of the old monthly target plus 15/30 of the new one.
- A rep appears in a period's quota figures for a metric when some change of theirs is in
  force on at least one day of the period; the cadence shown is the one in force last.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from reports.kpis.facts import Quota

CADENCE_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12, "annual": 12}


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@functools.lru_cache(maxsize=4096)
def months_spanned(first: date, end: date) -> float:
    """Calendar months the days [first, end) span: a whole month counts 1, a partial month
    its share of days. Remembered: the reps' quota parts mostly span the same days, and a
    long period walks one month at a time."""
    months = 0.0
    day = first
    while day < end:
        month_start = day.replace(day=1)
        next_month = add_months(month_start, 1)
        stop = min(end, next_month)
        months += (stop - day).days / (next_month - month_start).days
        day = stop
    return months


def effective_from_for(set_on: date) -> date:
    """The first day a quota set (without a date) on the local day `set_on` applies to."""
    return set_on.replace(day=1)


@dataclass(frozen=True)
class QuotaPart:
    """One run of days [first, end) of a period under one quota change."""

    quota: Quota
    first: date
    end: date

    @property
    def target(self) -> float:
        return (self.quota.target * months_spanned(self.first, self.end)
                / CADENCE_MONTHS.get(self.quota.cadence, 1))


@dataclass(frozen=True)
class QuotaTarget:
    """A rep's target for one metric over a period, and the parts it is made of."""

    user_id: str
    metric: str
    cadence: str  # the cadence in force on the last day of the period under a quota
    target: float
    parts: tuple[QuotaPart, ...]


def _start(quota: Quota) -> date:
    return quota.effective_from or date.min


def _newest_first(changes: Sequence[Quota]) -> list[Quota]:
    """Most recently set first; a later place in the list (stored later) breaks ties."""
    order = sorted(enumerate(changes), reverse=True, key=lambda pair: (
        pair[1].set_at.timestamp() if pair[1].set_at is not None else float("-inf"), pair[0]))
    return [quota for _, quota in order]


def in_force(changes: Sequence[Quota], day: date) -> Quota | None:
    """The change of one rep and metric in force on `day` (see the module docstring)."""
    for quota in _newest_first(changes):
        if _start(quota) <= day:
            return quota
    return None


def parts(changes: Sequence[Quota], first: date, end: date) -> list[QuotaPart]:
    """The days [first, end) cut where the change in force (one rep and metric) changes."""
    cuts = sorted({first, *(_start(q) for q in changes if first < _start(q) < end), end})
    out: list[QuotaPart] = []
    for start, stop in zip(cuts, cuts[1:], strict=False):
        quota = in_force(changes, start)
        if quota is None:
            continue
        if out and out[-1].quota is quota and out[-1].end == start:
            out[-1] = QuotaPart(quota, out[-1].first, stop)
        else:
            out.append(QuotaPart(quota, start, stop))
    return out


def _by_rep_metric(changes: Iterable[Quota]) -> dict[tuple[str, str], list[Quota]]:
    groups: dict[tuple[str, str], list[Quota]] = {}
    for quota in changes:
        groups.setdefault((quota.user_id, quota.metric), []).append(quota)
    return groups


def period_targets(changes: Iterable[Quota], first: date, end: date) -> list[QuotaTarget]:
    """Every rep and metric with a quota in force on some day of [first, end), with the
    period's target, by user then metric."""
    targets = []
    for (user_id, metric), group in sorted(_by_rep_metric(changes).items()):
        cut = parts(group, first, end)
        if cut:
            targets.append(QuotaTarget(user_id, metric, cut[-1].quota.cadence,
                                       sum(p.target for p in cut), tuple(cut)))
    return targets


@dataclass(frozen=True)
class QuotaHistoryEntry:
    """One change as `/kpi quota history` lists it."""

    quota: Quota
    replaced: bool  # a later change starts on or before this one's day: never in force now


def history(changes: Iterable[Quota]) -> list[QuotaHistoryEntry]:
    """The changes by user, metric, then effective day and set time (oldest first); each marked
    `replaced` when a change set later starts on or before it (so it applies on no day)."""
    out = []
    for _key, group in sorted(_by_rep_metric(changes).items()):
        order = {id(q): i for i, q in enumerate(_newest_first(group))}
        for quota in sorted(group, key=lambda q: (_start(q), -order[id(q)])):
            replaced = any(order[id(other)] < order[id(quota)] and _start(other) <= _start(quota)
                           for other in group)
            out.append(QuotaHistoryEntry(quota, replaced))
    return out
