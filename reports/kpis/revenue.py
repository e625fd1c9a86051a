"""Revenue and deal KPIs: win and close rates, revenue, deals won, average deal size, sales
cycle and velocity, lead value, and why deals were lost."""

from __future__ import annotations

from typing import Any

from reports.events import Stage
from reports.kpis.context import Ctx, kpi_result
from reports.kpis.figures import (
    closed,
    days,
    distribution_details,
    reached,
    unpriced,
    won_lost_amount,
)
from reports.kpis.ratios import div, ratio
from reports.kpis.result import KpiResult, KpiRow


def win_rate(ctx: Ctx) -> KpiResult:
    won, lost, _amount = won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        for rep, (w, lo, _a) in sorted(closed(ctx, by="user").items()):
            rows.append(KpiRow(rep, ratio(w, w + lo)[0], w, w + lo, extra={"won": w, "lost": lo}))
    value, _ = ratio(won, won + lost)
    return kpi_result(ctx, "win-rate", value, "ratio", numerator=won, denominator=won + lost,
                      rows=rows, details={"won": won, "lost": lost})


def close_rate(ctx: Ctx) -> KpiResult:
    won = won_lost_amount(ctx)[0]
    opportunities = reached(ctx, Stage.OPPORTUNITY)
    value = div(won, opportunities)  # not capped: wins of earlier opportunities count
    details: dict[str, Any] = {"won": won, "opportunities": opportunities}
    if value is not None and value > 1:
        details["note"] = ("above 100%: deals won in the period include opportunities "
                           "created before it")
    return kpi_result(ctx, "close-rate", value, "ratio", numerator=won,
                      denominator=opportunities, details=details)


def revenue(ctx: Ctx) -> KpiResult:
    won, _lost, amount = won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(a), extra={"deals_won": w})
                for rep, (w, _l, a) in sorted(closed(ctx, by="user").items(),
                                              key=lambda kv: (-kv[1][2], kv[0]))]
    missing, warnings = unpriced(ctx)
    return kpi_result(ctx, "revenue", float(amount), "money", numerator=amount, rows=rows,
                      warnings=warnings, details={
                          "deals_won": won, "wins_without_amount": missing,
                          "currency": ctx.facts.currency})


def deals_won(ctx: Ctx) -> KpiResult:
    won = won_lost_amount(ctx)[0]
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(w)) for rep, (w, _l, _a) in
                sorted(closed(ctx, by="user").items(), key=lambda kv: (-kv[1][0], kv[0]))
                if w]
    return kpi_result(ctx, "deals-won", float(won), "count", numerator=won, rows=rows)


def avg_deal_size(ctx: Ctx) -> KpiResult:
    won, _lost, amount = won_lost_amount(ctx)
    missing, warnings = unpriced(ctx)
    priced = won - missing  # the average of the known amounts
    return kpi_result(ctx, "avg-deal-size", div(amount, priced), "money", numerator=amount,
                      denominator=priced, warnings=warnings,
                      details={"wins_without_amount": missing, "currency": ctx.facts.currency})


def sales_cycle(ctx: Ctx) -> KpiResult:
    dist = ctx.facts.sales_cycle(ctx.start, ctx.end, user=ctx.user)
    details = distribution_details(dist)
    return kpi_result(ctx, "sales-cycle", details["median"], "days", denominator=dist.n,
                      details=details)


def velocity(ctx: Ctx) -> KpiResult:
    window = ctx.trailing()
    open_opps = ctx.facts.count_open_deals(user=ctx.user,
                                           stages=(Stage.OPPORTUNITY, Stage.DEMO))
    won, lost, amount = won_lost_amount(ctx, window)
    rate = ratio(won, won + lost)[0]
    avg = div(amount, won)
    cycle_days = days(ctx.facts.sales_cycle(*window, user=ctx.user).median)
    value = None
    if rate is not None and avg is not None and cycle_days:
        value = open_opps * rate * avg / cycle_days
    return kpi_result(ctx, "sales-velocity", value, "money_per_day", details={
        "open_opportunities": open_opps, "win_rate_90d": rate, "avg_deal_size_90d": avg,
        "median_cycle_days_90d": cycle_days, "won_90d": won, "lost_90d": lost,
        "currency": ctx.facts.currency})


def lead_value(ctx: Ctx) -> KpiResult:
    amount, leads = won_lost_amount(ctx)[2], reached(ctx, Stage.LEAD)
    return kpi_result(ctx, "lead-value", div(amount, leads), "money", numerator=amount,
                      denominator=leads, warnings=unpriced(ctx)[1],
                      details={"currency": ctx.facts.currency})


def _loss_row(kind: str, subject: str, lost_to_it: int, lost: int) -> KpiRow:
    """A loss-reasons row: keyed `reason: price` (`competitor: northwind`) in JSON."""
    return KpiRow(f"{kind}: {subject}", float(lost_to_it), lost_to_it, lost,
                  extra={"share": ratio(lost_to_it, lost)[0]}, kind=kind, subject=subject)


def loss_reasons(ctx: Ctx) -> KpiResult:
    reasons, competitors = ctx.facts.loss_breakdown(ctx.start, ctx.end, user=ctx.user)
    lost = sum(reasons.values())
    rows = [_loss_row("reason", k, v, lost)
            for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    rows += [_loss_row("competitor", k, v, lost)
             for k, v in sorted(competitors.items(), key=lambda kv: (-kv[1], kv[0]))
             if k != "(none)"]
    price = sum(v for k, v in reasons.items() if "price" in k.lower())
    to_competitor = sum(v for k, v in competitors.items() if k != "(none)")
    return kpi_result(ctx, "loss-reasons", float(lost), "count", numerator=lost, rows=rows,
                      details={"lost": lost, "price_share": ratio(price, lost)[0],
                               "competitor_share": ratio(to_competitor, lost)[0]})
