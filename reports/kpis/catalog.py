"""The KPI catalog of SPEC section 6: every KPI's name, formula, unit and computation.

Formulas read data only through the `Facts` Protocol (reports/kpis/facts.py). Rules for all:
- a zero denominator gives value None ("n/a"), never 0% or infinity;
- a ratio above 100% caused by missing events is capped at 100% with a data warning;
- every rate carries its numerator and denominator;
- cohort and period variants have different names (`conversion-rate` vs
  `conversion-rate-period`).

Quota targets over a period: a monthly quota counts once per calendar month the period spans,
a quarterly quota a third per month; partial months count by their share of days.
CLV uses the churn rate of the period when it is a month, else the last whole month before now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from reports.events import STAGE_ORDER, Stage
from reports.kpis.facts import Distribution, Facts
from reports.kpis.result import KpiResult, KpiRow
from reports.periods import Period, parse_period

DAY = 86_400.0
STALLED_MIN_DAYS = 7
TRAILING_DAYS = 90


@dataclass(frozen=True)
class Ctx:
    facts: Facts
    period: Period
    now: datetime
    user: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end

    def trailing(self, days: int = TRAILING_DAYS) -> tuple[datetime, datetime]:
        return self.now - timedelta(days=days), self.now


@dataclass(frozen=True)
class KpiSpec:
    name: str
    title: str
    formula: str
    unit: str
    group: str
    needs: tuple[str, ...]
    compute: Callable[[Ctx], KpiResult]
    per_rep: bool = False  # has a meaningful per-rep breakdown (leaderboards)


@dataclass(frozen=True)
class Change:
    delta: float | None  # value − previous value (ratio points for rates)
    relative: float | None  # delta / previous value
    new: bool = False  # previous was zero or n/a and now there is a value


# ----------------------------------------------------------------------------- helpers

def _result(ctx: Ctx, name: str, value: float | None, unit: str, *, numerator=None,
            denominator=None, rows=(), details=None, warnings=()) -> KpiResult:
    details = dict(details or {})
    spec = CATALOG.get(name)
    if spec is not None:
        details.setdefault("formula", spec.formula)
    return KpiResult(kpi=name, workspace=ctx.facts.workspace_id, period_label=ctx.period.label,
                     start=ctx.start, end=ctx.end, value=value, unit=unit, numerator=numerator,
                     denominator=denominator, rows=tuple(rows), details=details,
                     warnings=tuple(warnings))


def ratio(numerator: float, denominator: float, *, what: tuple[str, str] | None = None,
          cap: bool = True) -> tuple[float | None, list[str]]:
    """numerator/denominator; None for a zero denominator; capped at 1 with a warning."""
    if not denominator:
        return None, []
    value = numerator / denominator
    if cap and value > 1:
        top, bottom = what or ("numerator", "denominator")
        return 1.0, [f"more {top} ({_n(numerator)}) than {bottom} ({_n(denominator)}): "
                     f"some {bottom} events were probably not logged; shown capped at 100%"]
    return value, []


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return a / b


def _counts(ctx: Ctx, kinds: tuple[str, ...], *, by: str | None = None,
            window: tuple[datetime, datetime] | None = None) -> dict[str, int]:
    start, end = window or (ctx.start, ctx.end)
    sums = ctx.facts.event_sums(kinds, start, end, user=ctx.user, by=by)
    return {key: s.count for key, s in sums.items()}


def _count(ctx: Ctx, kind: str, window=None) -> int:
    return _counts(ctx, (kind,), window=window).get(kind, 0)


def _event_rate(name: str, top: str, bottom: str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        num, den = _count(ctx, top), _count(ctx, bottom)
        value, warnings = ratio(num, den, what=(top, bottom))
        rows = []
        if ctx.user is None:
            tops = ctx.facts.event_sums((top,), ctx.start, ctx.end, by="user")
            bottoms = ctx.facts.event_sums((bottom,), ctx.start, ctx.end, by="user")
            for rep in sorted(set(tops) | set(bottoms)):
                t, b = tops.get(rep), bottoms.get(rep)
                tc, bc = (t.count if t else 0), (b.count if b else 0)
                rows.append(KpiRow(rep, ratio(tc, bc)[0], tc, bc))
        return _result(ctx, name, value, "ratio", numerator=num, denominator=den, rows=rows,
                       warnings=warnings)
    return compute


def _event_count(name: str, kinds: tuple[str, ...]) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        total = sum(_counts(ctx, kinds).values())
        rows = []
        if ctx.user is None:
            per_rep = ctx.facts.event_sums(kinds, ctx.start, ctx.end, by="user")
            rows = [KpiRow(rep, float(s.count)) for rep, s in
                    sorted(per_rep.items(), key=lambda kv: -kv[1].count)]
        return _result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def _reaching(ctx: Ctx, stage: Stage, window=None, by: str | None = None) -> dict[str, int]:
    start, end = window or (ctx.start, ctx.end)
    return ctx.facts.deals_reaching(stage, start, end, user=ctx.user, by=by)


def _reached(ctx: Ctx, stage: Stage, window=None) -> int:
    return _reaching(ctx, stage, window).get("all", 0)


def _deal_count(name: str, stage: Stage) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        total = _reached(ctx, stage)
        rows = []
        if ctx.user is None:
            per_rep = _reaching(ctx, stage, by="user")
            rows = [KpiRow(k, float(v)) for k, v in sorted(per_rep.items(), key=lambda kv: -kv[1])]
        return _result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def _cohort(name: str, start_stage: Stage, to: Stage | str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        n, converted = ctx.facts.cohort_conversion(start_stage, to, ctx.start, ctx.end,
                                                   user=ctx.user).get("all", (0, 0))
        value, warnings = ratio(converted, n)
        return _result(ctx, name, value, "ratio", numerator=converted, denominator=n,
                       warnings=warnings, details={"cohort": f"deals reaching {start_stage} in "
                                                             f"{ctx.period.label}"})
    return compute


def _closed(ctx: Ctx, window=None, by: str | None = None) -> dict[str, tuple[int, int, int]]:
    start, end = window or (ctx.start, ctx.end)
    return ctx.facts.closed_deals(start, end, user=ctx.user, by=by)


def _won_lost_amount(ctx: Ctx, window=None) -> tuple[int, int, int]:
    return _closed(ctx, window).get("all", (0, 0, 0))


def _spend(ctx: Ctx, window=None) -> int:
    start, end = window or (ctx.start, ctx.end)
    sums = ctx.facts.event_sums(("spend",), start, end)
    return sums.get("spend").amount if "spend" in sums else 0


def _distribution_details(dist: Distribution, scale: float = DAY) -> dict[str, Any]:
    def s(x):
        return None if x is None else x / scale
    return {"n": dist.n, "median": s(dist.median), "mean": s(dist.mean), "p90": s(dist.p90)}


# ----------------------------------------------------------------------------- KPIs

def _demo_outcome(name: str, outcome: str) -> Callable[[Ctx], KpiResult]:
    return _cohort(name, Stage.DEMO, Stage.WON if outcome == "won" else "lost")


def _activities(ctx: Ctx) -> KpiResult:
    kinds = {"calls": ("call",), "emails": ("email-sent",),
             "meetings": ("meeting-held",), "demos": ("demo-held",)}
    all_kinds = tuple(k for group in kinds.values() for k in group)
    per_rep_kind: dict[str, dict[str, int]] = {}
    for label, group in kinds.items():
        sums = ctx.facts.event_sums(group, ctx.start, ctx.end, user=ctx.user, by="user")
        for rep, s in sums.items():
            per_rep_kind.setdefault(rep, {})[label] = s.count
    rows = [KpiRow(rep, float(sum(c.values())), extra={k: c.get(k, 0) for k in kinds})
            for rep, c in sorted(per_rep_kind.items(), key=lambda kv: -sum(kv[1].values()))]
    total = sum(_counts(ctx, all_kinds).values())
    totals = {label: sum(_counts(ctx, group).values()) for label, group in kinds.items()}
    return _result(ctx, "activities", float(total), "count", numerator=total, rows=rows,
                   details=totals)


def _lead_sources(ctx: Ctx) -> KpiResult:
    conversions = ctx.facts.cohort_conversion(Stage.LEAD, Stage.WON, ctx.start, ctx.end,
                                              user=ctx.user, by="source")
    rows = [KpiRow(source or "other", ratio(won, n)[0], won, n, extra={"leads": n})
            for source, (n, won) in sorted(conversions.items(), key=lambda kv: -kv[1][0])]
    total = sum(n for n, _ in conversions.values())
    won = sum(w for _, w in conversions.values())
    return _result(ctx, "lead-sources", float(total), "count", numerator=won, denominator=total,
                   rows=rows, details={"lead_to_won": ratio(won, total)[0]})


def _conversion_period(ctx: Ctx) -> KpiResult:
    won, leads = _reached(ctx, Stage.WON), _reached(ctx, Stage.LEAD)
    value, warnings = ratio(won, leads, what=("deals won", "leads"))
    return _result(ctx, "conversion-rate-period", value, "ratio", numerator=won,
                   denominator=leads, warnings=warnings)


def _win_rate(ctx: Ctx) -> KpiResult:
    won, lost, _amount = _won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        for rep, (w, lo, _a) in sorted(_closed(ctx, by="user").items()):
            rows.append(KpiRow(rep, ratio(w, w + lo)[0], w, w + lo))
    value, _ = ratio(won, won + lost)
    return _result(ctx, "win-rate", value, "ratio", numerator=won, denominator=won + lost,
                   rows=rows, details={"won": won, "lost": lost})


def _close_rate(ctx: Ctx) -> KpiResult:
    won = _won_lost_amount(ctx)[0]
    opportunities = _reached(ctx, Stage.OPPORTUNITY)
    value, warnings = ratio(won, opportunities, what=("deals won", "opportunities created"))
    return _result(ctx, "close-rate", value, "ratio", numerator=won, denominator=opportunities,
                   warnings=warnings)


def _revenue(ctx: Ctx) -> KpiResult:
    won, _lost, amount = _won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(a), extra={"deals_won": w})
                for rep, (w, _l, a) in sorted(_closed(ctx, by="user").items(),
                                              key=lambda kv: -kv[1][2])]
    return _result(ctx, "revenue", float(amount), "money", numerator=amount, rows=rows,
                   details={"deals_won": won, "currency": ctx.facts.currency})


def _deals_won(ctx: Ctx) -> KpiResult:
    won = _won_lost_amount(ctx)[0]
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(w)) for rep, (w, _l, _a) in
                sorted(_closed(ctx, by="user").items(), key=lambda kv: -kv[1][0])]
    return _result(ctx, "deals-won", float(won), "count", numerator=won, rows=rows)


def _avg_deal_size(ctx: Ctx) -> KpiResult:
    won, _lost, amount = _won_lost_amount(ctx)
    return _result(ctx, "avg-deal-size", _div(amount, won), "money", numerator=amount,
                   denominator=won, details={"currency": ctx.facts.currency})


def _sales_cycle(ctx: Ctx) -> KpiResult:
    dist = ctx.facts.sales_cycle(ctx.start, ctx.end, user=ctx.user)
    details = _distribution_details(dist)
    return _result(ctx, "sales-cycle", details["median"], "days", denominator=dist.n,
                   details=details)


FUNNEL_STAGES = tuple(s for s in STAGE_ORDER if s is not Stage.WON)


def _stage_time(ctx: Ctx) -> KpiResult:
    rows = []
    for stage in FUNNEL_STAGES:
        dist = ctx.facts.stage_time(stage, ctx.start, ctx.end, user=ctx.user)
        d = _distribution_details(dist)
        rows.append(KpiRow(stage.value, d["median"], denominator=dist.n,
                           extra={"median_days": d["median"], "p90_days": d["p90"], "n": dist.n}))
    return _result(ctx, "stage-time", None, "days", rows=rows)


def stage_thresholds(ctx: Ctx) -> dict[str, float]:
    """Seconds after which an open deal counts as stalled, per stage."""
    start, end = ctx.trailing()
    thresholds = {}
    for stage in FUNNEL_STAGES:
        median = ctx.facts.stage_time(stage, start, end).median
        thresholds[stage.value] = max(STALLED_MIN_DAYS * DAY, 2 * (median or 0.0))
    return thresholds


STALLED_LISTED = 20


def _stalled(ctx: Ctx) -> KpiResult:
    thresholds = stage_thresholds(ctx)
    total = 0
    candidates = []
    for stage in FUNNEL_STAGES:
        idle_before = ctx.now - timedelta(seconds=thresholds[stage.value])
        total += ctx.facts.count_open_deals(user=ctx.user, stages=(stage,),
                                            idle_before=idle_before)
        candidates += ctx.facts.open_deals(user=ctx.user, stages=(stage,),
                                           idle_before=idle_before, limit=STALLED_LISTED)
    rows = []
    for deal in candidates:
        idle = (ctx.now - deal.stage_changed_at).total_seconds()
        rows.append(KpiRow(deal.name, idle / DAY, extra={
            "deal": deal.key, "stage": deal.stage, "owner": deal.owner_id,
            "days_in_stage": round(idle / DAY, 1),
            "threshold_days": round(thresholds[deal.stage] / DAY, 1)}))
    rows.sort(key=lambda r: -(r.value or 0))
    open_total = ctx.facts.count_open_deals(user=ctx.user)
    return _result(ctx, "stalled-deals", float(total), "count", numerator=total,
                   denominator=open_total, rows=rows[:STALLED_LISTED],
                   details={"threshold_days": {k: round(v / DAY, 1)
                                               for k, v in thresholds.items()},
                            "listed": min(len(rows), STALLED_LISTED)})


def _velocity(ctx: Ctx) -> KpiResult:
    window = ctx.trailing()
    open_opps = ctx.facts.count_open_deals(user=ctx.user,
                                           stages=(Stage.OPPORTUNITY, Stage.DEMO))
    won, lost, amount = _won_lost_amount(ctx, window)
    win_rate = ratio(won, won + lost)[0]
    avg = _div(amount, won)
    cycle = ctx.facts.sales_cycle(*window, user=ctx.user).median
    cycle_days = cycle / DAY if cycle else None
    value = None
    if win_rate is not None and avg is not None and cycle_days:
        value = open_opps * win_rate * avg / cycle_days
    return _result(ctx, "sales-velocity", value, "money_per_day", details={
        "open_opportunities": open_opps, "win_rate_90d": win_rate, "avg_deal_size_90d": avg,
        "median_cycle_days_90d": cycle_days})


def quota_months(period: Period) -> float:
    """How many calendar months the period spans (partial months by share of days)."""
    months = 0.0
    day = period.first_day
    end = period.end_day
    while day < end:
        month_start = day.replace(day=1)
        next_month = date(month_start.year + month_start.month // 12,
                          month_start.month % 12 + 1, 1)
        stop = min(end, next_month)
        months += (stop - day).days / (next_month - month_start).days
        day = stop
    return months


def _quota_rows(ctx: Ctx) -> tuple[list[KpiRow], float, float]:
    months = quota_months(ctx.period)
    rows = []
    total_done = total_target = 0.0
    revenue_by_rep = {rep: a for rep, (_w, _l, a) in
                      ctx.facts.closed_deals(ctx.start, ctx.end, by="user").items()}
    for quota in ctx.facts.quotas():
        if ctx.user and quota.user_id != ctx.user:
            continue
        target = quota.target * months / (3 if quota.cadence == "quarterly" else 1)
        if quota.metric == "revenue":
            done = float(revenue_by_rep.get(quota.user_id, 0))
        else:
            sums = ctx.facts.event_sums((quota.metric,), ctx.start, ctx.end, user=quota.user_id)
            done = float(sums[quota.metric].count) if quota.metric in sums else 0.0
        attainment = _div(done, target)
        pace = _div(attainment, ctx.period.elapsed_fraction(ctx.now)) if attainment is not None \
            else None
        rows.append(KpiRow(quota.user_id, attainment, done, target,
                           extra={"metric": quota.metric, "pace": pace}))
        if quota.metric == "revenue":
            total_done += done
            total_target += target
    rows.sort(key=lambda r: -(r.value or 0))
    return rows, total_done, total_target


def _quota_attainment(ctx: Ctx) -> KpiResult:
    rows, done, target = _quota_rows(ctx)
    value = _div(done, target)
    elapsed = ctx.period.elapsed_fraction(ctx.now)
    with_quota = [r for r in rows if r.denominator]
    at_quota = [r for r in with_quota if (r.value or 0) >= 1]
    share = ratio(len(at_quota), len(with_quota))[0]
    warnings = []
    if share is not None and share < 0.6:
        warnings.append(f"only {len(at_quota)} of {len(with_quota)} reps are at quota "
                        f"({share:.0%}, under 60%)")
    return _result(ctx, "quota-attainment", value, "ratio", numerator=done, denominator=target,
                   rows=rows, warnings=warnings, details={
                       "pace": _div(value, elapsed) if value is not None else None,
                       "elapsed": elapsed, "reps_at_quota": len(at_quota),
                       "reps_with_quota": len(with_quota), "reps_at_quota_share": share})


def _reps_at_quota(ctx: Ctx) -> KpiResult:
    rows, _done, _target = _quota_rows(ctx)
    with_quota = [r for r in rows if r.denominator]
    at_quota = [r for r in with_quota if (r.value or 0) >= 1]
    value = ratio(len(at_quota), len(with_quota))[0]
    warnings = []
    if value is not None and value < 0.6:
        warnings.append(f"only {len(at_quota)} of {len(with_quota)} reps are at quota "
                        "(under 60%)")
    return _result(ctx, "reps-at-quota", value, "ratio", numerator=len(at_quota),
                   denominator=len(with_quota), rows=rows, warnings=warnings)


def _monthly_progress(ctx: Ctx) -> KpiResult:
    tz, fy = ctx.period.tz, ctx.period.fiscal_year_start
    mtd = parse_period("mtd", now=ctx.now, tz=tz, fiscal_year_start=fy)
    month = parse_period("this-month", now=ctx.now, tz=tz, fiscal_year_start=fy)
    previous = mtd.previous()
    this_ctx = Ctx(ctx.facts, month, ctx.now, ctx.user)
    rows, _done, target = _quota_rows(this_ctx)
    done = _won_lost_amount(Ctx(ctx.facts, mtd, ctx.now, ctx.user))[2]
    before = _won_lost_amount(Ctx(ctx.facts, previous, ctx.now, ctx.user))[2]
    value = _div(done, target)
    return KpiResult(
        kpi="monthly-progress", workspace=ctx.facts.workspace_id, period_label="mtd",
        start=mtd.start, end=mtd.end, value=value, unit="ratio", numerator=done,
        denominator=target or None, rows=tuple(rows),
        details={"revenue_mtd": done, "same_day_last_month": before,
                 "vs_last_month": _div(done - before, before) if before else None,
                 "new_vs_last_month": before == 0 and done > 0,
                 "formula": CATALOG["monthly-progress"].formula})


def _churn_rate(ctx: Ctx) -> KpiResult:
    at_start = ctx.facts.customers_at(ctx.start)
    churned = ctx.facts.churned_customers(ctx.start, ctx.end)
    value, warnings = ratio(churned, at_start)
    return _result(ctx, "churn-rate", value, "ratio", numerator=churned, denominator=at_start,
                   warnings=warnings,
                   details={"new_customers": ctx.facts.new_customers(ctx.start, ctx.end)})


def _mrr(ctx: Ctx) -> KpiResult:
    at_end = ctx.facts.mrr_at(min(ctx.end, ctx.now))
    at_start = ctx.facts.mrr_at(ctx.start)
    return _result(ctx, "mrr", float(at_end), "money", numerator=at_end,
                   details={"mrr_at_start": at_start, "currency": ctx.facts.currency})


def _mrr_churn(ctx: Ctx) -> KpiResult:
    churned, downgrades = ctx.facts.mrr_lost(ctx.start, ctx.end)
    base = ctx.facts.mrr_at(ctx.start)
    value, warnings = ratio(churned + downgrades, base, what=("MRR lost", "MRR at start"))
    return _result(ctx, "mrr-churn", value, "ratio", numerator=churned + downgrades,
                   denominator=base, warnings=warnings,
                   details={"churned_mrr": churned, "downgrades": downgrades})


def _cost_per(name: str, counter: Callable[[Ctx], int], what: str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        spend, n = _spend(ctx), counter(ctx)
        return _result(ctx, name, _div(spend, n), "money", numerator=spend, denominator=n,
                       details={"spend": spend, what: n, "currency": ctx.facts.currency})
    return compute


def _customers_active(ctx: Ctx) -> int:
    return ctx.facts.customers_at(ctx.start) + ctx.facts.new_customers(ctx.start, ctx.end)


def _arpc(ctx: Ctx) -> KpiResult:
    revenue = _won_lost_amount(ctx)[2]
    customers = _customers_active(ctx)
    return _result(ctx, "arpc", _div(revenue, customers), "money", numerator=revenue,
                   denominator=customers, details={"currency": ctx.facts.currency})


def _month_for_clv(ctx: Ctx) -> Period:
    if ctx.period.kind == "month":
        return ctx.period
    return parse_period("last-month", now=ctx.now, tz=ctx.period.tz,
                        fiscal_year_start=ctx.period.fiscal_year_start)


def _clv(ctx: Ctx) -> KpiResult:
    month = _month_for_clv(ctx)
    mctx = Ctx(ctx.facts, month, ctx.now, ctx.user)
    arpc = _arpc(mctx).value
    churn = _churn_rate(mctx)
    clv = _div(arpc, churn.value) if arpc is not None else None
    cac = _cost_per("cac", lambda c: c.facts.new_customers(c.start, c.end), "new_customers")(ctx)
    return _result(ctx, "clv", clv, "money", numerator=arpc, denominator=churn.value, details={
        "arpc_monthly": arpc, "monthly_churn_rate": churn.value, "churn_month": month.label,
        "cac": cac.value, "clv_to_cac": _div(clv, cac.value)})


def _lead_value(ctx: Ctx) -> KpiResult:
    revenue, leads = _won_lost_amount(ctx)[2], _reached(ctx, Stage.LEAD)
    return _result(ctx, "lead-value", _div(revenue, leads), "money", numerator=revenue,
                   denominator=leads)


def _roi(ctx: Ctx) -> KpiResult:
    revenue, spend = _won_lost_amount(ctx)[2], _spend(ctx)
    value = _div(revenue - spend, spend) if spend else None
    return _result(ctx, "roi", value, "multiple", numerator=revenue - spend, denominator=spend,
                   details={"revenue": revenue, "spend": spend})


def _inbound(ctx: Ctx) -> KpiResult:
    target = float(ctx.options.get("target_seconds", 180))
    dist, within = ctx.facts.event_durations("inbound-responded", ctx.start, ctx.end,
                                             user=ctx.user, within=target)
    requests = _count(ctx, "inbound-request")
    responded = _count(ctx, "inbound-responded")
    response_rate, warnings = ratio(responded, requests,
                                    what=("inbound-responded", "inbound-request"))
    return _result(ctx, "inbound-response-time", dist.median, "seconds", denominator=dist.n,
                   warnings=warnings, details={
                       "n": dist.n, "median_seconds": dist.median, "p90_seconds": dist.p90,
                       "mean_seconds": dist.mean, "target_seconds": target,
                       "within_target": within, "share_within_target": ratio(within, dist.n)[0],
                       "response_rate": response_rate, "requests": requests,
                       "responded": responded})


def _loss_reasons(ctx: Ctx) -> KpiResult:
    reasons, competitors = ctx.facts.loss_breakdown(ctx.start, ctx.end, user=ctx.user)
    lost = sum(reasons.values())
    rows = [KpiRow(f"reason: {k}", float(v), v, lost, extra={"share": ratio(v, lost)[0]})
            for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])]
    rows += [KpiRow(f"competitor: {k}", float(v), v, lost, extra={"share": ratio(v, lost)[0]})
             for k, v in sorted(competitors.items(), key=lambda kv: -kv[1]) if k != "(none)"]
    price = sum(v for k, v in reasons.items() if "price" in k.lower())
    to_competitor = sum(v for k, v in competitors.items() if k != "(none)")
    return _result(ctx, "loss-reasons", float(lost), "count", numerator=lost, rows=rows,
                   details={"lost": lost, "price_share": ratio(price, lost)[0],
                            "competitor_share": ratio(to_competitor, lost)[0]})


def _funnel(ctx: Ctx) -> KpiResult:
    cohort = bool(ctx.options.get("cohort"))
    rows = []
    previous: Stage | None = None
    for stage in STAGE_ORDER:
        count = _reached(ctx, stage)
        conversion = numerator = denominator = None
        if previous is not None:
            if cohort:
                denominator, numerator = ctx.facts.cohort_conversion(
                    previous, stage, ctx.start, ctx.end, user=ctx.user).get("all", (0, 0))
                conversion = ratio(numerator, denominator)[0]
            else:
                numerator, denominator = count, _reached(ctx, previous)
                conversion = ratio(numerator, denominator, cap=False)[0]
        median_days = None
        if stage is not Stage.WON:
            dist = ctx.facts.stage_time(stage, ctx.start, ctx.end, user=ctx.user)
            median_days = None if dist.median is None else dist.median / DAY
        rows.append(KpiRow(stage.value, float(count), numerator, denominator, extra={
            "deals": count, "conversion": conversion, "median_days": median_days}))
        previous = stage
    won, lost, amount = _won_lost_amount(ctx)
    stalled = _stalled(ctx)
    leads, wins = rows[0].value or 0, rows[-1].value or 0
    return _result(ctx, "funnel", ratio(wins, leads, cap=False)[0], "ratio", numerator=wins,
                   denominator=leads, rows=rows, details={
                       "won": won, "lost": lost, "revenue": amount,
                       "stalled": int(stalled.value or 0), "cohort": cohort,
                       "stalled_deals": [r.to_json() for r in stalled.rows[:5]]})


# ----------------------------------------------------------------------------- the catalog

def _spec(name, title, formula, unit, group, needs, compute, per_rep=False) -> KpiSpec:
    return KpiSpec(name, title, formula, unit, group, tuple(needs), compute, per_rep)


_SPECS = [
    _spec("delivery-rate", "Delivery rate", "email-delivered / email-sent", "ratio", "email",
          ["email-delivered", "email-sent"],
          _event_rate("delivery-rate", "email-delivered", "email-sent"), True),
    _spec("open-rate", "Open rate", "email-opened / email-delivered", "ratio", "email",
          ["email-opened", "email-delivered"],
          _event_rate("open-rate", "email-opened", "email-delivered"), True),
    _spec("click-rate", "Click rate", "email-clicked / email-delivered", "ratio", "email",
          ["email-clicked", "email-delivered"],
          _event_rate("click-rate", "email-clicked", "email-delivered"), True),
    _spec("reply-rate", "Reply rate", "email-replied / email-delivered", "ratio", "email",
          ["email-replied", "email-delivered"],
          _event_rate("reply-rate", "email-replied", "email-delivered"), True),
    _spec("spam-rate", "Spam rate", "spam-complaint / email-delivered", "ratio", "email",
          ["spam-complaint", "email-delivered"],
          _event_rate("spam-rate", "spam-complaint", "email-delivered")),
    _spec("bounce-rate", "Bounce rate", "email-bounced / email-sent", "ratio", "email",
          ["email-bounced", "email-sent"],
          _event_rate("bounce-rate", "email-bounced", "email-sent")),
    _spec("reply-to-discovery", "Reply to discovery", "discovery-booked / email-replied",
          "ratio", "email", ["discovery-booked", "email-replied"],
          _event_rate("reply-to-discovery", "discovery-booked", "email-replied"), True),
    _spec("demo-request-response", "Demo request response",
          "demo-request-replied / demo-request", "ratio", "inbound",
          ["demo-request-replied", "demo-request"],
          _event_rate("demo-request-response", "demo-request-replied", "demo-request")),
    _spec("demo-to-won", "Demo to won", "deals with a demo in P that were won / deals with "
          "a demo in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-won"],
          _demo_outcome("demo-to-won", "won")),
    _spec("demo-to-lost", "Demo to lost", "deals with a demo in P that were lost / deals "
          "with a demo in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-lost"],
          _demo_outcome("demo-to-lost", "lost")),
    _spec("connection-acceptance", "Connection acceptance",
          "connection-accepted / connection-sent", "ratio", "social",
          ["connection-accepted", "connection-sent"],
          _event_rate("connection-acceptance", "connection-accepted", "connection-sent"), True),
    _spec("connection-reply", "Connection reply", "connection-replied / connection-accepted",
          "ratio", "social", ["connection-replied", "connection-accepted"],
          _event_rate("connection-reply", "connection-replied", "connection-accepted"), True),
    _spec("website-visits", "Website visits", "website-visit", "count", "web",
          ["website-visit"], _event_count("website-visits", ("website-visit",))),
    _spec("website-bounce-rate", "Website bounce rate", "website-bounce / website-visit",
          "ratio", "web", ["website-bounce", "website-visit"],
          _event_rate("website-bounce-rate", "website-bounce", "website-visit")),
    _spec("ctr", "Click-through rate", "cta-click / website-visit", "ratio", "web",
          ["cta-click", "website-visit"], _event_rate("ctr", "cta-click", "website-visit")),
    _spec("engagement", "Social engagement", "social-engagement", "count", "web",
          ["social-engagement"], _event_count("engagement", ("social-engagement",))),
    _spec("meetings", "Meetings", "meeting-booked and meeting-held counts", "count",
          "activity", ["meeting-booked", "meeting-held"],
          _event_count("meetings", ("meeting-booked",)), True),
    _spec("show-rate", "Show rate", "meeting-held / meeting-booked", "ratio", "activity",
          ["meeting-held", "meeting-booked"],
          _event_rate("show-rate", "meeting-held", "meeting-booked"), True),
    _spec("activities", "Activities", "calls, emails sent, meetings held, demos held per rep",
          "count", "activity", ["call", "email-sent", "meeting-held", "demo-held"],
          _activities, True),
    _spec("leads", "Leads", "distinct leads created in P", "count", "pipeline", ["lead"],
          _deal_count("leads", Stage.LEAD), True),
    _spec("lead-sources", "Lead sources", "leads per source and lead→won conversion",
          "count", "pipeline", ["lead", "deal-won"], _lead_sources),
    _spec("mql", "MQLs", "distinct deals reaching mql in P", "count", "pipeline", ["mql"],
          _deal_count("mql", Stage.MQL), True),
    _spec("sql", "SQLs", "distinct deals reaching sql in P", "count", "pipeline", ["sql"],
          _deal_count("sql", Stage.SQL), True),
    _spec("mql-to-sql", "MQL to SQL", "deals reaching mql in P that reached sql (cohort)",
          "ratio", "pipeline", ["mql", "sql"], _cohort("mql-to-sql", Stage.MQL, Stage.SQL)),
    _spec("conversion-rate", "Lead conversion", "leads created in P that were won (cohort)",
          "ratio", "pipeline", ["lead", "deal-won"],
          _cohort("conversion-rate", Stage.LEAD, Stage.WON)),
    _spec("conversion-rate-period", "Lead conversion (period)", "deals won in P / leads "
          "created in P", "ratio", "pipeline", ["lead", "deal-won"], _conversion_period),
    _spec("win-rate", "Win rate", "won / (won + lost), deals closed in P", "ratio", "revenue",
          ["deal-won", "deal-lost"], _win_rate, True),
    _spec("close-rate", "Close rate", "deals won in P / opportunities created in P", "ratio",
          "revenue", ["deal-won", "opportunity"], _close_rate),
    _spec("revenue", "Revenue", "sum of deal-won amounts in P", "money", "revenue",
          ["deal-won"], _revenue, True),
    _spec("deals-won", "Deals won", "deals won in P", "count", "revenue", ["deal-won"],
          _deals_won, True),
    _spec("avg-deal-size", "Average deal size", "revenue / deals won", "money", "revenue",
          ["deal-won"], _avg_deal_size),
    _spec("sales-cycle", "Sales cycle", "median (and mean) days from first stage event to "
          "won, deals won in P", "days", "revenue", ["deal-won"], _sales_cycle),
    _spec("stage-time", "Time in stage", "per stage: median and p90 days, deals that left "
          "the stage in P", "days", "pipeline", ["lead", "mql", "sql", "opportunity",
                                                 "demo-booked"], _stage_time),
    _spec("stalled-deals", "Stalled deals", "open deals idle longer than max(7 days, 2× the "
          "stage's trailing-90-day median)", "count", "pipeline", ["opportunity"], _stalled),
    _spec("sales-velocity", "Sales velocity", "open opportunities × win rate × avg deal size "
          "/ median cycle days (trailing 90 days)", "money_per_day", "revenue",
          ["opportunity", "deal-won", "deal-lost"], _velocity),
    _spec("quota-attainment", "Quota attainment", "credited won amount (or metric count) / "
          "quota; team = total / total", "ratio", "quota", ["deal-won"], _quota_attainment,
          True),
    _spec("reps-at-quota", "Reps at quota", "reps ≥ 100% / reps with a quota", "ratio",
          "quota", ["deal-won"], _reps_at_quota),
    _spec("monthly-progress", "Monthly progress", "month to date vs quota and vs the same "
          "day of last month", "ratio", "quota", ["deal-won"], _monthly_progress),
    _spec("churn-rate", "Customer churn", "customers churned in P that were customers at "
          "P's start / customers at P's start", "ratio", "customers", ["churned", "deal-won"],
          _churn_rate),
    _spec("mrr", "MRR", "active MRR: won MRR + MRR changes − churned MRR", "money",
          "customers", ["deal-won", "mrr-change", "churned"], _mrr),
    _spec("mrr-churn", "MRR churn", "churned MRR (+ downgrades) / MRR at P's start", "ratio",
          "customers", ["churned", "mrr-change"], _mrr_churn),
    _spec("cac", "Customer acquisition cost", "spend in P / new customers in P", "money",
          "cost", ["spend", "deal-won"],
          _cost_per("cac", lambda c: c.facts.new_customers(c.start, c.end), "new_customers")),
    _spec("cpl", "Cost per lead", "spend in P / leads created in P", "money", "cost",
          ["spend", "lead"], _cost_per("cpl", lambda c: _reached(c, Stage.LEAD), "leads")),
    _spec("cost-per-mql", "Cost per MQL", "spend in P / deals first reaching mql in P",
          "money", "cost", ["spend", "mql"],
          _cost_per("cost-per-mql", lambda c: _reached(c, Stage.MQL), "mqls")),
    _spec("cost-per-sql", "Cost per SQL", "spend in P / deals first reaching sql in P",
          "money", "cost", ["spend", "sql"],
          _cost_per("cost-per-sql", lambda c: _reached(c, Stage.SQL), "sqls")),
    _spec("cost-per-opportunity", "Cost per opportunity", "spend in P / opportunities "
          "created in P", "money", "cost", ["spend", "opportunity"],
          _cost_per("cost-per-opportunity", lambda c: _reached(c, Stage.OPPORTUNITY),
                    "opportunities")),
    _spec("arpc", "Average revenue per customer", "revenue in P / customers active in P",
          "money", "customers", ["deal-won"], _arpc),
    _spec("clv", "Customer lifetime value", "monthly ARPC / monthly churn rate (and clv:cac)",
          "money", "customers", ["deal-won", "churned", "spend"], _clv),
    _spec("lead-value", "Lead value", "revenue / leads", "money", "revenue",
          ["deal-won", "lead"], _lead_value),
    _spec("roi", "ROI", "(revenue − spend) / spend", "multiple", "cost", ["deal-won", "spend"],
          _roi),
    _spec("inbound-response-time", "Inbound response time", "median response duration; "
          "share within target (3 min); response rate", "seconds", "inbound",
          ["inbound-responded", "inbound-request"], _inbound),
    _spec("loss-reasons", "Loss reasons", "lost deals by reason and competitor", "count",
          "revenue", ["deal-lost"], _loss_reasons),
    _spec("funnel", "Funnel", "deals reaching each stage, stage-to-stage conversion, median "
          "days in stage, stalled deals", "ratio", "pipeline", ["lead", "mql", "sql",
                                                                "opportunity", "demo-booked",
                                                                "deal-won"], _funnel),
]
CATALOG: dict[str, KpiSpec] = {spec.name: spec for spec in _SPECS}
LEADERBOARD_KPIS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.per_rep)


def compute_kpi(name: str, *, facts: Facts, period: Period, now: datetime,
                user: str | None = None, options: Mapping[str, Any] | None = None) -> KpiResult:
    """The KPI `name` over `period`, optionally for one rep."""
    spec = CATALOG[name]
    return spec.compute(Ctx(facts=facts, period=period, now=now, user=user,
                            options=options or {}))


def compare(current: KpiResult, previous: KpiResult | None) -> Change:
    """Change against the previous period: delta, relative change, or "new" from zero."""
    if previous is None or current.value is None:
        return Change(None, None)
    if not previous.value:
        return Change(current.value - (previous.value or 0), None, new=bool(current.value))
    delta = current.value - previous.value
    return Change(delta, delta / abs(previous.value))


def leaderboard(name: str, *, facts: Facts, period: Period, now: datetime) -> KpiResult:
    """One row per rep, best first."""
    result = compute_kpi(name, facts=facts, period=period, now=now)
    rows = sorted(result.rows, key=lambda r: (r.value is None, -(r.value or 0)))
    return KpiResult(kpi=result.kpi, workspace=result.workspace,
                     period_label=result.period_label, start=result.start, end=result.end,
                     value=result.value, unit=result.unit, numerator=result.numerator,
                     denominator=result.denominator, rows=tuple(rows), details=result.details,
                     warnings=result.warnings)


ME_KPIS = ("activities", "deals-won", "revenue", "win-rate", "quota-attainment")


def me_summary(user: str, *, facts: Facts, period: Period, now: datetime) -> list[KpiResult]:
    """The rep's own figures: activities, deals won, revenue, win rate, quota and pace."""
    return [compute_kpi(name, facts=facts, period=period, now=now, user=user)
            for name in ME_KPIS]
