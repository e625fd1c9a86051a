"""Quota KPIs: quota attainment, reps at quota and the month's progress against its quota.

Quotas are effective-dated (reports/kpis/quotas.py): a period's target sums, over the runs of
days under one quota change, target x (calendar months those days span) / (months in the
change's cadence: monthly 1, quarterly 3). Whole calendar months count 1, a partial month
counts by its share of days (local dates). So a monthly quota counts 3 times over a quarter, a
quarterly quota a third over a month, 2026-10-16..2026-11-15 counts 16/31 + 15/30 months, and
a month whose target changed mid-month takes each part's target pro rata by days.
A to-date period (mtd, qtd, ytd) is measured against its whole month/quarter/year: the target
is the full one and pace = attainment / elapsed share of that whole month/quarter/year; any
other period's pace = attainment / `period.elapsed_fraction(now)`. Team attainment is total
attained / total target over the revenue quotas (never an average of percentages); a rep is at
quota when each of their quotas with a target > 0 is at >= 100%. Activity quotas (a count of an
event kind) count like revenue ones: in the rows, in reps at quota, and in the headline when
every quota in view is on that one activity (`headline_metric`; details["metric"]).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from reports.kpis.context import Ctx, kpi_result
from reports.kpis.facts import Quota
from reports.kpis.figures import kind_counts, won_lost_amount
from reports.kpis.quotas import CADENCE_MONTHS, add_months, months_spanned, period_targets
from reports.kpis.ratios import div
from reports.kpis.result import KpiResult, KpiRow
from reports.periods import Period, parse_period
from reports.text import Message, Share, plural_text

REPS_AT_QUOTA_WARNING = 0.6
_ANCHOR_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _local_days(period: Period) -> tuple[date, date]:
    if period.first_day is not None and period.end_day is not None:
        return period.first_day, period.end_day
    return period.start_local.date(), period.end_local.date()


def quota_months(period: Period) -> float:
    """How many calendar months the period spans: whole months count 1, a partial month its
    share of days (local dates)."""
    return months_spanned(*_local_days(period))


def quota_period(period: Period) -> Period:
    """The period quotas are measured against: a to-date period (mtd, qtd, ytd) stands for its
    whole month, quarter or year; any other period for itself."""
    if period.kind != "to-date":
        return period
    anchor = period.anchor or "month"
    first = _local_days(period)[0]
    return Period.from_days(period.label, first, add_months(first, _ANCHOR_MONTHS[anchor]),
                            period.tz, anchor, fiscal_year_start=period.fiscal_year_start)


def quota_target(quota: Quota, period: Period) -> float:
    """One quota's target over `period` as if it were in force on every day of it."""
    months = quota_months(quota_period(period))
    return quota.target * months / CADENCE_MONTHS.get(quota.cadence, 1)


@dataclass(frozen=True)
class _QuotaFigures:
    rows: list[KpiRow]
    done: float  # revenue quotas, summed
    target: float
    elapsed: float
    reps_with_quota: int
    reps_at_quota: int
    metric: str  # what `done` and `target` count (headline_metric)

    @property
    def share_at_quota(self) -> float | None:
        return div(self.reps_at_quota, self.reps_with_quota)

    def warnings(self) -> list[Message]:
        share = self.share_at_quota
        if share is None or share >= REPS_AT_QUOTA_WARNING:
            return []
        return [plural_text("only {at_quota} of {with_quota} rep is at quota ({share}, under 60%)",
                            "only {at_quota} of {with_quota} reps are at quota ({share}, under "
                            "60%)", self.reps_with_quota, at_quota=self.reps_at_quota,
                            with_quota=self.reps_with_quota, share=Share(share))]


def headline_metric(quotas: list[Quota]) -> str:
    """What a quota headline totals: revenue when any quota (or none) is on revenue, else the
    one activity metric the quotas share (a team of SDRs on demo-booked: 12 of 20 demos);
    counts of different activities are never added together (then: "mixed", n/a)."""
    metrics = {q.metric for q in quotas}
    if "revenue" in metrics or not metrics:
        return "revenue"
    return metrics.pop() if len(metrics) == 1 else "mixed"


def _quota_figures(ctx: Ctx) -> _QuotaFigures:
    measured = quota_period(ctx.period)
    elapsed = measured.elapsed_fraction(ctx.now)
    quotas = period_targets((q for q in ctx.facts.quotas()
                             if ctx.user is None or q.user_id == ctx.user),
                            *_local_days(measured))
    revenue = ctx.facts.won_amounts(ctx.start, ctx.end, user=ctx.user, by="user") \
        if any(q.metric == "revenue" for q in quotas) else {}
    activities = tuple(sorted({q.metric for q in quotas if q.metric != "revenue"}))
    counts = kind_counts(ctx, activities, per_rep=True)[1] if activities else {}
    rows = []
    done_total = target_total = 0.0
    met: dict[str, bool] = {}
    metric = headline_metric(quotas)
    for quota in quotas:
        target = quota.target
        source = revenue if quota.metric == "revenue" else counts[quota.metric]
        done = float(source.get(quota.user_id, 0))
        attainment = div(done, target)
        pace = div(attainment, elapsed) if attainment is not None else None
        rows.append(KpiRow(quota.user_id, attainment, done, target, extra={
            "metric": quota.metric, "cadence": quota.cadence, "pace": pace,
            "changed_on": tuple(part.first for part in quota.parts[1:])}))
        if quota.metric == metric:
            done_total += done
            target_total += target
        if target > 0:
            at = attainment is not None and attainment >= 1 - 1e-9
            met[quota.user_id] = met.get(quota.user_id, True) and at
    rows.sort(key=lambda r: (r.value is None, -(r.value or 0), r.key))
    return _QuotaFigures(rows, done_total, target_total, elapsed, len(met),
                         sum(met.values()), metric)


def quota_attainment(ctx: Ctx) -> KpiResult:
    q = _quota_figures(ctx)
    value = div(q.done, q.target)
    return kpi_result(ctx, "quota-attainment", value, "ratio", numerator=q.done,
                      denominator=q.target, rows=q.rows, warnings=q.warnings(), details={
                          "pace": div(value, q.elapsed) if value is not None else None,
                          "elapsed": q.elapsed, "reps_at_quota": q.reps_at_quota,
                          "reps_with_quota": q.reps_with_quota,
                          "reps_at_quota_share": q.share_at_quota,
                          "quota_months": quota_months(quota_period(ctx.period)),
                          "metric": q.metric, "currency": ctx.facts.currency})


def reps_at_quota(ctx: Ctx) -> KpiResult:
    q = _quota_figures(ctx)
    return kpi_result(ctx, "reps-at-quota", q.share_at_quota, "ratio",
                      numerator=q.reps_at_quota, denominator=q.reps_with_quota, rows=q.rows,
                      warnings=q.warnings())


def _progress_month(ctx: Ctx) -> Period:
    period = ctx.period
    if period.kind == "month":
        return period
    if period.kind == "to-date" and (period.anchor or "month") == "month":
        return quota_period(period)
    return parse_period("this-month", now=ctx.now, tz=period.tz,
                        fiscal_year_start=period.fiscal_year_start)


def monthly_progress(ctx: Ctx) -> KpiResult:
    """Revenue from the month's first day through today (the whole month once it is over)
    against the month's team revenue quota, and against the same days of the month before."""
    month = _progress_month(ctx)
    first, end = _local_days(month)
    today = ctx.now.astimezone(month.start_local.tzinfo).date()
    days = max(0, min((today - first).days + 1, (end - first).days))
    to_date = Period.from_days("mtd" if month.contains(ctx.now) else month.label, first,
                               first + timedelta(days=days), month.tz, "to-date",
                               fiscal_year_start=month.fiscal_year_start, anchor="month")
    before_first = add_months(first, -1)
    before = Period.from_days(f"previous {to_date.label}", before_first,
                              min(before_first + timedelta(days=days), first), month.tz,
                              "range", fiscal_year_start=month.fiscal_year_start)
    q = _quota_figures(ctx.over(month))
    target = q.target if q.metric == "revenue" else 0.0  # revenue against revenue only
    done = won_lost_amount(ctx.over(to_date))[2]
    earlier = won_lost_amount(ctx.over(before))[2]
    value = div(done, target)
    elapsed = month.elapsed_fraction(ctx.now)
    return kpi_result(ctx.over(to_date), "monthly-progress", value, "ratio", numerator=done,
                      denominator=target, rows=q.rows, warnings=q.warnings(), details={
                          "month": month.label, "revenue_mtd": done,
                          "same_day_last_month": earlier,
                          "vs_last_month": div(done - earlier, earlier),
                          "new_vs_last_month": earlier == 0 and done > 0,
                          "elapsed": elapsed,
                          "pace": div(value, elapsed) if value is not None else None,
                          "currency": ctx.facts.currency})
