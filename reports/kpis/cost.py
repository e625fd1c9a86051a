"""Cost KPIs: spend per new customer (cac), per lead (cpl), per MQL, SQL or opportunity, and
the return on spend (roi). Workspace-wide: spend is not credited to reps, so `user` is ignored.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.kpis.context import Ctx, kpi_result
from reports.kpis.figures import spend, unpriced, won_lost_amount
from reports.kpis.ratios import div
from reports.kpis.result import KpiResult


def cost_per(name: str, counter: Callable[[Ctx], int], what: str) -> Callable[[Ctx], KpiResult]:
    """The KPI `name`: the team's spend in P / `counter` (in details[`what`])."""
    def compute(ctx: Ctx) -> KpiResult:
        team = ctx.team()
        spent, n = spend(team), counter(team)
        return kpi_result(ctx, name, div(spent, n), "money", numerator=spent, denominator=n,
                          details={"spend": spent, what: n, "currency": ctx.facts.currency})
    return compute


def new_customers(ctx: Ctx) -> int:
    """Customers whose first win fell in P (what cac divides by)."""
    return ctx.facts.new_customers(ctx.start, ctx.end)


cac = cost_per("cac", new_customers, "new_customers")


def roi(ctx: Ctx) -> KpiResult:
    team = ctx.team()
    revenue, spent = won_lost_amount(team)[2], spend(team)
    return kpi_result(ctx, "roi", div(revenue - spent, spent), "multiple",
                      numerator=revenue - spent, denominator=spent,
                      warnings=unpriced(team)[1],
                      details={"revenue": revenue, "spend": spent,
                               "currency": ctx.facts.currency})
