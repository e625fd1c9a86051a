"""Pipeline KPIs: deals reaching a stage, cohort conversions (of the deals that reached a
stage in P, how many have reached another by now), lead sources and the period conversion."""

from __future__ import annotations

from collections.abc import Callable

from reports.events import Stage
from reports.kpis.context import Ctx, kpi_result
from reports.kpis.figures import reached, reaching
from reports.kpis.ratios import div, ratio
from reports.kpis.result import KpiResult, KpiRow
from reports.text import Text

_TIMING_NOTE = ("above 100%: deals won in the period include leads created before it "
                "(see the cohort variant)")


def deal_count(name: str, stage: Stage) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: distinct deals reaching `stage` in P, per rep, most first."""
    def compute(ctx: Ctx) -> KpiResult:
        total = reached(ctx, stage)
        rows = []
        if ctx.user is None:
            per_rep = reaching(ctx, stage, by="user")
            rows = [KpiRow(k, float(v))
                    for k, v in sorted(per_rep.items(), key=lambda kv: (-kv[1], kv[0]))]
        return kpi_result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def _converted(target: str) -> Text:
    """How the cohort's converted part reads: won or lost by now, or reached a stage."""
    if target == "won":
        return Text("of them, won by now")
    if target == "lost":
        return Text("of them, lost by now")
    return Text("of them, {stage} by now", stage=target)


def cohort(name: str, start_stage: Stage, to: Stage | str) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: of the deals reaching `start_stage` in P, the share that reached `to`
    (a stage, or "lost") by now."""
    def compute(ctx: Ctx) -> KpiResult:
        n, converted = ctx.facts.cohort_conversion(start_stage, to, ctx.start, ctx.end,
                                                   user=ctx.user).get("all", (0, 0))
        value, warnings = ratio(converted, n)
        target = to.value if isinstance(to, Stage) else to
        return kpi_result(ctx, name, value, "ratio", numerator=converted, denominator=n,
                          warnings=warnings, details={
                              "cohort": Text("deals reaching {stage} in {period}",
                                             stage=start_stage.value, period=ctx.period.label),
                              "converted": _converted(target)})
    return compute


def demo_outcome(name: str, outcome: str) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: deals whose demo fell in P that were won (or lost) by now."""
    return cohort(name, Stage.DEMO, Stage.WON if outcome == "won" else "lost")


def lead_sources(ctx: Ctx) -> KpiResult:
    conversions = ctx.facts.cohort_conversion(Stage.LEAD, Stage.WON, ctx.start, ctx.end,
                                              user=ctx.user, by="source")
    rows = [KpiRow(source or "other", ratio(won, n)[0], won, n, extra={"leads": n})
            for source, (n, won) in sorted(conversions.items(), key=lambda kv: (-kv[1][0],
                                                                                kv[0]))]
    total = sum(n for n, _ in conversions.values())
    won = sum(w for _, w in conversions.values())
    return kpi_result(ctx, "lead-sources", float(total), "count", numerator=won,
                      denominator=total, rows=rows, details={
                          "leads": total, "won": won, "lead_to_won": ratio(won, total)[0]})


def conversion_period(ctx: Ctx) -> KpiResult:
    won, leads = reached(ctx, Stage.WON), reached(ctx, Stage.LEAD)
    value = div(won, leads)  # not capped: > 100% is timing, not missing events
    details = {"won": won, "leads": leads}
    if value is not None and value > 1:
        details["note"] = _TIMING_NOTE
    return kpi_result(ctx, "conversion-rate-period", value, "ratio", numerator=won,
                      denominator=leads, details=details)
