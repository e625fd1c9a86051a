"""Computing catalog KPIs: one KPI over a period for the team or a rep (`compute_kpi`), a
per-rep leaderboard (`leaderboard`) and a rep's own figures (`me_summary`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reports.kpis.context import Ctx
from reports.kpis.facts import Facts
from reports.kpis.registry import CATALOG, LEADERBOARD_KPIS, ME_KPIS, KpiSpec
from reports.kpis.result import KpiResult, KpiRow
from reports.periods import Period


def compute_kpi(name: str, *, facts: Facts, period: Period, now: datetime,
                user: str | None = None, options: Mapping[str, Any] | None = None) -> KpiResult:
    """The KPI `name` over `period` at `now`, for the team or for one rep (`user`).

    `options`: "cohort" (funnel: cohort conversion), "target_seconds" (inbound-response-time).
    Raises KeyError for a name not in CATALOG."""
    spec = CATALOG.get(name)
    if spec is None:
        raise KeyError(f"{name!r} is not a KPI in the catalog")
    result = spec.compute(Ctx(facts=facts, period=period, now=now, user=user,
                              options=dict(options or {})))
    return _with_formula(result, spec)


def _with_formula(result: KpiResult, spec: KpiSpec) -> KpiResult:
    """`result` with details["formula"]: the spec's one-line formula, unless it has its own."""
    if "formula" in result.details:
        return result
    return dataclasses.replace(result, details={**result.details, "formula": spec.formula})


def leaderboard(name: str, *, facts: Facts, period: Period, now: datetime,
                team: Iterable[str] = ()) -> KpiResult:
    """The KPI's per-rep rows, best first (highest value; n/a last; ties: larger numerator,
    then rep id). A rep of `team` without a row is listed with zero for a count or an amount
    (quota attainment lists the reps with a quota). Raises ValueError for a KPI not in
    LEADERBOARD_KPIS."""
    if name not in LEADERBOARD_KPIS:
        raise ValueError(f"{name!r} has no per-rep leaderboard; one of: "
                         f"{', '.join(LEADERBOARD_KPIS)}")
    result = compute_kpi(name, facts=facts, period=period, now=now)
    rows = list(result.rows)
    if result.unit in ("count", "money"):
        listed = {str(row.key) for row in rows}
        rows += [KpiRow(key=rep, value=0.0, numerator=0.0) for rep in team if rep not in listed]
    rows = sorted(rows, key=lambda r: (r.value is None, -(r.value or 0),
                                       -(r.numerator or 0), str(r.key)))
    return dataclasses.replace(result, rows=tuple(rows))


def me_summary(user: str, *, facts: Facts, period: Period, now: datetime) -> list[KpiResult]:
    """The rep's own figures: activities, revenue, deals won, win rate and quota attainment
    (the pace is in the quota result's details["pace"], per quota in its rows)."""
    return [compute_kpi(name, facts=facts, period=period, now=now, user=user)
            for name in ME_KPIS]
