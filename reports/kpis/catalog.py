"""The KPI catalog of SPEC section 6: every KPI's name, formula, unit and computation.

Public API: `CATALOG` (name -> `KpiSpec`), `compute_kpi`, `compare` (-> `Change`),
`compute_compared` (-> `Compared`: a result with its like-for-like previous one),
`leaderboard` with `LEADERBOARD_KPIS`, and `me_summary`. Formulas read data only through the
`Facts` Protocol (reports/kpis/facts.py); a spec's `compute` takes a `Ctx` (facts, period, now,
user, options) and returns a `KpiResult`.

Rules for every KPI:
- a zero denominator gives value None ("n/a"), never 0% or infinity;
- an event ratio above 100% can only come from missing events (more email-opened than
  email-delivered): it is capped at 1.0 with a data warning naming the events to log. Ratios
  that may legitimately pass 100% because of timing (deals won in P over leads created in P,
  `close-rate`) are not capped, and say so in a note; the funnel's conversion is a cohort's
  (of the deals that reached stage X in P, how many have reached the next), never above 100%;
- a change compares like for like (`compute_compared`, reports.periods.comparison): a running
  period's elapsed days against the same days of the previous period, both spans named;
- every rate carries its numerator and denominator, per rep as well;
- cohort and period variants have different names (`conversion-rate` is the cohort of leads
  created in P, `conversion-rate-period` is deal-won / lead in P; `win-rate` vs `close-rate`).

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

Customers. Churn and MRR are workspace-wide (not credited to reps), as are the cost KPIs (cac,
cpl, cost-per-*, roi, arpc, clv): spend is not credited to reps, so `user` is ignored there.
CLV = monthly ARPC / monthly churn rate, both over one calendar month: the period itself when
it is a month (kind "month"), otherwise the last whole month before `now`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reports.events import STAGE_ORDER, Stage
from reports.kpis.facts import Distribution, Facts, Quota
from reports.kpis.quotas import CADENCE_MONTHS, add_months, months_spanned, period_targets
from reports.kpis.result import KpiResult, KpiRow
from reports.periods import Comparison, Period, comparison, local_midnight, parse_period
from reports.text import Message, Money, Share, Text, plural_text

DAY = 86_400.0
STALLED_MIN_DAYS = 7
TRAILING_DAYS = 90
DEFAULT_RESPONSE_TARGET_SECONDS = 180.0
REPS_AT_QUOTA_WARNING = 0.6
_ANCHOR_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Ctx:
    """What a formula gets: the facts, the period, the instant `now`, an optional rep."""

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
        """The window [now - days, now)."""
        return self.now - timedelta(days=days), self.now

    def trailing_days(self, days: int = TRAILING_DAYS) -> tuple[datetime, datetime]:
        """The `days` whole local days before today: [today - days, today) at local midnights
        in the period's zone. The same all day, so what depends on it holds still all day."""
        today = self.now.astimezone(ZoneInfo(self.period.tz)).date()
        return (local_midnight(today - timedelta(days=days), self.period.tz),
                local_midnight(today, self.period.tz))

    def team(self) -> Ctx:
        """The same question for the whole team (`user` dropped)."""
        return dataclasses.replace(self, user=None)

    def over(self, period: Period) -> Ctx:
        return dataclasses.replace(self, period=period)


@dataclass(frozen=True)
class KpiSpec:
    name: str
    title: str
    formula: str  # one line, for humans (`/kpi list`, `/kpi help NAME`)
    unit: str  # one of reports.kpis.result.UNITS
    group: str  # email, social, web, activity, inbound, pipeline, revenue, quota, customers, cost
    needs: tuple[str, ...]  # the event kinds the KPI reads
    compute: Callable[[Ctx], KpiResult]
    per_rep: bool = False  # one row per rep: can be shown as a leaderboard


@dataclass(frozen=True)
class Change:
    """A result against the previous period's (see `compare`)."""

    delta: float | None  # value − previous value (ratio units for rates: 0.04 = 4 points)
    relative: float | None  # delta / |previous value|; None when the previous was 0 or n/a
    new: bool = False  # the previous was 0 or n/a and now the value is > 0


# ----------------------------------------------------------------------------- helpers

def _result(ctx: Ctx, name: str, value: float | None, unit: str, *, numerator=None,
            denominator=None, rows=(), details=None, warnings=()) -> KpiResult:
    """A formula's result over ctx's period (`compute_kpi` adds the spec's formula to it)."""
    return KpiResult(kpi=name, workspace=ctx.facts.workspace_id, period_label=ctx.period.label,
                     start=ctx.start, end=ctx.end, value=value, unit=unit, numerator=numerator,
                     denominator=denominator, rows=tuple(rows), details=dict(details or {}),
                     warnings=tuple(warnings))


def ratio(numerator: float, denominator: float, *,
          what: tuple[str | Text, str | Text] | None = None, cap: bool = True,
          fix: Text | None = None, currency: str | None = None
          ) -> tuple[float | None, list[Message]]:
    """numerator / denominator, and the data warnings (`Text`s: the view translates them).

    None for a zero denominator (with a warning when `cap` and the numerator is not zero:
    "email-clicked (3) without any email-delivered: log the missing email-delivered events").
    Above 1 with `cap`: 1.0 and a warning such as "more email-opened (52) than
    email-delivered (50): log the missing email-delivered events; shown capped at 100%".
    `what` names the two counts: event kinds as typed (`str`) or phrases to translate (`Text`);
    with `currency` they are amounts in its minor units, shown as money."""
    top, bottom = what or (Text("numerator"), Text("denominator"))
    shown = (lambda value: Money(round(value), currency)) if currency else _n
    fix = fix or Text("log the missing {kind} events", kind=bottom)
    if not denominator:
        if cap and numerator and what:
            return None, [Text("{top} ({count}) without any {bottom}: {fix}", top=top,
                               count=shown(numerator), bottom=bottom, fix=fix)]
        return None, []
    value = numerator / denominator
    if cap and value > 1:
        return 1.0, [Text("more {top} ({top_count}) than {bottom} ({bottom_count}): {fix}; "
                          "shown capped at 100%", top=top, top_count=shown(numerator),
                          bottom=bottom, bottom_count=shown(denominator), fix=fix)]
    return value, []


def _n(value: float) -> int | str:
    """A count in a warning: an `int` (grouped in the reader's language) when whole."""
    return int(value) if float(value).is_integer() else f"{value:,.2f}"


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


def _per_rep_counts(ctx: Ctx, kinds: tuple[str, ...]) -> dict[str, int]:
    sums = ctx.facts.event_sums(kinds, ctx.start, ctx.end, user=ctx.user, by="user")
    return {rep: s.count for rep, s in sums.items()}


def _event_rate(name: str, top: str, bottom: str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        num, den = _count(ctx, top), _count(ctx, bottom)
        value, warnings = ratio(num, den, what=(top, bottom))
        rows = []
        if ctx.user is None:
            tops, bottoms = _per_rep_counts(ctx, (top,)), _per_rep_counts(ctx, (bottom,))
            for rep in sorted(set(tops) | set(bottoms)):
                tc, bc = tops.get(rep, 0), bottoms.get(rep, 0)
                rows.append(KpiRow(rep, ratio(tc, bc)[0], tc, bc))
        return _result(ctx, name, value, "ratio", numerator=num, denominator=den, rows=rows,
                       warnings=warnings)
    return compute


def _event_count(name: str, kinds: tuple[str, ...]) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        total = sum(_counts(ctx, kinds).values())
        rows = []
        if ctx.user is None:
            per_rep = _per_rep_counts(ctx, kinds)
            rows = [KpiRow(rep, float(n)) for rep, n in
                    sorted(per_rep.items(), key=lambda kv: (-kv[1], kv[0]))]
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
            rows = [KpiRow(k, float(v))
                    for k, v in sorted(per_rep.items(), key=lambda kv: (-kv[1], kv[0]))]
        return _result(ctx, name, float(total), "count", numerator=total, rows=rows)
    return compute


def _converted(target: str) -> Text:
    """How the cohort's converted part reads: won or lost by now, or reached a stage."""
    if target == "won":
        return Text("of them, won by now")
    if target == "lost":
        return Text("of them, lost by now")
    return Text("of them, {stage} by now", stage=target)


def _cohort(name: str, start_stage: Stage, to: Stage | str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        n, converted = ctx.facts.cohort_conversion(start_stage, to, ctx.start, ctx.end,
                                                   user=ctx.user).get("all", (0, 0))
        value, warnings = ratio(converted, n)
        target = to.value if isinstance(to, Stage) else to
        return _result(ctx, name, value, "ratio", numerator=converted, denominator=n,
                       warnings=warnings, details={
                           "cohort": Text("deals reaching {stage} in {period}",
                                          stage=start_stage.value, period=ctx.period.label),
                           "converted": _converted(target)})
    return compute


def _closed(ctx: Ctx, window=None, by: str | None = None) -> dict[str, tuple[int, int, int]]:
    start, end = window or (ctx.start, ctx.end)
    return ctx.facts.closed_deals(start, end, user=ctx.user, by=by)


def _won_lost_amount(ctx: Ctx, window=None) -> tuple[int, int, int]:
    return _closed(ctx, window).get("all", (0, 0, 0))


def _unpriced(ctx: Ctx, window=None) -> tuple[int, list[Message]]:
    """Wins in the window without an amount, and the warning every revenue view shows for
    them (SPEC 5: such a win counts in deals won, not in revenue)."""
    start, end = window or (ctx.start, ctx.end)
    missing = ctx.facts.wins_without_amount(start, end, user=ctx.user)
    if not missing:
        return 0, []
    won = _won_lost_amount(ctx, window)[0]
    return missing, [plural_text(
        "{missing} of {won} won deal has no amount: revenue counts the {priced} with one",
        "{missing} of {won} won deals have no amount: revenue counts the {priced} with one",
        won, missing=_n(missing), won=_n(won), priced=_n(won - missing))]


def _spend(ctx: Ctx, window=None) -> int:
    start, end = window or (ctx.start, ctx.end)
    sums = ctx.facts.event_sums(("spend",), start, end)
    return sums["spend"].amount if "spend" in sums else 0


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / DAY


def _distribution_details(dist: Distribution, scale: float = DAY) -> dict[str, Any]:
    def s(x):
        return None if x is None else x / scale
    return {"n": dist.n, "median": s(dist.median), "mean": s(dist.mean), "p90": s(dist.p90)}


# ----------------------------------------------------------------------------- activity

def _meetings(ctx: Ctx) -> KpiResult:
    booked, held = _count(ctx, "meeting-booked"), _count(ctx, "meeting-held")
    rows = []
    if ctx.user is None:
        b, h = _per_rep_counts(ctx, ("meeting-booked",)), _per_rep_counts(ctx, ("meeting-held",))
        rows = [KpiRow(rep, float(b.get(rep, 0)), extra={"booked": b.get(rep, 0),
                                                         "held": h.get(rep, 0)})
                for rep in sorted(set(b) | set(h), key=lambda r: (-b.get(r, 0), r))]
    return _result(ctx, "meetings", float(booked), "count", numerator=booked, rows=rows,
                   details={"booked": booked, "held": held,
                            "show_rate": ratio(held, booked)[0]})


ACTIVITY_KINDS = {"calls": ("call",), "emails": ("email-sent",),
                  "meetings": ("meeting-held",), "demos": ("demo-held",)}


def _activities(ctx: Ctx) -> KpiResult:
    per_rep: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for label, kinds in ACTIVITY_KINDS.items():
        for rep, n in _per_rep_counts(ctx, kinds).items():
            per_rep.setdefault(rep, {})[label] = n
        totals[label] = sum(_counts(ctx, kinds).values())
    rows = [KpiRow(rep, float(sum(c.values())), extra={k: c.get(k, 0) for k in ACTIVITY_KINDS})
            for rep, c in sorted(per_rep.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    total = sum(totals.values())
    return _result(ctx, "activities", float(total), "count", numerator=total, rows=rows,
                   details=totals)


# ----------------------------------------------------------------------------- pipeline

def _demo_outcome(name: str, outcome: str) -> Callable[[Ctx], KpiResult]:
    return _cohort(name, Stage.DEMO, Stage.WON if outcome == "won" else "lost")


def _lead_sources(ctx: Ctx) -> KpiResult:
    conversions = ctx.facts.cohort_conversion(Stage.LEAD, Stage.WON, ctx.start, ctx.end,
                                              user=ctx.user, by="source")
    rows = [KpiRow(source or "other", ratio(won, n)[0], won, n, extra={"leads": n})
            for source, (n, won) in sorted(conversions.items(), key=lambda kv: (-kv[1][0],
                                                                                kv[0]))]
    total = sum(n for n, _ in conversions.values())
    won = sum(w for _, w in conversions.values())
    return _result(ctx, "lead-sources", float(total), "count", numerator=won, denominator=total,
                   rows=rows, details={"leads": total, "won": won,
                                       "lead_to_won": ratio(won, total)[0]})


_TIMING_NOTE = ("above 100%: deals won in the period include leads created before it "
                "(see the cohort variant)")


def _conversion_period(ctx: Ctx) -> KpiResult:
    won, leads = _reached(ctx, Stage.WON), _reached(ctx, Stage.LEAD)
    value = _div(won, leads)  # not capped: > 100% is timing, not missing events
    details = {"won": won, "leads": leads}
    if value is not None and value > 1:
        details["note"] = _TIMING_NOTE
    return _result(ctx, "conversion-rate-period", value, "ratio", numerator=won,
                   denominator=leads, details=details)


FUNNEL_STAGES = tuple(s for s in STAGE_ORDER if s is not Stage.WON)


def _stage_time(ctx: Ctx) -> KpiResult:
    rows = []
    medians = []
    for stage in FUNNEL_STAGES:
        dist = ctx.facts.stage_time(stage, ctx.start, ctx.end, user=ctx.user)
        d = _distribution_details(dist)
        if d["median"] is not None:
            medians.append(d["median"])
        rows.append(KpiRow(stage.value, d["median"], denominator=dist.n,
                           extra={"median_days": d["median"], "p90_days": d["p90"],
                                  "mean_days": d["mean"], "n": dist.n}))
    total = sum(medians) if medians else None
    return _result(ctx, "stage-time", total, "days", rows=rows, details={
        "value": Text("sum of the stage medians (typical days from lead to won)")})


def stage_thresholds(ctx: Ctx) -> dict[str, float]:
    """Seconds after which an open deal counts as stalled, per stage: max(7 days, 2 x the
    team's median stay in the stage over the 90 whole days before today). Whole days, so the
    thresholds hold still all day and the medians behind them are computed once a day (they
    are remembered until a change to the deals of those days, see storage/facts.py)."""
    medians = ctx.facts.median_stage_times(*ctx.trailing_days())
    thresholds = {}
    for stage in FUNNEL_STAGES:
        median = medians[stage]
        thresholds[stage.value] = max(STALLED_MIN_DAYS * DAY, 2 * (median or 0.0))
    return thresholds


STALLED_LISTED = 20


def _stalled(ctx: Ctx) -> KpiResult:
    """Counted per stage in the database; the longest-idle deals listed (at most 20)."""
    thresholds = stage_thresholds(ctx)
    idle_before = {stage: ctx.now - timedelta(seconds=thresholds[stage.value])
                   for stage in FUNNEL_STAGES}
    open_counts = ctx.facts.open_deal_counts(user=ctx.user, idle_before=idle_before)
    total = sum(open_counts.get(stage.value, (0, 0))[1] for stage in FUNNEL_STAGES)
    candidates = ctx.facts.idle_deals(idle_before, user=ctx.user, limit=STALLED_LISTED)
    rows = []
    for deal in candidates:
        idle = (ctx.now - deal.stage_changed_at).total_seconds()
        rows.append(KpiRow(deal.name, idle / DAY, extra={
            "deal": deal.key, "stage": deal.stage, "owner": deal.owner_id,
            "days_in_stage": round(idle / DAY, 1),
            "threshold_days": round(thresholds[deal.stage] / DAY, 1)}))
    rows.sort(key=lambda r: (-(r.value or 0), r.key))
    open_total = sum(n for n, _idle in open_counts.values())
    return _result(ctx, "stalled-deals", float(total), "count", numerator=total,
                   denominator=open_total, rows=rows[:STALLED_LISTED], details={
                       "open_deals": open_total, "listed": min(len(rows), STALLED_LISTED),
                       "threshold_days": {k: round(v / DAY, 1) for k, v in thresholds.items()}})


def _funnel(ctx: Ctx) -> KpiResult:
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
        extra["median_days"] = None if stage is Stage.WON else _days(medians[stage])
        rows.append(KpiRow(stage.value, float(count), numerator, denominator, extra=extra))
        previous = stage
    leads, wins = ctx.facts.cohort_conversion(Stage.LEAD, Stage.WON, ctx.start, ctx.end,
                                              user=ctx.user).get("all", (0, 0))
    won, lost, amount = _won_lost_amount(ctx)
    stalled = _stalled(ctx)
    return _result(ctx, "funnel", ratio(wins, leads)[0], "ratio", numerator=wins,
                   denominator=leads, rows=rows, details={
                       "won": won, "lost": lost, "revenue": amount,
                       "stalled": int(stalled.value or 0), "cohort": cohort,
                       "conversion": Text("of the deals that reached the previous stage in "
                                          "{period}, how many have reached this one",
                                          period=ctx.period.label),
                       "stalled_deals": [r.to_json() for r in stalled.rows[:5]]})


def _cohort_counts(ctx: Ctx) -> dict[Stage, tuple[int, int]]:
    """The leads created in P: per stage, (how many of them reached it by now, how many of
    those reached the next stage) — funnel_counts' shape for the cohort view."""
    reached = [ctx.facts.cohort_conversion(Stage.LEAD, stage, ctx.start, ctx.end,
                                           user=ctx.user).get("all", (0, 0))[1 if i else 0]
               for i, stage in enumerate(STAGE_ORDER)]
    following = reached[1:] + [0]
    return {stage: (n, after) for stage, n, after in zip(STAGE_ORDER, reached, following,
                                                         strict=True)}


# ----------------------------------------------------------------------------- revenue

def _win_rate(ctx: Ctx) -> KpiResult:
    won, lost, _amount = _won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        for rep, (w, lo, _a) in sorted(_closed(ctx, by="user").items()):
            rows.append(KpiRow(rep, ratio(w, w + lo)[0], w, w + lo, extra={"won": w, "lost": lo}))
    value, _ = ratio(won, won + lost)
    return _result(ctx, "win-rate", value, "ratio", numerator=won, denominator=won + lost,
                   rows=rows, details={"won": won, "lost": lost})


def _close_rate(ctx: Ctx) -> KpiResult:
    won = _won_lost_amount(ctx)[0]
    opportunities = _reached(ctx, Stage.OPPORTUNITY)
    value = _div(won, opportunities)  # not capped: wins of earlier opportunities count
    details: dict[str, Any] = {"won": won, "opportunities": opportunities}
    if value is not None and value > 1:
        details["note"] = ("above 100%: deals won in the period include opportunities "
                           "created before it")
    return _result(ctx, "close-rate", value, "ratio", numerator=won, denominator=opportunities,
                   details=details)


def _revenue(ctx: Ctx) -> KpiResult:
    won, _lost, amount = _won_lost_amount(ctx)
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(a), extra={"deals_won": w})
                for rep, (w, _l, a) in sorted(_closed(ctx, by="user").items(),
                                              key=lambda kv: (-kv[1][2], kv[0]))]
    missing, warnings = _unpriced(ctx)
    return _result(ctx, "revenue", float(amount), "money", numerator=amount, rows=rows,
                   warnings=warnings, details={"deals_won": won, "wins_without_amount": missing,
                                               "currency": ctx.facts.currency})


def _deals_won(ctx: Ctx) -> KpiResult:
    won = _won_lost_amount(ctx)[0]
    rows = []
    if ctx.user is None:
        rows = [KpiRow(rep, float(w)) for rep, (w, _l, _a) in
                sorted(_closed(ctx, by="user").items(), key=lambda kv: (-kv[1][0], kv[0]))
                if w]
    return _result(ctx, "deals-won", float(won), "count", numerator=won, rows=rows)


def _avg_deal_size(ctx: Ctx) -> KpiResult:
    won, _lost, amount = _won_lost_amount(ctx)
    missing, warnings = _unpriced(ctx)
    priced = won - missing  # the average of the known amounts
    return _result(ctx, "avg-deal-size", _div(amount, priced), "money", numerator=amount,
                   denominator=priced, warnings=warnings,
                   details={"wins_without_amount": missing, "currency": ctx.facts.currency})


def _sales_cycle(ctx: Ctx) -> KpiResult:
    dist = ctx.facts.sales_cycle(ctx.start, ctx.end, user=ctx.user)
    details = _distribution_details(dist)
    return _result(ctx, "sales-cycle", details["median"], "days", denominator=dist.n,
                   details=details)


def _velocity(ctx: Ctx) -> KpiResult:
    window = ctx.trailing()
    open_opps = ctx.facts.count_open_deals(user=ctx.user,
                                           stages=(Stage.OPPORTUNITY, Stage.DEMO))
    won, lost, amount = _won_lost_amount(ctx, window)
    win_rate = ratio(won, won + lost)[0]
    avg = _div(amount, won)
    cycle_days = _days(ctx.facts.sales_cycle(*window, user=ctx.user).median)
    value = None
    if win_rate is not None and avg is not None and cycle_days:
        value = open_opps * win_rate * avg / cycle_days
    return _result(ctx, "sales-velocity", value, "money_per_day", details={
        "open_opportunities": open_opps, "win_rate_90d": win_rate, "avg_deal_size_90d": avg,
        "median_cycle_days_90d": cycle_days, "won_90d": won, "lost_90d": lost,
        "currency": ctx.facts.currency})


def _loss_reasons(ctx: Ctx) -> KpiResult:
    reasons, competitors = ctx.facts.loss_breakdown(ctx.start, ctx.end, user=ctx.user)
    lost = sum(reasons.values())
    rows = [KpiRow(f"reason: {k}", float(v), v, lost, extra={"share": ratio(v, lost)[0]})
            for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    rows += [KpiRow(f"competitor: {k}", float(v), v, lost, extra={"share": ratio(v, lost)[0]})
             for k, v in sorted(competitors.items(), key=lambda kv: (-kv[1], kv[0]))
             if k != "(none)"]
    price = sum(v for k, v in reasons.items() if "price" in k.lower())
    to_competitor = sum(v for k, v in competitors.items() if k != "(none)")
    return _result(ctx, "loss-reasons", float(lost), "count", numerator=lost, rows=rows,
                   details={"lost": lost, "price_share": ratio(price, lost)[0],
                            "competitor_share": ratio(to_competitor, lost)[0]})


# ----------------------------------------------------------------------------- quotas

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
        return _div(self.reps_at_quota, self.reps_with_quota)

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
    revenue = {rep: a for rep, (_w, _l, a) in _closed(ctx, by="user").items()} \
        if any(q.metric == "revenue" for q in quotas) else {}
    counts = {metric: _per_rep_counts(ctx, (metric,))
              for metric in sorted({q.metric for q in quotas if q.metric != "revenue"})}
    rows = []
    done_total = target_total = 0.0
    met: dict[str, bool] = {}
    metric = headline_metric(quotas)
    for quota in quotas:
        target = quota.target
        source = revenue if quota.metric == "revenue" else counts[quota.metric]
        done = float(source.get(quota.user_id, 0))
        attainment = _div(done, target)
        pace = _div(attainment, elapsed) if attainment is not None else None
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


def _quota_attainment(ctx: Ctx) -> KpiResult:
    q = _quota_figures(ctx)
    value = _div(q.done, q.target)
    return _result(ctx, "quota-attainment", value, "ratio", numerator=q.done,
                   denominator=q.target, rows=q.rows, warnings=q.warnings(), details={
                       "pace": _div(value, q.elapsed) if value is not None else None,
                       "elapsed": q.elapsed, "reps_at_quota": q.reps_at_quota,
                       "reps_with_quota": q.reps_with_quota,
                       "reps_at_quota_share": q.share_at_quota,
                       "quota_months": quota_months(quota_period(ctx.period)),
                       "metric": q.metric, "currency": ctx.facts.currency})


def _reps_at_quota(ctx: Ctx) -> KpiResult:
    q = _quota_figures(ctx)
    return _result(ctx, "reps-at-quota", q.share_at_quota, "ratio", numerator=q.reps_at_quota,
                   denominator=q.reps_with_quota, rows=q.rows, warnings=q.warnings())


def _progress_month(ctx: Ctx) -> Period:
    period = ctx.period
    if period.kind == "month":
        return period
    if period.kind == "to-date" and (period.anchor or "month") == "month":
        return quota_period(period)
    return parse_period("this-month", now=ctx.now, tz=period.tz,
                        fiscal_year_start=period.fiscal_year_start)


def _monthly_progress(ctx: Ctx) -> KpiResult:
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
    done = _won_lost_amount(ctx.over(to_date))[2]
    earlier = _won_lost_amount(ctx.over(before))[2]
    value = _div(done, target)
    elapsed = month.elapsed_fraction(ctx.now)
    return _result(ctx.over(to_date), "monthly-progress", value, "ratio", numerator=done,
                   denominator=target, rows=q.rows, warnings=q.warnings(), details={
                       "month": month.label, "revenue_mtd": done,
                       "same_day_last_month": earlier,
                       "vs_last_month": _div(done - earlier, earlier),
                       "new_vs_last_month": earlier == 0 and done > 0,
                       "elapsed": elapsed,
                       "pace": _div(value, elapsed) if value is not None else None,
                       "currency": ctx.facts.currency})


# ----------------------------------------------------------------------------- customers

def _churn_rate(ctx: Ctx) -> KpiResult:
    at_start = ctx.facts.customers_at(ctx.start)
    churned = ctx.facts.churned_customers(ctx.start, ctx.end)
    value, warnings = ratio(churned, at_start, what=(Text("customers churned"), Text("customers")))
    return _result(ctx, "churn-rate", value, "ratio", numerator=churned, denominator=at_start,
                   warnings=warnings, details={
                       "customers_at_start": at_start,
                       "new_customers": ctx.facts.new_customers(ctx.start, ctx.end)})


def _mrr(ctx: Ctx) -> KpiResult:
    at_end = ctx.facts.mrr_at(min(ctx.end, ctx.now))
    at_start = ctx.facts.mrr_at(ctx.start)
    return _result(ctx, "mrr", float(at_end), "money", numerator=at_end,
                   details={"mrr_at_start": at_start, "change": at_end - at_start,
                            "currency": ctx.facts.currency})


def _mrr_churn(ctx: Ctx) -> KpiResult:
    churned, downgrades = ctx.facts.mrr_lost(ctx.start, ctx.end)
    base = ctx.facts.mrr_at(ctx.start)
    value, warnings = ratio(churned + downgrades, base,
                            what=(Text("MRR lost"), Text("MRR at the start")),
                            fix=Text("check the {field} of the {won} events and the {change} "
                                     "events", field="mrr=", won="deal-won",
                                     change="mrr-change"), currency=ctx.facts.currency)
    return _result(ctx, "mrr-churn", value, "ratio", numerator=churned + downgrades,
                   denominator=base, warnings=warnings,
                   details={"churned_mrr": churned, "downgrades": downgrades,
                            "mrr_at_start": base, "currency": ctx.facts.currency})


def _cost_per(name: str, counter: Callable[[Ctx], int], what: str) -> Callable[[Ctx], KpiResult]:
    def compute(ctx: Ctx) -> KpiResult:
        team = ctx.team()
        spend, n = _spend(team), counter(team)
        return _result(ctx, name, _div(spend, n), "money", numerator=spend, denominator=n,
                       details={"spend": spend, what: n, "currency": ctx.facts.currency})
    return compute


def _cac(ctx: Ctx) -> int:
    return ctx.facts.new_customers(ctx.start, ctx.end)


def _customers_active(ctx: Ctx) -> int:
    return ctx.facts.customers_at(ctx.start) + ctx.facts.new_customers(ctx.start, ctx.end)


def _arpc(ctx: Ctx) -> KpiResult:
    team = ctx.team()
    revenue = _won_lost_amount(team)[2]
    customers = _customers_active(team)
    return _result(ctx, "arpc", _div(revenue, customers), "money", numerator=revenue,
                   denominator=customers, warnings=_unpriced(team)[1],
                   details={"currency": ctx.facts.currency})


def _month_for_clv(ctx: Ctx) -> Period:
    if ctx.period.kind == "month":
        return ctx.period
    return parse_period("last-month", now=ctx.now, tz=ctx.period.tz,
                        fiscal_year_start=ctx.period.fiscal_year_start)


def _clv(ctx: Ctx) -> KpiResult:
    month = _month_for_clv(ctx)
    mctx = ctx.team().over(month)
    arpc = _arpc(mctx).value
    churn = _churn_rate(mctx).value
    clv = _div(arpc, churn)
    cac = _cost_per("cac", _cac, "new_customers")(ctx).value
    return _result(ctx, "clv", clv, "money", numerator=arpc, denominator=churn, details={
        "arpc_monthly": arpc, "monthly_churn_rate": churn, "churn_month": month.label,
        "cac": cac, "clv_to_cac": _div(clv, cac), "currency": ctx.facts.currency})


def _lead_value(ctx: Ctx) -> KpiResult:
    revenue, leads = _won_lost_amount(ctx)[2], _reached(ctx, Stage.LEAD)
    return _result(ctx, "lead-value", _div(revenue, leads), "money", numerator=revenue,
                   denominator=leads, warnings=_unpriced(ctx)[1],
                   details={"currency": ctx.facts.currency})


def _roi(ctx: Ctx) -> KpiResult:
    team = ctx.team()
    revenue, spend = _won_lost_amount(team)[2], _spend(team)
    return _result(ctx, "roi", _div(revenue - spend, spend), "multiple",
                   numerator=revenue - spend, denominator=spend, warnings=_unpriced(team)[1],
                   details={"revenue": revenue, "spend": spend, "currency": ctx.facts.currency})


# ----------------------------------------------------------------------------- inbound

def _inbound(ctx: Ctx) -> KpiResult:
    target = float(ctx.options.get("target_seconds", DEFAULT_RESPONSE_TARGET_SECONDS))
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


# ----------------------------------------------------------------------------- the catalog

def _spec(name, title, formula, unit, group, needs, compute, per_rep=False) -> KpiSpec:
    return KpiSpec(name, title, formula, unit, group, tuple(needs), compute, per_rep)


def _rate(name, title, top, bottom, group, per_rep=False) -> KpiSpec:
    return _spec(name, title, f"{top} / {bottom}", "ratio", group, [top, bottom],
                 _event_rate(name, top, bottom), per_rep)


_STAGE_EVENTS = ["lead", "mql", "sql", "opportunity", "demo-booked", "deal-won", "deal-lost"]

_SPECS = [
    _rate("delivery-rate", "Delivery rate", "email-delivered", "email-sent", "email", True),
    _rate("open-rate", "Open rate", "email-opened", "email-delivered", "email", True),
    _rate("click-rate", "Click rate", "email-clicked", "email-delivered", "email", True),
    _rate("reply-rate", "Reply rate", "email-replied", "email-delivered", "email", True),
    _rate("spam-rate", "Spam rate", "spam-complaint", "email-delivered", "email"),
    _rate("bounce-rate", "Bounce rate", "email-bounced", "email-sent", "email"),
    _rate("reply-to-discovery", "Reply to discovery", "discovery-booked", "email-replied",
          "email", True),
    _rate("demo-request-response", "Demo request response", "demo-request-replied",
          "demo-request", "inbound", True),
    _spec("demo-to-won", "Demo to won", "deals whose demo fell in P that were won / deals "
          "whose demo fell in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-won"],
          _demo_outcome("demo-to-won", "won")),
    _spec("demo-to-lost", "Demo to lost", "deals whose demo fell in P that were lost / deals "
          "whose demo fell in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-lost"],
          _demo_outcome("demo-to-lost", "lost")),
    _rate("connection-acceptance", "Connection acceptance", "connection-accepted",
          "connection-sent", "social", True),
    _rate("connection-reply", "Connection reply", "connection-replied", "connection-accepted",
          "social", True),
    _spec("website-visits", "Website visits", "website-visit events (sum of counts)", "count",
          "web", ["website-visit"], _event_count("website-visits", ("website-visit",))),
    _rate("website-bounce-rate", "Website bounce rate", "website-bounce", "website-visit",
          "web"),
    _rate("ctr", "Click-through rate", "cta-click", "website-visit", "web"),
    _spec("engagement", "Social engagement", "social-engagement events (sum of counts)",
          "count", "web", ["social-engagement"],
          _event_count("engagement", ("social-engagement",))),
    _spec("meetings", "Meetings", "meeting-booked count (and meeting-held count)", "count",
          "activity", ["meeting-booked", "meeting-held"], _meetings, True),
    _rate("show-rate", "Show rate", "meeting-held", "meeting-booked", "activity", True),
    _spec("activities", "Activities", "calls + emails sent + meetings held + demos held, per "
          "rep", "count", "activity", ["call", "email-sent", "meeting-held", "demo-held"],
          _activities, True),
    _spec("leads", "Leads", "distinct leads created in P", "count", "pipeline", ["lead"],
          _deal_count("leads", Stage.LEAD), True),
    _spec("lead-sources", "Lead sources", "leads created in P per source, and how many of "
          "them were won (cohort)", "count", "pipeline", ["lead", "deal-won"], _lead_sources),
    _spec("mql", "MQLs", "distinct deals reaching mql in P", "count", "pipeline", ["mql"],
          _deal_count("mql", Stage.MQL), True),
    _spec("sql", "SQLs", "distinct deals reaching sql in P", "count", "pipeline", ["sql"],
          _deal_count("sql", Stage.SQL), True),
    _spec("mql-to-sql", "MQL to SQL", "deals reaching mql in P that reached sql (cohort)",
          "ratio", "pipeline", ["mql", "sql"], _cohort("mql-to-sql", Stage.MQL, Stage.SQL)),
    _spec("conversion-rate", "Lead conversion", "leads created in P that were won / leads "
          "created in P (cohort)", "ratio", "pipeline", ["lead", "deal-won"],
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
    _spec("sales-cycle", "Sales cycle", "median (and mean) days from a deal's first stage "
          "event to won, deals won in P", "days", "revenue", _STAGE_EVENTS[:6], _sales_cycle),
    _spec("stage-time", "Time in stage", "per stage: median and p90 days spent, deals that "
          "left the stage in P", "days", "pipeline", _STAGE_EVENTS[:6], _stage_time),
    _spec("stalled-deals", "Stalled deals", "open deals idle in their stage longer than "
          "max(7 days, 2 × the stage's trailing-90-day median)", "count", "pipeline",
          _STAGE_EVENTS, _stalled),
    _spec("sales-velocity", "Sales velocity", "open opportunities × win rate × avg deal size "
          "/ median cycle days (trailing 90 days)", "money_per_day", "revenue",
          _STAGE_EVENTS, _velocity),
    _spec("quota-attainment", "Quota attainment", "credited won amount (or metric count) / "
          "quota; team = total / total; pace = attainment / elapsed share", "ratio", "quota",
          ["deal-won"], _quota_attainment, True),
    _spec("reps-at-quota", "Reps at quota", "reps at ≥ 100% / reps with a quota > 0",
          "ratio", "quota", ["deal-won"], _reps_at_quota),
    _spec("monthly-progress", "Monthly progress", "month-to-date revenue / the month's team "
          "quota, and vs the same days of last month", "ratio", "quota", ["deal-won"],
          _monthly_progress),
    _spec("churn-rate", "Customer churn", "customers churned in P that were customers at "
          "P's start / customers at P's start", "ratio", "customers", ["churned", "deal-won"],
          _churn_rate),
    _spec("mrr", "MRR", "active MRR at the end of P: won MRR + MRR changes − churned MRR",
          "money", "customers", ["deal-won", "mrr-change", "churned"], _mrr),
    _spec("mrr-churn", "MRR churn", "churned MRR (+ downgrades) in P / MRR at P's start",
          "ratio", "customers", ["churned", "mrr-change", "deal-won"], _mrr_churn),
    _spec("cac", "Customer acquisition cost", "spend in P / new customers (first win in P)",
          "money", "cost", ["spend", "deal-won"], _cost_per("cac", _cac, "new_customers")),
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
    _spec("arpc", "Average revenue per customer", "revenue in P / customers active in P "
          "(customers at P's start + new customers)", "money", "customers", ["deal-won"],
          _arpc),
    _spec("clv", "Customer lifetime value", "monthly ARPC / monthly churn rate (and clv:cac)",
          "money", "customers", ["deal-won", "churned", "spend"], _clv),
    _spec("lead-value", "Lead value", "revenue in P / leads created in P", "money", "revenue",
          ["deal-won", "lead"], _lead_value),
    _spec("roi", "ROI", "(revenue − spend) / spend", "multiple", "cost", ["deal-won", "spend"],
          _roi),
    _spec("inbound-response-time", "Inbound response time", "median response duration; "
          "share answered within the target (3 min); response rate", "seconds", "inbound",
          ["inbound-responded", "inbound-request"], _inbound),
    _spec("loss-reasons", "Loss reasons", "lost deals by reason and competitor", "count",
          "revenue", ["deal-lost"], _loss_reasons),
    _spec("funnel", "Funnel", "deals reaching each stage in P, stage-to-stage conversion, "
          "median days in stage, stalled deals", "ratio", "pipeline", _STAGE_EVENTS, _funnel),
]
CATALOG: dict[str, KpiSpec] = {spec.name: spec for spec in _SPECS}
LEADERBOARD_KPIS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.per_rep)
ME_KPIS = ("activities", "revenue", "deals-won", "win-rate", "quota-attainment")


def compute_kpi(name: str, *, facts: Facts, period: Period, now: datetime,
                user: str | None = None, options: Mapping[str, Any] | None = None) -> KpiResult:
    """The KPI `name` over `period` at `now`, for the team or for one rep (`user`).

    `options`: "cohort" (funnel: cohort conversion), "target_seconds" (inbound-response-time).
    Raises KeyError for a name not in CATALOG."""
    spec = CATALOG.get(name)
    if spec is None:
        raise KeyError(f"{name!r} is not a KPI in the catalog")
    result = spec.compute(Ctx(facts=facts, period=period, now=now, user=user,
                              options=dict(options or {})))
    return _with_formula(result, spec)


def _with_formula(result: KpiResult, spec: KpiSpec) -> KpiResult:
    """`result` with details["formula"]: the spec's one-line formula, unless it has its own."""
    if "formula" in result.details:
        return result
    return dataclasses.replace(result, details={**result.details, "formula": spec.formula})


def compare(current: KpiResult, previous: KpiResult | None) -> Change:
    """`current` against the previous period's result.

    Both n/a (or no previous result) → Change(None, None). The previous 0 or n/a and now > 0
    → new. Otherwise delta = current − previous (ratio units for rates) and relative =
    delta / |previous|."""
    now = current.value
    before = previous.value if previous is not None else None
    if now is None:
        return Change(None, None)
    if not before:  # 0 or n/a before
        return Change(now - (before or 0), None, new=now > 0)
    delta = now - before
    return Change(delta, delta / abs(before))


@dataclass(frozen=True)
class Compared:
    """A KPI over a period and its change, like for like (reports.periods.comparison): a
    running period's elapsed days against the same days of the previous one."""

    result: KpiResult  # over the period asked for: the figure a view shows
    current: KpiResult  # over spans.current (the same object as `result` for a whole period)
    previous: KpiResult  # over spans.previous
    spans: Comparison

    @property
    def change(self) -> Change:
        return compare(self.current, self.previous)

    def spans_json(self) -> dict[str, Any]:
        """Both spans for JSON: {"current": {...}, "previous": {...}, "partial"}, each span
        with its label, start, end and description."""
        def span(period: Period) -> dict[str, str]:
            return {"label": period.label, "start": period.start.isoformat(),
                    "end": period.end.isoformat(), "describe": period.describe()}
        return {"current": span(self.spans.current), "previous": span(self.spans.previous),
                "partial": self.spans.partial, "describe": self.spans.describe()}


def compute_compared(name: str, *, facts: Facts, period: Period, now: datetime,
                     user: str | None = None, options: Mapping[str, Any] | None = None,
                     result: KpiResult | None = None) -> Compared:
    """`compute_kpi` over `period` (or the given `result` of it) with the comparison spans
    at `now` and the KPI over each of them."""
    spans = comparison(period, now)
    def over(span: Period) -> KpiResult:
        return compute_kpi(name, facts=facts, period=span, now=now, user=user,
                           options=options)
    result = result if result is not None else over(period)
    current = over(spans.current) if spans.partial else result
    return Compared(result, current, over(spans.previous), spans)


def leaderboard(name: str, *, facts: Facts, period: Period, now: datetime,
                team: Iterable[str] = ()) -> KpiResult:
    """The KPI's per-rep rows, best first (highest value; n/a last; ties: larger numerator,
    then rep id). A rep of `team` without a row is listed with zero for a count or an amount
    (quota attainment lists the reps with a quota). Raises ValueError for a KPI not in
    LEADERBOARD_KPIS."""
    if name not in LEADERBOARD_KPIS:
        raise ValueError(f"{name!r} has no per-rep leaderboard; one of: "
                         f"{', '.join(LEADERBOARD_KPIS)}")
    result = compute_kpi(name, facts=facts, period=period, now=now)
    rows = list(result.rows)
    if result.unit in ("count", "money"):
        listed = {str(row.key) for row in rows}
        rows += [KpiRow(key=rep, value=0.0, numerator=0.0) for rep in team if rep not in listed]
    rows = sorted(rows, key=lambda r: (r.value is None, -(r.value or 0),
                                       -(r.numerator or 0), str(r.key)))
    return dataclasses.replace(result, rows=tuple(rows))


def me_summary(user: str, *, facts: Facts, period: Period, now: datetime) -> list[KpiResult]:
    """The rep's own figures: activities, revenue, deals won, win rate and quota attainment
    (the pace is in the quota result's details["pace"], per quota in its rows)."""
    return [compute_kpi(name, facts=facts, period=period, now=now, user=user)
            for name in ME_KPIS]
