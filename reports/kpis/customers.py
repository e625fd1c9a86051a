"""Customer KPIs: customer churn, MRR and MRR churn, revenue per customer (arpc) and lifetime
value (clv). Workspace-wide, not credited to reps (arpc and clv ignore `user`).

CLV = monthly ARPC / monthly churn rate, both over one calendar month: the period itself when
it is a month (kind "month"), otherwise the last whole month before `now`.
"""

from __future__ import annotations

from reports.kpis.context import Ctx, kpi_result
from reports.kpis.cost import cac
from reports.kpis.figures import unpriced, won_lost_amount
from reports.kpis.ratios import div, ratio
from reports.kpis.result import KpiResult
from reports.periods import Period, parse_period
from reports.text import Text


def churn_rate(ctx: Ctx) -> KpiResult:
    at_start = ctx.facts.customers_at(ctx.start)
    churned = ctx.facts.churned_customers(ctx.start, ctx.end)
    value, warnings = ratio(churned, at_start, what=(Text("customers churned"), Text("customers")))
    return kpi_result(ctx, "churn-rate", value, "ratio", numerator=churned,
                      denominator=at_start, warnings=warnings, details={
                          "customers_at_start": at_start,
                          "new_customers": ctx.facts.new_customers(ctx.start, ctx.end)})


def mrr(ctx: Ctx) -> KpiResult:
    at_end = ctx.facts.mrr_at(min(ctx.end, ctx.now))
    at_start = ctx.facts.mrr_at(ctx.start)
    return kpi_result(ctx, "mrr", float(at_end), "money", numerator=at_end,
                      details={"mrr_at_start": at_start, "change": at_end - at_start,
                               "currency": ctx.facts.currency})


def mrr_churn(ctx: Ctx) -> KpiResult:
    churned, downgrades = ctx.facts.mrr_lost(ctx.start, ctx.end)
    base = ctx.facts.mrr_at(ctx.start)
    value, warnings = ratio(churned + downgrades, base,
                            what=(Text("MRR lost"), Text("MRR at the start")),
                            fix=Text("check the {field} of the {won} events and the {change} "
                                     "events", field="mrr=", won="deal-won",
                                     change="mrr-change"), currency=ctx.facts.currency)
    return kpi_result(ctx, "mrr-churn", value, "ratio", numerator=churned + downgrades,
                      denominator=base, warnings=warnings,
                      details={"churned_mrr": churned, "downgrades": downgrades,
                               "mrr_at_start": base, "currency": ctx.facts.currency})


def _customers_active(ctx: Ctx) -> int:
    return ctx.facts.customers_at(ctx.start) + ctx.facts.new_customers(ctx.start, ctx.end)


def arpc(ctx: Ctx) -> KpiResult:
    team = ctx.team()
    revenue = won_lost_amount(team)[2]
    customers = _customers_active(team)
    return kpi_result(ctx, "arpc", div(revenue, customers), "money", numerator=revenue,
                      denominator=customers, warnings=unpriced(team)[1],
                      details={"currency": ctx.facts.currency})


def _month_for_clv(ctx: Ctx) -> Period:
    """The month whose ARPC and churn CLV uses: the period itself when it is a month, else the
    last whole month, under its own name ("2026-11", not "last-month")."""
    if ctx.period.kind == "month":
        return ctx.period
    return parse_period("this-month", now=ctx.now, tz=ctx.period.tz,
                        fiscal_year_start=ctx.period.fiscal_year_start).previous()


def clv(ctx: Ctx) -> KpiResult:
    month = _month_for_clv(ctx)
    mctx = ctx.team().over(month)
    monthly_arpc = arpc(mctx).value
    churn = churn_rate(mctx).value
    value = div(monthly_arpc, churn)
    acquisition = cac(ctx).value
    return kpi_result(ctx, "clv", value, "money", numerator=monthly_arpc, denominator=churn,
                      details={"arpc_monthly": monthly_arpc, "monthly_churn_rate": churn,
                               "churn_month": month, "cac": acquisition,
                               "clv_to_cac": div(value, acquisition),
                               "currency": ctx.facts.currency})
