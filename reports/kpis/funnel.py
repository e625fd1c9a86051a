"""The funnel and the time deals spend in it: days in each stage, stalled deals (idle in their
stage longer than the stage's threshold), and the funnel of stage-to-stage conversions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from reports.events import STAGE_ORDER, Stage
from reports.kpis.context import DAY, Ctx, kpi_result
from reports.kpis.figures import days, distribution_details, won_lost_amount
from reports.kpis.ratios import ratio
from reports.kpis.result import KpiResult, KpiRow
from reports.text import Text

STALLED_MIN_DAYS = 7
STALLED_LISTED = 20
FUNNEL_STALLED_LISTED = 5  # the longest-idle deals the funnel names
FUNNEL_STAGES = tuple(s for s in STAGE_ORDER if s is not Stage.WON)


def stage_time(ctx: Ctx) -> KpiResult:
    rows = []
    medians = []
    for stage in FUNNEL_STAGES:
        dist = ctx.facts.stage_time(stage, ctx.start, ctx.end, user=ctx.user)
        d = distribution_details(dist)
        if d["median"] is not None:
            medians.append(d["median"])
        rows.append(KpiRow(stage.value, d["median"], denominator=dist.n,
                           extra={"median_days": d["median"], "p90_days": d["p90"],
                                  "mean_days": d["mean"], "n": dist.n}))
    total = sum(medians) if medians else None
    return kpi_result(ctx, "stage-time", total, "days", rows=rows, details={
        "value": Text("sum of the stage medians (typical days from lead to won)")})


def stage_thresholds(ctx: Ctx) -> dict[str, float]:
    """Seconds after which an open deal counts as stalled, per stage: max(7 days, 2 x the
    team's median stay in the stage over the 90 whole days before today). Whole days, so the
    thresholds hold still all day and the medians behind them are computed once a day (they
    are remembered until a change to the deals of those days, see storage/facts.py)."""
    return thresholds_of(ctx.facts.median_stage_times(*ctx.trailing_days()))


def thresholds_of(medians: Mapping[Stage, float | None]) -> dict[str, float]:
    """`stage_thresholds` from the team's median stays over the trailing days."""
    thresholds = {}
    for stage in FUNNEL_STAGES:
        median = medians[stage]
        thresholds[stage.value] = max(STALLED_MIN_DAYS * DAY, 2 * (median or 0.0))
    return thresholds


def idle_instants(now: datetime, thresholds: Mapping[str, float]) -> dict[Stage, datetime]:
    """Per stage, the instant before which an open deal's last stage change makes it stalled."""
    return {stage: now - timedelta(seconds=thresholds[stage.value]) for stage in FUNNEL_STAGES}


def stalled(ctx: Ctx, listed: int = STALLED_LISTED) -> KpiResult:
    """Counted per stage in the database; the longest-idle deals listed (at most `listed`:
    the first `listed` of every stalled deal in the order below; each stage's candidates
    are its `listed` longest idle and the deals idle exactly as long as the last of them)."""
    thresholds = stage_thresholds(ctx)
    idle_before = idle_instants(ctx.now, thresholds)
    open_counts = ctx.facts.open_deal_counts(user=ctx.user, idle_before=idle_before)
    total = sum(open_counts.get(stage.value, (0, 0))[1] for stage in FUNNEL_STAGES)
    candidates = ctx.facts.idle_deals(idle_before, user=ctx.user, limit=listed)
    idle = [(ctx.now - deal.stage_changed_at).total_seconds() for deal in candidates]
    # Longest idle first (then by name); a row is made only for the deals listed.
    order = [(-(seconds / DAY or 0), deal.name) for seconds, deal in zip(idle, candidates,
                                                                          strict=True)]
    rows = []
    for i in sorted(range(len(candidates)), key=order.__getitem__)[:listed]:
        deal = candidates[i]
        rows.append(KpiRow(deal.name, idle[i] / DAY, extra={
            "deal": deal.key, "stage": deal.stage, "owner": deal.owner_id,
            "days_in_stage": round(idle[i] / DAY, 1),
            "threshold_days": round(thresholds[deal.stage] / DAY, 1)}))
    open_total = sum(n for n, _idle in open_counts.values())
    return kpi_result(ctx, "stalled-deals", float(total), "count", numerator=total,
                      denominator=open_total, rows=rows, details={
                          "open_deals": open_total, "listed": min(len(candidates), listed),
                          "threshold_days": {k: round(v / DAY, 1)
                                             for k, v in thresholds.items()}})


def funnel(ctx: Ctx) -> KpiResult:
    """Deals reaching each stage in P; the conversion into a stage is the cohort of deals that
    reached the previous stage in P and how many of them have reached this one by now (a
    skipped stage counts as reached, SPEC 5), so it never passes 100%; median days in the
    stage (stage-time); stalled deals now. The headline is the same rule from lead to won.
    With options["cohort"] the deal counts follow the leads created in P instead: how many of
    them reached each stage by now."""
    cohort = bool(ctx.options.get("cohort"))
    counts = _cohort_counts(ctx) if cohort else ctx.facts.funnel_counts(
        ctx.start, ctx.end, user=ctx.user)
    medians = ctx.facts.median_stage_times(ctx.start, ctx.end, user=ctx.user)
    rows = []
    previous: Stage | None = None
    for stage in STAGE_ORDER:
        count = counts[stage][0]
        extra: dict[str, Any] = {"deals": count}
        numerator = denominator = conversion = None
        if previous is not None:
            denominator, numerator = counts[previous]  # the deals reaching `previous` in P
            conversion = ratio(numerator, denominator)[0]
        extra["conversion"] = conversion
        extra["median_days"] = None if stage is Stage.WON else days(medians[stage])
        rows.append(KpiRow(stage.value, float(count), numerator, denominator, extra=extra))
        previous = stage
    leads, wins = ctx.facts.cohort_conversion(Stage.LEAD, Stage.WON, ctx.start, ctx.end,
                                              user=ctx.user).get("all", (0, 0))
    won, lost, amount = won_lost_amount(ctx)
    idle = stalled(ctx, listed=FUNNEL_STALLED_LISTED)
    return kpi_result(ctx, "funnel", ratio(wins, leads)[0], "ratio", numerator=wins,
                      denominator=leads, rows=rows, details={
                          "won": won, "lost": lost, "revenue": amount,
                          "stalled": int(idle.value or 0), "cohort": cohort,
                          "conversion": Text("of the deals that reached the previous stage in "
                                             "{period}, how many have reached this one",
                                             period=ctx.period.label),
                          "stalled_deals": [r.to_json() for r in idle.rows]})


def _cohort_counts(ctx: Ctx) -> dict[Stage, tuple[int, int]]:
    """The leads created in P: per stage, (how many of them reached it by now, how many of
    those reached the next stage) — funnel_counts' shape for the cohort view."""
    reached = [ctx.facts.cohort_conversion(Stage.LEAD, stage, ctx.start, ctx.end,
                                           user=ctx.user).get("all", (0, 0))[1 if i else 0]
               for i, stage in enumerate(STAGE_ORDER)]
    following = reached[1:] + [0]
    return {stage: (n, after) for stage, n, after in zip(STAGE_ORDER, reached, following,
                                                         strict=True)}
