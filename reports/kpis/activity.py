"""KPIs counted from logged events: an event over another as a rate (email, social, web),
event counts, meetings, each rep's activities and the inbound response time."""

from __future__ import annotations

from collections.abc import Callable

from reports.kpis.context import Ctx, kpi_result
from reports.kpis.figures import kind_counts
from reports.kpis.ratios import ratio
from reports.kpis.result import KpiResult, KpiRow

DEFAULT_RESPONSE_TARGET_SECONDS = 180.0
ACTIVITY_KINDS = {"calls": ("call",), "emails": ("email-sent",),
                  "meetings": ("meeting-held",), "demos": ("demo-held",)}


def event_rate(name: str, top: str, bottom: str) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: events `top` / events `bottom` in P (capped, see `ratio`), per rep."""
    def compute(ctx: Ctx) -> KpiResult:
        totals, reps = kind_counts(ctx, (top, bottom), per_rep=ctx.user is None)
        num, den = totals.get(top, 0), totals.get(bottom, 0)
        value, warnings = ratio(num, den, what=(top, bottom))
        rows = []
        if ctx.user is None:
            tops, bottoms = reps[top], reps[bottom]
            for rep in sorted(set(tops) | set(bottoms)):
                tc, bc = tops.get(rep, 0), bottoms.get(rep, 0)
                rows.append(KpiRow(rep, ratio(tc, bc)[0], tc, bc))
        return kpi_result(ctx, name, value, "ratio", numerator=num, denominator=den, rows=rows,
                          warnings=warnings)
    return compute


def event_count(name: str, kinds: tuple[str, ...]) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: events of `kinds` in P (sum of counts), per rep, most first."""
    def compute(ctx: Ctx) -> KpiResult:
        totals, reps = kind_counts(ctx, kinds, per_rep=ctx.user is None)
        total = sum(totals.values())
        rows = []
        if ctx.user is None:
            per_rep: dict[str, int] = {}
            for kind in kinds:
                for rep, n in reps[kind].items():
                    per_rep[rep] = per_rep.get(rep, 0) + n
            rows = [KpiRow(rep, float(n)) for rep, n in
                    sorted(per_rep.items(), key=lambda kv: (-kv[1], kv[0]))]
        return kpi_result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def meetings(ctx: Ctx) -> KpiResult:
    totals, reps = kind_counts(ctx, ("meeting-booked", "meeting-held"),
                               per_rep=ctx.user is None)
    booked, held = totals.get("meeting-booked", 0), totals.get("meeting-held", 0)
    rows = []
    if ctx.user is None:
        b, h = reps["meeting-booked"], reps["meeting-held"]
        rows = [KpiRow(rep, float(b.get(rep, 0)), extra={"booked": b.get(rep, 0),
                                                         "held": h.get(rep, 0)})
                for rep in sorted(set(b) | set(h), key=lambda r: (-b.get(r, 0), r))]
    return kpi_result(ctx, "meetings", float(booked), "count", numerator=booked, rows=rows,
                      details={"booked": booked, "held": held,
                               "show_rate": ratio(held, booked)[0]})


def activities(ctx: Ctx) -> KpiResult:
    per_rep: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    kinds = tuple(kind for group in ACTIVITY_KINDS.values() for kind in group)
    by_kind, reps = kind_counts(ctx, kinds, per_rep=True)
    for label, group in ACTIVITY_KINDS.items():
        for kind in group:
            for rep, n in reps[kind].items():
                counted = per_rep.setdefault(rep, {})
                counted[label] = counted.get(label, 0) + n
        totals[label] = sum(by_kind.get(kind, 0) for kind in group)
    rows = [KpiRow(rep, float(sum(c.values())), extra={k: c.get(k, 0) for k in ACTIVITY_KINDS})
            for rep, c in sorted(per_rep.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    total = sum(totals.values())
    return kpi_result(ctx, "activities", float(total), "count", numerator=total, rows=rows,
                      details=totals)


def inbound_response_time(ctx: Ctx) -> KpiResult:
    """The median response duration, the share answered within options["target_seconds"]
    (default 3 minutes) and the response rate."""
    target = float(ctx.options.get("target_seconds", DEFAULT_RESPONSE_TARGET_SECONDS))
    dist, within = ctx.facts.event_durations("inbound-responded", ctx.start, ctx.end,
                                             user=ctx.user, within=target)
    totals, _ = kind_counts(ctx, ("inbound-request", "inbound-responded"))
    requests = totals.get("inbound-request", 0)
    responded = totals.get("inbound-responded", 0)
    response_rate, warnings = ratio(responded, requests,
                                    what=("inbound-responded", "inbound-request"))
    return kpi_result(ctx, "inbound-response-time", dist.median, "seconds", denominator=dist.n,
                      warnings=warnings, details={
                          "n": dist.n, "median_seconds": dist.median, "p90_seconds": dist.p90,
                          "mean_seconds": dist.mean, "target_seconds": target,
                          "within_target": within,
                          "share_within_target": ratio(within, dist.n)[0],
                          "response_rate": response_rate, "requests": requests,
                          "responded": responded})
