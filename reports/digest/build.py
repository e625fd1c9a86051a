"""`build_digest`: the weekly or monthly digest view model, from the KPI catalog. No I/O.

Weekly: last week (Monday–Sunday in the schedule's time zone) against the week before.
Monthly: last month against the month before. Both add quota attainment (weekly: month and
quarter to date; monthly: last month and quarter to date) with pace per rep and the share of
reps at quota, churn for last month and month to date, stalled deals now and loss reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from babel.dates import format_date, format_interval

from reports.digest.model import (
    ChartData,
    ChurnView,
    Digest,
    FunnelStage,
    LossReason,
    Metric,
    QuotaLine,
    QuotaView,
    RepActivity,
    StalledDeal,
)
from reports.format import (
    NA,
    format_days,
    format_money,
    format_number,
    format_percent,
    format_value,
)
from reports.i18n import N_, Translator, translator
from reports.kpis.catalog import REPS_AT_QUOTA_WARNING, Change, compare, compute_kpi
from reports.kpis.facts import Facts
from reports.kpis.result import KpiResult
from reports.periods import Period, comparison, parse_period

CADENCES = ("weekly", "monthly")
HEADLINE_KPIS = ("revenue", "deals-won", "win-rate", "avg-deal-size", "activities")
MAX_REPS = 12  # rows per rep table; the team line sums them all
MAX_STALLED = 5
MAX_LOSS_REASONS = 5
SMALL_SAMPLE = 10  # rates resting on fewer deals say so
# The English labels of the headline KPIs, funnel stages and titles (translated when shown).
LABELS = {"revenue": N_("Revenue"), "deals-won": N_("Deals won"), "win-rate": N_("Win rate"),
          "avg-deal-size": N_("Average deal size"), "activities": N_("Activities"),
          "lead": N_("Lead"), "mql": N_("MQL"), "sql": N_("SQL"),
          "opportunity": N_("Opportunity"), "demo": N_("Demo"), "won": N_("Won")}
TITLES = {"weekly": N_("Weekly digest"), "monthly": N_("Monthly digest")}
QUOTA_TITLES = {"mtd": N_("Quota — month to date ({period})"),
                "qtd": N_("Quota — quarter to date ({period})"),
                "last-month": N_("Quota — last month ({period})")}
CHART_QUOTA_TITLES = {"weekly": N_("Quota attainment (month to date)"),
                      "monthly": N_("Quota attainment (last month)")}


def build_digest(*, facts: Facts, cadence: str, now: datetime, tz: str,
                 fiscal_year_start: int = 1, language: str = "en",
                 names: Mapping[str, str] | None = None) -> Digest:
    """The digest due at `now` for a schedule in time zone `tz`, in `language`."""
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {CADENCES}, not {cadence!r}")
    t = translator(language)
    view = _View(facts=facts, now=now, tz=tz, fy=fiscal_year_start, t=t, names=names or {})
    span_word = "last-week" if cadence == "weekly" else "last-month"
    current = view.period(span_word)
    previous = comparison(current, now).previous  # a whole period: the whole one before
    headline = tuple(view.metric(name, current, previous) for name in HEADLINE_KPIS)
    activity, activity_total = view.activity(current)
    activity, activity_more = view.cut(activity, MAX_REPS,
                                       f"/kpi leaderboard activities {span_word}")
    funnel_result = view.kpi("funnel", current)
    quota_periods = ("mtd" if cadence == "weekly" else "last-month", "qtd")
    quotas = tuple(view.quota(p) for p in quota_periods)
    churn = (view.churn(N_("Last month ({period})"), view.period("last-month")),
             view.churn(N_("Month to date ({period})"), view.period("mtd")))
    stalled_result = view.kpi("stalled-deals", current)
    stalled, stalled_more = view.cut(view.stalled(stalled_result), MAX_STALLED,
                                     "/kpi stalled-deals")
    loss_reasons, loss_reasons_more = view.cut(
        view.loss_reasons(view.kpi("loss-reasons", current)), MAX_LOSS_REASONS,
        f"/kpi loss-reasons {span_word}")
    title = t.gettext(TITLES[cadence]) + " — " + view.span(current)
    revenue, win_rate = headline[0], headline[2]
    open_deals = int(stalled_result.details["open_deals"])
    return Digest(
        cadence=cadence, language=t.language, locale=t.locale, title=title,
        period=view.span(current),
        compared_with=t.gettext("vs {period}", period=view.span(previous)),
        headline=headline, activity=activity, activity_total=activity_total,
        funnel=view.funnel(funnel_result),
        funnel_summary=view.funnel_summary(funnel_result),
        quotas=quotas, churn=churn,
        stalled_total=t.ngettext("{stalled} of {open} open deal", "{stalled} of {open} open deals",
                                 open_deals, stalled=view.number(stalled_result.value or 0),
                                 open=view.number(open_deals)),
        stalled=stalled, loss_reasons=loss_reasons, activity_more=activity_more,
        stalled_more=stalled_more, loss_reasons_more=loss_reasons_more,
        notes=view.notes(current),
        chart=view.chart(funnel_result, current, quotas[0], CHART_QUOTA_TITLES[cadence]),
        fallback=t.gettext("{title}: revenue {revenue} ({change}), win rate {win_rate}",
                           title=title, revenue=revenue.value, change=revenue.change,
                           win_rate=win_rate.value),
    )


class _View:
    """The formatting helpers of one digest (translator, names, facts, now)."""

    def __init__(self, *, facts: Facts, now: datetime, tz: str, fy: int, t: Translator,
                 names: Mapping[str, str]) -> None:
        self.facts, self.now, self.tz, self.fy = facts, now, tz, fy
        self.t, self.locale, self.names = t, t.locale, names
        self.currency = facts.currency
        self._small: list[tuple[str, int]] = []
        self._unpriced: tuple[int, int] | None = None  # (wins without amount, wins)

    def label(self, key: str) -> str:
        """The translated label of a headline KPI or a funnel stage (else the key)."""
        return self.t.gettext(LABELS[key]) if key in LABELS else key

    # ------------------------------------------------------------------ primitives
    def period(self, text: str) -> Period:
        return parse_period(text, now=self.now, tz=self.tz, fiscal_year_start=self.fy)

    def kpi(self, name: str, period: Period) -> KpiResult:
        return compute_kpi(name, facts=self.facts, period=period, now=self.now)

    def span(self, period: Period) -> str:
        first = period.start_local.date()
        last = (period.end_local - timedelta(days=1)).date()
        if first == last:
            return format_date(first, "medium", locale=self.locale)
        return format_interval(first, last, "yMMMd", locale=self.locale)

    def number(self, value: float | None) -> str:
        return self.t.gettext("n/a") if value is None else format_number(value, self.locale)

    def percent(self, value: float | None) -> str:
        return self.t.gettext("n/a") if value is None else format_percent(value, self.locale)

    def money(self, minor: float | None) -> str:
        return self.t.gettext("n/a") if minor is None else format_money(minor, self.currency,
                                                                    self.locale)

    def value(self, result: KpiResult) -> str:
        text = format_value(result, self.locale, currency=self.currency)
        return text.replace(NA, self.t.gettext("n/a"))

    def name(self, user_id: str) -> str:
        return self.names.get(user_id) or user_id

    def change(self, change: Change, unit: str) -> tuple[str, str]:
        """(text, direction) in this locale: `▲ 4 pts`, `▼ 12%`, `new`, `—`."""
        if change.new:
            return self.t.gettext("new"), "up"
        if change.delta is None or change.delta == 0:
            return "—", "flat"
        arrow, direction = ("▲", "up") if change.delta > 0 else ("▼", "down")
        if unit == "ratio":
            points = format_number(abs(change.delta) * 100, self.locale, digits=1)
            if points == format_number(0, self.locale):
                return "—", "flat"
            pts = self.t.gettext("pts")  # percentage points
            return f"{arrow} {points} {pts}", direction
        if change.relative is None:
            return arrow, direction
        text = format_percent(abs(change.relative), self.locale)
        if text == format_percent(0.0, self.locale):
            return "—", "flat"
        return f"{arrow} {text}", direction

    # ------------------------------------------------------------------ sections
    def metric(self, name: str, current: Period, previous: Period) -> Metric:
        now, before = self.kpi(name, current), self.kpi(name, previous)
        if now.unit == "ratio" and now.denominator is not None \
                and 0 < now.denominator < SMALL_SAMPLE:
            self._small.append((self.label(name), int(now.denominator)))
        missing = now.details.get("wins_without_amount") if name == "revenue" else None
        if missing:
            self._unpriced = (int(missing), int(now.details.get("deals_won", 0)))
        text, direction = self.change(compare(now, before), now.unit)
        return Metric(key=name, label=self.label(name), value=self.value(now), change=text,
                      direction=direction)

    def activity(self, period: Period) -> tuple[tuple[RepActivity, ...], RepActivity]:
        result = self.kpi("activities", period)
        rows = sorted(result.rows, key=lambda r: (-(r.value or 0), self.name(str(r.key))))
        reps = tuple(
            RepActivity(rep=self.name(str(r.key)), calls=self.number(r.extra.get("calls", 0)),
                        emails=self.number(r.extra.get("emails", 0)),
                        meetings=self.number(r.extra.get("meetings", 0)),
                        demos=self.number(r.extra.get("demos", 0)), total=self.number(r.value))
            for r in rows if r.value)
        d = result.details
        total = RepActivity(rep=self.t.gettext("Team"), calls=self.number(d.get("calls", 0)),
                            emails=self.number(d.get("emails", 0)),
                            meetings=self.number(d.get("meetings", 0)),
                            demos=self.number(d.get("demos", 0)),
                            total=self.number(result.value or 0))
        return reps, total

    def funnel(self, result: KpiResult) -> tuple[FunnelStage, ...]:
        stages = []
        for i, row in enumerate(result.rows):
            conversion = "" if i == 0 else self.percent(row.extra.get("conversion"))
            if i and row.denominator:
                conversion += f" ({self.number(row.numerator)}/{self.number(row.denominator)})"
            days = row.extra.get("median_days")
            stages.append(FunnelStage(
                stage=self.label(str(row.key)),
                deals=self.number(row.extra.get("deals", row.value)), conversion=conversion,
                median_days="" if days is None else self.days(days),
                count=int(row.extra.get("deals", row.value) or 0)))
        return tuple(stages)

    def funnel_summary(self, result: KpiResult) -> str:
        """"3 won · 5 lost · 874 stalled": each count with its own plural form."""
        t, d = self.t, result.details
        won, lost, stalled = (int(d[key]) for key in ("won", "lost", "stalled"))
        return " · ".join((
            t.ngettext("{count} won", "{count} won", won, count=self.number(won)),
            t.ngettext("{count} lost", "{count} lost", lost, count=self.number(lost)),
            t.ngettext("{count} stalled", "{count} stalled", stalled,
                       count=self.number(stalled))))

    def days(self, days: float) -> str:
        return format_days(days * 86_400, self.locale)

    def cut(self, rows: tuple, limit: int, command: str) -> tuple[tuple, str | None]:
        """At most `limit` rows, and the line saying how many were left out and which command
        shows them all (None when nothing was cut)."""
        if len(rows) <= limit:
            return rows, None
        left = len(rows) - limit
        return rows[:limit], self.t.ngettext("+{count} more: {command}",
                                             "+{count} more: {command}", left,
                                             count=self.number(left), command=command)

    def quota(self, period_word: str) -> QuotaView:
        period = self.period(period_word)
        result = self.kpi("quota-attainment", period)
        d = result.details
        rows = []
        for row in result.rows:
            metric = row.extra.get("metric", "revenue")
            amount = self.money if metric == "revenue" else self.number
            rows.append(QuotaLine(
                rep=self.name(str(row.key)), metric=metric, attained=amount(row.numerator),
                target=amount(row.denominator), attainment=self.percent(row.value),
                pace=self.percent(row.extra.get("pace")),
                at_quota=row.value is not None and row.value >= 1 - 1e-9, share=row.value))
        share = d.get("reps_at_quota_share")
        warning = None
        if share is not None and share < REPS_AT_QUOTA_WARNING:
            warning = self.t.gettext("Only {share} of reps are at quota (under 60%).",
                                    share=self.percent(share))
        team_amount = self.money if d.get("metric", "revenue") == "revenue" else self.number
        team = self.t.gettext("{share} ({attained} of {target})",
                              share=self.percent(result.value),
                              attained=team_amount(result.numerator or 0),
                              target=team_amount(result.denominator or 0))
        with_quota = int(d.get("reps_with_quota", 0))
        reps = self.t.ngettext("{count} of {total} rep ({share})",
                               "{count} of {total} reps ({share})", with_quota,
                               count=self.number(d.get("reps_at_quota", 0)),
                               total=self.number(with_quota), share=self.percent(share))
        shown, more = self.cut(tuple(rows), MAX_REPS,
                               f"/kpi leaderboard quota-attainment {period_word}")
        return QuotaView(title=self.t.gettext(QUOTA_TITLES[period_word],
                                            period=self.span(period)),
                         team=team, reps_at_quota=reps, warning=warning, rows=shown, more=more)

    def churn(self, title: str, period: Period) -> ChurnView:
        return ChurnView(title=self.t.gettext(title, period=self.span(period)),
                         customer_churn=self.value(self.kpi("churn-rate", period)),
                         mrr_churn=self.value(self.kpi("mrr-churn", period)))

    def stalled(self, result: KpiResult) -> tuple[StalledDeal, ...]:
        return tuple(
            StalledDeal(deal=str(row.key), stage=self.label(str(row.extra.get("stage"))),
                        owner=self.name(str(row.extra.get("owner") or "")),
                        days=self.days(row.value or 0))
            for row in result.rows)

    def loss_reasons(self, result: KpiResult) -> tuple[LossReason, ...]:
        lines = []
        for row in result.rows:
            name = row.subject
            if name == "(none)":
                name = self.t.gettext("no reason given")
            if row.kind != "reason":
                name = self.t.gettext("{name} (competitor)", name=name)
            lines.append(LossReason(reason=name, count=self.number(row.value),
                                    share=self.percent(row.extra.get("share"))))
        return tuple(lines)

    def notes(self, period: Period) -> tuple[str, ...]:
        del period
        t = self.t
        notes = [t.ngettext("Small sample: {what} rests on {n} deal.",
                            "Small sample: {what} rests on {n} deals.", n,
                            what=what, n=self.number(n))
                 for what, n in self._small]
        if self._unpriced:
            missing, won = self._unpriced
            deals = t.ngettext("{missing} of {won} won deal", "{missing} of {won} won deals",
                               won, missing=self.number(missing), won=self.number(won))
            notes.append(t.ngettext(
                "{deals} has no amount: revenue counts the other {priced}.",
                "{deals} have no amount: revenue counts the other {priced}.", missing,
                deals=deals, priced=self.number(won - missing)))
        return tuple(notes)

    def chart(self, funnel: KpiResult, period: Period, quota: QuotaView,
              quota_title: str) -> ChartData:
        with_share = [line for line in quota.rows if line.share is not None
                      and line.metric == "revenue"]
        return ChartData(
            title=self.t.gettext("Quota attainment and funnel"),
            quota_title=self.t.gettext(quota_title),
            funnel_title=self.t.gettext("Deals reaching each stage"),
            funnel_period=self.span(period),
            alt=self.t.gettext("Chart: quota attainment per rep and deals per funnel stage"),
            reps=tuple(line.rep for line in with_share),
            attainment=tuple(float(line.share or 0) for line in with_share),
            stages=tuple(self.label(str(r.key)) for r in funnel.rows),
            stage_counts=tuple(int(r.extra.get("deals", r.value) or 0) for r in funnel.rows))
