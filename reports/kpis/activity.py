"""KPIs counted from logged events: an event over another as a rate (email, social, web),
event counts, meetings, each rep's activities and the inbound response time."""

from __future__ import annotations

from collections.abc import Callable

from reports.kpis.context import Ctx, kpi_result
from reports.kpis.figures import count, counts, per_rep_counts
from reports.kpis.ratios import ratio
from reports.kpis.result import KpiResult, KpiRow

DEFAULT_RESPONSE_TARGET_SECONDS = 180.0
ACTIVITY_KINDS = {"calls": ("call",), "emails": ("email-sent",),
                  "meetings": ("meeting-held",), "demos": ("demo-held",)}


def event_rate(name: str, top: str, bottom: str) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: events `top` / events `bottom` in P (capped, see `ratio`), per rep."""
    def compute(ctx: Ctx) -> KpiResult:
        num, den = count(ctx, top), count(ctx, bottom)
        value, warnings = ratio(num, den, what=(top, bottom))
        rows = []
        if ctx.user is None:
            tops, bottoms = per_rep_counts(ctx, (top,)), per_rep_counts(ctx, (bottom,))
            for rep in sorted(set(tops) | set(bottoms)):
                tc, bc = tops.get(rep, 0), bottoms.get(rep, 0)
                rows.append(KpiRow(rep, ratio(tc, bc)[0], tc, bc))
        return kpi_result(ctx, name, value, "ratio", numerator=num, denominator=den, rows=rows,
                          warnings=warnings)
    return compute


def event_count(name: str, kinds: tuple[str, ...]) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: events of `kinds` in P (sum of counts), per rep, most first."""
    def compute(ctx: Ctx) -> KpiResult:
        total = sum(counts(ctx, kinds).values())
        rows = []
        if ctx.user is None:
            per_rep = per_rep_counts(ctx, kinds)
            rows = [KpiRow(rep, float(n)) for rep, n in
                    sorted(per_rep.items(), key=lambda kv: (-kv[1], kv[0]))]
        return kpi_result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def meetings(ctx: Ctx) -> KpiResult:
    booked, held = count(ctx, "meeting-booked"), count(ctx, "meeting-held")
    rows = []
    if ctx.user is None:
        b, h = per_rep_counts(ctx, ("meeting-booked",)), per_rep_counts(ctx, ("meeting-held",))
        rows = [KpiRow(rep, float(b.get(rep, 0)), extra={"booked": b.get(rep, 0),
                                                         "held": h.get(rep, 0)})
                for rep in sorted(set(b) | set(h), key=lambda r: (-b.get(r, 0), r))]
    return kpi_result(ctx, "meetings", float(booked), "count", numerator=booked, rows=rows,
                      details={"booked": booked, "held": held,
                               "show_rate": ratio(held, booked)[0]})


def activities(ctx: Ctx) -> KpiResult:
    per_rep: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for label, kinds in ACTIVITY_KINDS.items():
        for rep, n in per_rep_counts(ctx, kinds).items():
            per_rep.setdefault(rep, {})[label] = n
        totals[label] = sum(counts(ctx, kinds).values())
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
    requests = count(ctx, "inbound-request")
    responded = count(ctx, "inbound-responded")
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
